"""Security pillar, identity: IRSA-only least-privilege model reads, no Pod Identity, no IAM users, no wildcard
S3 actions."""

from __future__ import annotations

import re
from typing import Any, Mapping

from _aws import (
    MODEL_BUCKET_CONFIG, bucket_of_arn, grants, is_s3_resource, model_buckets, parse_json_document,
    statement_actions, statement_resources, statements,
)
from _stack import MANDATORY, StackView, resource_policy, stack_policy
from _values import UNKNOWN, as_list, contains_unknown, is_unknown


# ---------------------------------------------------------------------------------------------------------------
# IAM helpers shared by irsa-only-model-access and no-wildcard-model-actions
# ---------------------------------------------------------------------------------------------------------------

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_POLICY = "aws:iam/policy:Policy"
ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
USER_POLICY = "aws:iam/userPolicy:UserPolicy"


def documents_of(resource_type: str, props: Mapping) -> list[tuple[str, Any]]:
    """(where, parsed document) for every permission document a resource carries."""
    docs = []
    if resource_type in (ROLE_POLICY, IAM_POLICY, BUCKET_POLICY, USER_POLICY):
        docs.append(("policy", parse_json_document(props.get("policy"))))
    if resource_type == ROLE:
        for index, inline in enumerate(as_list(props.get("inlinePolicies"))):
            if isinstance(inline, Mapping):
                docs.append((f"inlinePolicies[{index}].policy", parse_json_document(inline.get("policy"))))
    return docs


def role_documents(view: StackView, role) -> list[tuple[Any, str, Any]]:
    """(resource, where, document) for all permission documents attached to a role."""
    roles = view.of_type(ROLE)
    result = [(role, where, doc) for where, doc in documents_of(ROLE, view.p(role))]
    for role_policy in view.of_type(ROLE_POLICY):
        if role in view.related(role_policy, "role", roles):
            result.extend((role_policy, where, doc) for where, doc in documents_of(ROLE_POLICY, view.p(role_policy)))
    policies = view.of_type(IAM_POLICY)
    for attachment in view.of_type(ROLE_POLICY_ATTACHMENT):
        if role not in view.related(attachment, "role", roles):
            continue
        for policy in view.related(attachment, "policyArn", policies):
            result.extend((policy, where, doc) for where, doc in documents_of(IAM_POLICY, view.p(policy)))
    return result


def _model_bucket_names(view: StackView, config) -> tuple[set[str], bool]:
    """Explicit physical names/prefixes of model buckets, and whether some model bucket is auto-named."""
    names, auto_named = set(), False
    for bucket in model_buckets(view, config):
        props = view.p(bucket)
        name = props.get("bucket") or props.get("bucketPrefix")
        if isinstance(name, str) and not is_unknown(name):
            names.add(name)
        else:
            auto_named = True
    return names, auto_named


def _touches_model_bucket(resources: list[str], names: set[str], any_s3: bool) -> bool:
    for resource in resources:
        if not is_s3_resource(resource):
            continue
        if resource == "*" or any_s3:
            return True
        bucket = bucket_of_arn(resource) or ""
        if any(bucket == n or bucket.startswith(n) or "*" in bucket for n in names):
            return True
    return False


# ---------------------------------------------------------------------------------------------------------------
# irsa-only-model-access
# ---------------------------------------------------------------------------------------------------------------

IRSA_CONFIG = {
    **MODEL_BUCKET_CONFIG,
    "allowedActions": {"type": "array", "items": {"type": "string"}, "default": ["s3:GetObject", "s3:ListBucket"],
                       "description": "Actions a model-reading role may hold (kms:Decrypt is allowed only with "
                                      "a kms:ViaService s3 condition)."},
    "requireListBucketPrefixCondition": {"type": "boolean", "default": True,
                                         "description": "s3:ListBucket must carry an s3:prefix condition inside "
                                                        "the role's one prefix."},
}


