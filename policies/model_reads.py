"""Security pillar, model reads: every S3 prefix a serving pod is told to read is one its IRSA role may read, and the
role may read nothing its pods do not.

A pod reads S3 through the role whose trust policy names its service account (`system:serviceaccount:<ns>:<sa>`).
What it is told to read is in its containers: `s3://` URLs in vLLM's arguments (the Run:ai streamer) and the sources
of `aws s3 cp|sync` in its init containers. A prefix the role does not grant is an AccessDenied when the pod starts,
which nothing before `pulumi up` would otherwise show; a prefix granted but never read is privilege beyond need.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any, Optional

from _aws import grants, parse_json_document, statement_resources, statements
from _kubernetes import DEPLOYMENT, command_unknown, container_label, containers, containers_unknown, namespace_of, \
    pod_spec
from _stack import MANDATORY, StackView, stack_policy
from _values import UNKNOWN, as_list, contains_unknown, is_unknown
from security_identity import ROLE, role_documents

SERVING_WORKLOADS = (DEPLOYMENT, "kubernetes:apps/v1:StatefulSet")
_S3_URL = re.compile(r"^s3://([^/]+)/?(.*)$")
_OBJECT_ARN = re.compile(r"^arn:aws[\w-]*:s3:::([^/]+)/(.*)$")
_COPY_COMMANDS = ("cp", "sync", "mv")


def _shell_tokens(container: Mapping) -> list[str]:
    tokens: list[str] = []
    for part in ("command", "args"):
        for item in as_list(container.get(part)):
            if isinstance(item, str) and not is_unknown(item):
                try:
                    tokens.extend(shlex.split(item))
                except ValueError:
                    tokens.extend(item.split())
    return tokens


def _read_urls(tokens: list[str]) -> list[str]:
    """Every `s3://` token except the destination of `aws s3 cp|sync|mv` (that one is written, not read)."""
    written: set[int] = set()
    for index, token in enumerate(tokens[:-1]):
        if token == "s3" and tokens[index + 1] in _COPY_COMMANDS:
            positional = [i for i in range(index + 2, len(tokens)) if not tokens[i].startswith("-")][:2]
            if len(positional) == 2:
                written.add(positional[1])
    return [token for index, token in enumerate(tokens) if token.startswith("s3://") and index not in written]


def _bucket(name: str, container: Mapping) -> Any:
    """A literal bucket, or the value of `$VAR` / `${VAR}` from the container's env; UNKNOWN when not known."""
    variable = re.fullmatch(r"\$\{?(\w+)\}?", name)
    if not variable:
        return name
    for entry in as_list(container.get("env")):
        if isinstance(entry, Mapping) and entry.get("name") == variable.group(1):
            value = entry.get("value")
            return value if isinstance(value, str) and not is_unknown(value) else UNKNOWN
    return UNKNOWN


def pod_reads(spec: Any) -> list[tuple[str, Any, str]]:
    """(container, bucket or UNKNOWN, key prefix) for every S3 location a pod's containers are told to read."""
    reads = []
    for container in containers(spec):
        for url in _read_urls(_shell_tokens(container)):
            match = _S3_URL.match(url)
            if match:
                reads.append((container_label(container), _bucket(match.group(1), container), match.group(2).strip("/")))
    return reads


def granted_prefixes(docs: list[tuple[Any, str, Any]]) -> list[tuple[str, str]]:
    """(bucket pattern, key pattern) of every object resource the role's documents allow s3:GetObject on."""
    granted = []
    for _, _, document in docs:
        for statement in statements(document):
            if grants(statement, "s3:GetObject"):
                for resource in statement_resources(statement):
                    match = _OBJECT_ARN.match(resource)
                    if match:
                        granted.append((match.group(1), match.group(2)))
                    elif resource == "*":
                        granted.append(("*", "*"))
    return granted


def _covers(grant: tuple[str, str], bucket: Any, prefix: str) -> bool:
    """Does `bucket/key` grant cover every object under `prefix/` (the way a sync or the streamer lists and reads)?"""
    grant_bucket, key = grant
    if bucket is not UNKNOWN and not re.fullmatch(re.escape(grant_bucket).replace(r"\*", ".*"), bucket):
        return False
    return key == "*" or (key.endswith("*") and f"{prefix}/".startswith(key[:-1]))


