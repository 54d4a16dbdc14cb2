"""Security pillar, identity: every role trusted through an EKS OIDC provider is pinned to one service account.

IRSA (IAM roles for service accounts, EKS user guide "Configure a role trust policy"): the trust statement allows
`sts:AssumeRoleWithWebIdentity` from the cluster's `oidc-provider/<issuer>` with `StringEquals` on
`<issuer>:sub = system:serviceaccount:<namespace>:<name>` and `<issuer>:aud = sts.amazonaws.com`. A wildcard or
`StringLike` on `sub` lets every matching service account (any pod that may create one) take the role; a missing `aud`
accepts tokens minted for other audiences. This holds for every such role (Karpenter, the Load Balancer Controller,
KEDA, the EBS CSI driver, model readers and syncers), whatever it is allowed to do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from _aws import parse_json_document, statement_actions, statements
from _stack import MANDATORY, resource_policy
from _values import UNKNOWN, as_list, is_unknown

ROLE = "aws:iam/role:Role"
WEB_IDENTITY = "sts:assumerolewithwebidentity"
SERVICE_ACCOUNT = re.compile(r"system:serviceaccount:[a-z0-9]([-a-z0-9.]*[a-z0-9])?:[a-z0-9]([-a-z0-9.]*[a-z0-9])?")


def _federated(statement: Mapping) -> list[Any]:
    principal = statement.get("Principal")
    return as_list(principal.get("Federated")) if isinstance(principal, Mapping) else []


def _oidc_trusted(statement: Mapping) -> bool:
    """Trust through an OIDC provider: a Federated oidc-provider principal, or the web-identity action itself."""
    if statement.get("Effect") != "Allow":
        return False
    oidc = any(isinstance(f, str) and (":oidc-provider/" in f or is_unknown(f)) for f in _federated(statement))
    return oidc or any(a.lower() == WEB_IDENTITY for a in statement_actions(statement))


def _issuers(statement: Mapping) -> set[str]:
    return {f.split(":oidc-provider/", 1)[1] for f in _federated(statement)
            if isinstance(f, str) and ":oidc-provider/" in f}


def _clauses(statement: Mapping, suffix: str) -> list[tuple[str, str, Any]]:
    """(operator, key, value) of every condition clause on `<issuer>:<suffix>`."""
    condition = statement.get("Condition") or {}
    if not isinstance(condition, Mapping):
        return []
    return [(operator, key, value) for operator, clauses in condition.items() if isinstance(clauses, Mapping)
            for key, value in clauses.items() if isinstance(key, str) and key.lower().endswith(":" + suffix)]


def statement_problems(statement: Mapping) -> list[str]:
    problems = []
    issuers = _issuers(statement)
    for suffix, expected in (("sub", None), ("aud", "sts.amazonaws.com")):
        clauses = _clauses(statement, suffix)
        for operator, key, _ in clauses:
            if operator != "StringEquals":
                problems.append(f"{operator} on {key} (only StringEquals pins it)")
            elif issuers and key[: -len(suffix) - 1] not in issuers:
                problems.append(f"{key} names an issuer other than the trusted provider {sorted(issuers)}")
        values = [v for operator, _, value in clauses if operator == "StringEquals" for v in as_list(value)]
        if suffix == "sub":
            if len(values) != 1:
                problems.append(f"StringEquals <issuer>:sub must name exactly one service account (found "
                                f"{values or 'none'})")
            elif not isinstance(values[0], str) or not SERVICE_ACCOUNT.fullmatch(values[0]):
                problems.append(f"sub {values[0]!r} is not one exact system:serviceaccount:<namespace>:<name>")
        elif values != [expected]:
            problems.append(f"StringEquals <issuer>:aud must be {expected} (found {values or 'none'})")
    return problems


def _check_irsa_trust_pinned(resource_type, props, config, findings, args):
    if resource_type != ROLE:
        return
    trust = parse_json_document(props.get("assumeRolePolicy"))
    if trust is UNKNOWN:
        findings.cannot_judge(f"{args.name}.assumeRolePolicy")
        return
    for index, statement in enumerate(statements(trust)):
        if not _oidc_trusted(statement):
            continue
        for problem in statement_problems(statement):
            findings.fail(f"Role '{args.name}' is trusted through an EKS OIDC provider but not pinned to one service "
                          f"account (trust statement {index}): {problem}.")


irsa_trust_pinned = resource_policy(
    name="irsa-trust-pinned",
    description="Every role trusted through an EKS OIDC provider pins `sub` to exactly one "
                "system:serviceaccount:<ns>:<name> with StringEquals and `aud` to sts.amazonaws.com.",
    enforcement_level=MANDATORY,
    check=_check_irsa_trust_pinned,
)

POLICIES = [irsa_trust_pinned]