def _trust_problems(document: Any) -> list[str]:
    problems = []
    allow = [s for s in statements(document) if s.get("Effect") == "Allow"]
    if not allow:
        return ["the trust policy allows nobody"]
    for index, statement in enumerate(allow):
        actions = statement_actions(statement)
        principal = statement.get("Principal") or {}
        federated = as_list(principal.get("Federated")) if isinstance(principal, Mapping) else []
        if actions != ["sts:AssumeRoleWithWebIdentity"]:
            problems.append(f"trust statement {index} allows {actions or statement.get('NotAction')}, "
                            "only sts:AssumeRoleWithWebIdentity is allowed")
        only_oidc = bool(federated) and all(isinstance(f, str) and (":oidc-provider/" in f or is_unknown(f))
                                            for f in federated)
        other_principals = isinstance(principal, Mapping) and set(principal) - {"Federated"}
        if not only_oidc or other_principals:
            problems.append(f"trust statement {index} principal {principal} is not an EKS OIDC provider")
        condition = statement.get("Condition") or {}
        string_equals = condition.get("StringEquals") or {}
        subs = {k: v for k, v in string_equals.items() if k.endswith(":sub")}
        auds = {k: v for k, v in string_equals.items() if k.endswith(":aud")}
        for operator, clauses in condition.items():
            if operator != "StringEquals" and isinstance(clauses, Mapping) and \
                    any(k.endswith(":sub") or k.endswith(":aud") for k in clauses):
                problems.append(f"trust statement {index} uses {operator} on sub/aud; use StringEquals")
        sub_values = [v for value in subs.values() for v in as_list(value)]
        if len(sub_values) != 1:
            problems.append(f"trust statement {index} must bind exactly one service account with "
                            f"StringEquals <issuer>:sub (found {sub_values or 'none'})")
        else:
            sub = sub_values[0]
            if not isinstance(sub, str) or not re.fullmatch(r"system:serviceaccount:[a-z0-9.-]+:[a-z0-9.-]+", sub):
                problems.append(f"trust statement {index} sub {sub!r} is not one exact "
                                "system:serviceaccount:<namespace>:<name>")
        aud_values = [v for value in auds.values() for v in as_list(value)]
        if aud_values != ["sts.amazonaws.com"]:
            problems.append(f"trust statement {index} must require StringEquals <issuer>:aud = sts.amazonaws.com "
                            f"(found {aud_values or 'none'})")
    return problems


def _object_prefix(resource: str) -> Any:
    match = re.match(r"^arn:aws[\w-]*:s3:::([^/]+)/(.*)$", resource)
    if not match:
        return None
    key = match.group(2)
    return (match.group(1), key[:-1] if key.endswith("*") else key)


def _overlaps_prefix(listed: str, prefixes: set[tuple[str, str]]) -> bool:
    """An s3:prefix condition value inside (or enclosing) one of the role's object prefixes."""
    return any(listed.startswith(p.rstrip('*')) or p.startswith(listed.rstrip('*')) for _, p in prefixes)


def _permission_problems(docs: list[tuple[Any, str, Any]], config) -> list[str]:
    problems, prefixes = [], set()
    allowed = [a.lower() for a in config["allowedActions"]]
    list_statements = []
    for resource, where, document in docs:
        for statement in statements(document):
            if statement.get("Effect") != "Allow":
                continue
            if "NotAction" in statement:
                problems.append(f"{resource.name}.{where} uses NotAction in an Allow statement")
                continue
            resources = statement_resources(statement)
            for action in statement_actions(statement):
                lowered = action.lower()
                if lowered == "kms:decrypt":
                    via = [v for clauses in (statement.get("Condition") or {}).values() if isinstance(clauses, Mapping)
                           for k, value in clauses.items() if k.lower() == "kms:viaservice" for v in as_list(value)]
                    if not via or not all(isinstance(v, str) and v.startswith("s3.") for v in via):
                        problems.append(f"{resource.name}.{where} allows kms:Decrypt without a kms:ViaService "
                                        "s3.<region>.amazonaws.com condition")
                    continue
                if "*" in action or "?" in action or lowered not in allowed:
                    problems.append(f"{resource.name}.{where} allows {action}; a model-reading role may only hold "
                                    f"{config['allowedActions']} (+ kms:Decrypt via S3)")
                    continue
                if lowered == "s3:getobject":
                    for r in resources:
                        prefix = _object_prefix(r)
                        if prefix is None:
                            problems.append(f"{resource.name}.{where} allows s3:GetObject on {r!r}, not on one "
                                            "object prefix")
                        else:
                            prefixes.add(prefix)
                if lowered == "s3:listbucket":
                    list_statements.append((resource, where, statement))
    # Several prefixes are allowed (a model and its LoRA adapters share the pod's role); that the role reads exactly
    # what its pods load is `pod-reads-within-role` (model_reads.py).
    for bucket, prefix in prefixes:
        if prefix.strip("/") == "" or "*" in prefix:
            problems.append(f"s3:GetObject covers the whole bucket {bucket!r}; restrict it to the model's prefix")
    if config["requireListBucketPrefixCondition"]:
        for resource, where, statement in list_statements:
            values = [v for clauses in (statement.get("Condition") or {}).values() if isinstance(clauses, Mapping)
                      for k, value in clauses.items() if k.lower() == "s3:prefix" for v in as_list(value)]
            if not values:
                problems.append(f"{resource.name}.{where} allows s3:ListBucket without an s3:prefix condition")
            elif prefixes and not all(isinstance(v, str) and _overlaps_prefix(v, prefixes) for v in values):
                problems.append(f"{resource.name}.{where} lists prefixes {values} outside the role's object prefix")
    return problems


