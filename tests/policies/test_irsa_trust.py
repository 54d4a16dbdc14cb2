"""irsa-trust-pinned: any role trusted through an EKS OIDC provider, not only the model readers.

Source: Amazon EKS user guide, "Assign IAM roles to Kubernetes service accounts" / "Configure a role trust policy":
the trust condition is `StringEquals` on `<issuer>:sub = system:serviceaccount:<namespace>:<name>` and
`<issuer>:aud = sts.amazonaws.com`; `StringLike` with wildcards lets every matching service account assume the role.
"""

from __future__ import annotations

import json

import pytest

from .snapshots import ISSUER, OIDC_ARN, UNKNOWN, add, compliant_stack, find, resource, trust_policy

POLICY = "irsa-trust-pinned"


def _controller_role(trust: str, name: str = "cluster-karpenter-controller") -> dict:
    """A role that reads no model weights (so irsa-only-model-access never looks at it)."""
    return resource("aws:iam/role:Role", name, {"assumeRolePolicy": trust, "name": name})


def _two_statements() -> str:
    statement = json.loads(trust_policy("system:serviceaccount:karpenter:karpenter"))["Statement"][0]
    loose = json.loads(trust_policy("system:serviceaccount:kube-system:*", operator="StringLike"))["Statement"][0]
    return json.dumps({"Version": "2012-10-17", "Statement": [statement, loose]})


FIRING = {
    "sub-wildcard-with-stringlike": (trust_policy("system:serviceaccount:karpenter:*", operator="StringLike"),
                                     "StringLike on"),
    "sub-wildcard-in-stringequals": (trust_policy("system:serviceaccount:karpenter:*"), "is not one exact"),
    "two-service-accounts": (trust_policy(["system:serviceaccount:a:x", "system:serviceaccount:b:y"]),
                             "exactly one service account"),
    "no-sub": (trust_policy(sub=None), "exactly one service account (found none)"),
    "no-aud": (trust_policy(aud=None), "aud must be sts.amazonaws.com (found none)"),
    "other-aud": (trust_policy(aud="https://example.com"), "aud must be sts.amazonaws.com"),
    "second-statement-loose": (_two_statements(), "trust statement 1"),
    "sub-of-another-issuer": (trust_policy().replace(f'"{ISSUER}:sub"', '"oidc.eks.eu-west-1.amazonaws.com/id/X:sub"'),
                              "names an issuer other than"),
}


@pytest.mark.parametrize("case", sorted(FIRING))
def test_loose_trust_on_any_oidc_role_fires_naming_the_role(check, case):
    trust, expected = FIRING[case]
    result = check(add(compliant_stack(), _controller_role(trust)))
    hits = result.by_policy(POLICY)
    assert hits and all(v.enforcement_level == "mandatory" for v in hits)
    assert all("Role 'cluster-karpenter-controller'" in v.message for v in hits), [v.message for v in hits]
    assert any(expected in v.message for v in hits), [v.message for v in hits]


def test_pinned_oidc_roles_and_service_roles_are_quiet(check):
    pinned = _controller_role(trust_policy("system:serviceaccount:karpenter:karpenter"))
    service = _controller_role(json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}), "node-role")
    result = check(add(compliant_stack(), pinned, service))
    assert not result.by_policy(POLICY), [v.message for v in result.by_policy(POLICY)]


def test_model_reader_with_loose_trust_fires_too(check):
    snapshot = compliant_stack()
    find(snapshot, "aws:iam/role:Role", "models-qwen3-8b-reader")["props"]["assumeRolePolicy"] = trust_policy(
        "system:serviceaccount:llm:*", operator="StringLike")
    assert check(snapshot).by_policy(POLICY)


def test_unknown_condition_value_cannot_be_judged_yet(check):
    trust = json.loads(trust_policy())
    trust["Statement"][0]["Condition"]["StringEquals"][f"{ISSUER}:sub"] = UNKNOWN
    role = _controller_role(trust)  # a dict document: the statement is known, its condition is not
    result = check(add(compliant_stack(), role))
    assert not result.by_policy(POLICY)
    assert any(item["policy"] == POLICY and "unknown during preview" in item["reason"] for item in result.not_applicable)
    assert OIDC_ARN in json.dumps(trust)


@pytest.mark.parametrize("federated", ["arn:aws:iam::111122223333:saml-provider/corporate", 7, ["a", "b"]],
                         ids=["saml-provider", "a-number", "a-nested-list"])
def test_a_federated_principal_that_is_no_oidc_provider_is_not_irsa_trust(check, federated):
    # IAM JSON policy reference, "Principal": a SAML provider is federated too, through sts:AssumeRoleWithSAML; a
    # value that is no ARN string at all is not an OIDC provider either (and must not crash the strict pack).
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": federated}, "Action": "sts:AssumeRoleWithSAML"}]})
    result = check(add(compliant_stack(), _controller_role(trust)))
    assert not result.by_policy(POLICY), [v.message for v in result.by_policy(POLICY)]


def test_an_issuer_is_everything_after_the_first_oidc_provider_marker(check):
    """IAM identifiers: an OIDC provider's ARN is arn:aws:iam::<account>:oidc-provider/<issuer URL without https://>;
    IAM CreateOpenIDConnectProvider's Url may carry a path (its API model bounds only the length, 1-255), and
    RFC 3986 allows ':' in a path, so the issuer itself may contain ":oidc-provider/". Conditions keyed by that
    whole issuer are pinned trust; keyed by a cut-short issuer they name another one."""
    issuer = "issuer.example.com/tenant:oidc-provider/eks"
    arn = f"arn:aws:iam::123456789012:oidc-provider/{issuer}"

    def trust(key_issuer):
        return json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity", "Principal": {"Federated": arn},
            "Condition": {"StringEquals": {f"{key_issuer}:sub": "system:serviceaccount:karpenter:karpenter",
                                           f"{key_issuer}:aud": "sts.amazonaws.com"}}}]})

    quiet = check(add(compliant_stack(), _controller_role(trust(issuer))))
    assert not quiet.by_policy(POLICY), [v.message for v in quiet.by_policy(POLICY)]
    cut_short = check(add(compliant_stack(), _controller_role(trust("eks"))))
    assert any("names an issuer other than" in v.message for v in cut_short.by_policy(POLICY)), \
        [v.message for v in cut_short.by_policy(POLICY)]