def _trusted_service_account(trust: Any) -> Optional[str]:
    for statement in statements(trust):
        for clauses in (statement.get("Condition") or {}).values():
            if isinstance(clauses, Mapping):
                subs = [v for k, value in clauses.items() if k.endswith(":sub") for v in as_list(value)]
                if len(subs) == 1 and isinstance(subs[0], str):
                    return subs[0]
    return None


def _roles_by_service_account(view: StackView, findings) -> dict[str, list[Any]]:
    roles: dict[str, list[Any]] = {}
    for role in view.of_type(ROLE):
        trust = parse_json_document(view.p(role).get("assumeRolePolicy"))
        if trust is UNKNOWN:
            findings.cannot_judge(f"{role.name}.assumeRolePolicy")
            continue
        subject = _trusted_service_account(trust)
        if subject:
            roles.setdefault(subject, []).append(role)
    return roles


def _check_pod_reads(view: StackView, config, findings, args):
    roles = _roles_by_service_account(view, findings)
    reads_by_role: dict[str, list[tuple[str, Any, str]]] = {}
    undecided_reads = False  # a pod whose reads or role are unknown yet: no role's grant can be called unused
    for workload in view.of_type(*SERVING_WORKLOADS):
        props = view.p(workload)
        spec = pod_spec(workload.resource_type, props)
        if is_unknown(spec) or containers_unknown(spec) \
                or any(command_unknown(c) or contains_unknown(c.get("env")) for c in containers(spec)):
            findings.cannot_judge(f"{workload.resource_type} '{workload.name}' containers")
            undecided_reads = True
            continue
        if not isinstance(spec, Mapping):
            continue
        reads = pod_reads(spec)
        namespace, account = namespace_of(props), spec.get("serviceAccountName") or "default"
        if not reads:
            continue
        if is_unknown(namespace) or is_unknown(account):
            findings.cannot_judge(f"{workload.resource_type} '{workload.name}' service account")
            undecided_reads = True
            continue
        for role in roles.get(f"system:serviceaccount:{namespace or 'default'}:{account}", []):
            docs = role_documents(view, role)
            if any(contains_unknown(document) for _, _, document in docs):
                findings.cannot_judge(f"{role.name} permissions")
                continue
            granted = granted_prefixes(docs)
            reads_by_role.setdefault(role.urn, []).extend(reads)
            for container, bucket, prefix in reads:
                if bucket is UNKNOWN and any(_covers(grant, bucket, prefix) for grant in granted):
                    findings.cannot_judge(f"{workload.resource_type} '{workload.name}' {container} bucket")
                elif not any(_covers(grant, bucket, prefix) for grant in granted):
                    location = f"s3://{'<unknown bucket>' if bucket is UNKNOWN else bucket}/{prefix}"
                    findings.fail(
                        f"{workload.resource_type} '{workload.name}' {container} reads {location}, but its role "
                        f"'{role.name}' (service account {namespace}/{account}) may read only "
                        f"{sorted('/'.join(grant) for grant in granted) or 'nothing in S3'}: an AccessDenied when the "
                        "pod starts. Grant the role read on that prefix (e.g. the model's LoRA adapters).",
                        workload.urn,
                    )
    for role in view.of_type(ROLE):
        reads = reads_by_role.get(role.urn)
        if not reads:
            continue
        if undecided_reads:
            findings.cannot_judge(f"{role.name}: what every pod reads")
            continue
        for grant in granted_prefixes(role_documents(view, role)):
            if not any(_covers(grant, bucket, prefix) and grant[1].startswith(prefix) for _, bucket, prefix in reads):
                findings.fail(
                    f"Role '{role.name}' may read s3://{'/'.join(grant)}, which none of its pods is told to read: "
                    "grant only the prefixes the pods load (the model and its adapters).",
                    role.urn,
                )


pod_reads_within_role = stack_policy(
    name="pod-reads-within-role",
    description="Every S3 prefix a serving pod is told to read is readable by its IRSA role, and the role reads "
                "nothing else.",
    enforcement_level=MANDATORY,
    check=_check_pod_reads,
)

POLICIES = [pod_reads_within_role]