def _check_irsa_only(view: StackView, config, findings, args):
    names, auto_named = _model_bucket_names(view, config)
    buckets_present = bool(model_buckets(view, config))
    any_s3 = auto_named or not buckets_present
    for role in view.of_type(ROLE):
        docs = role_documents(view, role)
        reads_model = False
        for _, where, document in docs:
            if contains_unknown(document):
                findings.cannot_judge(f"{role.name}.{where}")
                continue
            for statement in statements(document):
                if grants(statement, "s3:GetObject") and _touches_model_bucket(statement_resources(statement),
                                                                              names, any_s3):
                    reads_model = True
        if not reads_model:
            continue
        trust = parse_json_document(view.p(role).get("assumeRolePolicy"))
        if trust is UNKNOWN:
            findings.cannot_judge(f"{role.name}.assumeRolePolicy")
        else:
            for problem in _trust_problems(trust):
                findings.fail(f"Role '{role.name}' reads model weights but its trust policy is not IRSA for one "
                              f"service account: {problem}.", role.urn)
        known_docs = [(r, w, d) for r, w, d in docs if d not in (None, UNKNOWN)]
        for problem in _permission_problems(known_docs, config):
            findings.fail(f"Role '{role.name}' reads model weights with more than least privilege: {problem}.",
                          role.urn)


irsa_only_model_access = stack_policy(
    name="irsa-only-model-access",
    description="A role that reads model weights is an IRSA role for one service account, reading named prefixes only.",
    enforcement_level=MANDATORY,
    check=_check_irsa_only,
    config=IRSA_CONFIG,
)


# ---------------------------------------------------------------------------------------------------------------
# no-pod-identity, no-iam-users
# ---------------------------------------------------------------------------------------------------------------

def _check_no_pod_identity(resource_type, props, config, findings, args):
    if resource_type == "aws:eks/podIdentityAssociation:PodIdentityAssociation":
        findings.fail("EKS Pod Identity associations are not allowed: this stack is IRSA-only (annotate the "
                      "service account with an IRSA role instead).")


no_pod_identity = resource_policy(
    name="no-pod-identity",
    description="Pods get AWS access through IRSA only; EKS Pod Identity associations are rejected.",
    enforcement_level=MANDATORY,
    check=_check_no_pod_identity,
)

IAM_USER_TYPES = ("aws:iam/user:User", "aws:iam/accessKey:AccessKey", "aws:iam/userPolicy:UserPolicy",
                  "aws:iam/userPolicyAttachment:UserPolicyAttachment", "aws:iam/userLoginProfile:UserLoginProfile")


def _check_no_iam_users(resource_type, props, config, findings, args):
    if resource_type in IAM_USER_TYPES:
        findings.fail(f"{resource_type} creates long-lived IAM user credentials; use IAM roles (IRSA for pods).")


no_iam_users = resource_policy(
    name="no-iam-users",
    description="No IAM users, access keys or login profiles: every identity is a role with temporary credentials.",
    enforcement_level=MANDATORY,
    check=_check_no_iam_users,
)


# ---------------------------------------------------------------------------------------------------------------
# no-wildcard-model-actions
# ---------------------------------------------------------------------------------------------------------------

def _check_no_wildcards(resource_type, props, config, findings, args):
    for where, document in documents_of(resource_type, props):
        if document is UNKNOWN:
            findings.cannot_judge(where)
            continue
        for index, statement in enumerate(statements(document)):
            if statement.get("Effect") != "Allow":
                continue  # Deny s3:* (e.g. the TLS-only rule) is fine
            resources = statement_resources(statement)
            if not any(is_s3_resource(r) for r in resources) and not ("NotResource" in statement):
                continue
            if "NotAction" in statement:
                findings.fail(f"{where} statement {index} allows NotAction on S3 resources; list actions explicitly.")
                continue
            wild = [a for a in statement_actions(statement)
                    if a == "*" or (a.lower().startswith("s3:") and ("*" in a or "?" in a))]
            if wild:
                findings.fail(f"{where} statement {index} allows wildcard actions {wild} on {resources}; grant "
                              "explicit actions (s3:GetObject, s3:ListBucket).")


no_wildcard_model_actions = resource_policy(
    name="no-wildcard-model-actions",
    description="IAM and bucket policies never allow wildcard actions (*, s3:*, s3:Get*) on S3 resources.",
    enforcement_level=MANDATORY,
    check=_check_no_wildcards,
)


POLICIES = [
    irsa_only_model_access,
    no_pod_identity,
    no_iam_users,
    no_wildcard_model_actions,
]
