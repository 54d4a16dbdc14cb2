"""Security pillar, data at rest and in transit: the model-weights bucket is encrypted, versioned, private and
TLS-only; EKS encrypts Kubernetes secrets."""

from __future__ import annotations

from typing import Mapping

from _aws import (
    BUCKET_POLICY, BUCKET_TYPES, EKS_CLUSTER, EKS_COMPONENT, MODEL_BUCKET_CONFIG, action_matches, maybe_model_buckets, model_buckets,
    parse_json_document, statement_actions, statements,
)
from _stack import MANDATORY, StackView, resource_policy, stack_policy
from _values import UNKNOWN, as_bool, as_list, get, is_unknown


# ---------------------------------------------------------------------------------------------------------------
# Model bucket: encrypted, versioned, public access blocked, TLS only
# ---------------------------------------------------------------------------------------------------------------

SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
SSE_V2 = "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
VERSIONING_V2 = "aws:s3/bucketVersioningV2:BucketVersioningV2"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"


def _bucket_companions(view: StackView, bucket, types: tuple[str, ...]) -> list:
    buckets = view.of_type(*BUCKET_TYPES)
    return [r for r in view.of_type(*types) if bucket in view.related(r, "bucket", buckets)]


def _bucket_check(judge, what: str):
    def check(view: StackView, config, findings, args):
        for bucket in maybe_model_buckets(view, config):
            findings.cannot_judge(f"{bucket.name} tags (is it the model bucket?)")
        for bucket in model_buckets(view, config):
            verdict = judge(view, bucket, config)
            if verdict is UNKNOWN:
                findings.cannot_judge(f"{bucket.name} {what}")
            elif verdict:
                findings.fail(f"Model bucket '{bucket.name}': {verdict}", bucket.urn)
    return check


def _judge_encrypted(view, bucket, config):
    unknown = False
    inline = view.p(bucket).get("serverSideEncryptionConfiguration")
    candidates = [view.p(r) for r in _bucket_companions(view, bucket, (SSE, SSE_V2))]
    if isinstance(inline, Mapping):
        candidates.append({"rules": as_list(get(inline, "rule")) or as_list(get(inline, "rules"))})
    for props in candidates:
        if is_unknown(props.get("rules")):
            unknown = True
        for rule in as_list(props.get("rules")):
            algorithm = get(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm")
            if is_unknown(algorithm):
                unknown = True
            elif algorithm in ("aws:kms", "aws:kms:dsse"):
                if config["requireCustomerManagedKey"]:
                    key = get(rule, "applyServerSideEncryptionByDefault", "kmsMasterKeyId")
                    if not key and not is_unknown(key):
                        continue
                return None
    if unknown:
        return UNKNOWN
    return ("no server-side encryption with SSE-KMS (a BucketServerSideEncryptionConfiguration with sseAlgorithm "
            "aws:kms" + (" and a kmsMasterKeyId" if config["requireCustomerManagedKey"] else "") + ").")


ENCRYPTION_CONFIG = {**MODEL_BUCKET_CONFIG,
                     "requireCustomerManagedKey": {"type": "boolean", "default": True,
                                                   "description": "The rule must name a KMS key (kmsMasterKeyId)."}}

model_bucket_encrypted = stack_policy(
    name="model-bucket-encrypted",
    description="The model-weights bucket is encrypted with SSE-KMS under a named KMS key.",
    enforcement_level=MANDATORY,
    check=_bucket_check(_judge_encrypted, "encryption"),
    config=ENCRYPTION_CONFIG,
)


def _judge_versioned(view, bucket, config):
    unknown = False
    for companion in _bucket_companions(view, bucket, (VERSIONING, VERSIONING_V2)):
        status = get(view.p(companion), "versioningConfiguration", "status")
        if is_unknown(status):
            unknown = True
        elif status == "Enabled":
            return None
    inline = as_bool(get(view.p(bucket), "versioning", "enabled"))
    if inline is True:
        return None
    if unknown:
        return UNKNOWN
    return "versioning is not enabled (add a BucketVersioning with versioningConfiguration.status: Enabled)."


model_bucket_versioned = stack_policy(
    name="model-bucket-versioned",
    description="The model-weights bucket has versioning enabled, so overwritten weights can be restored.",
    enforcement_level=MANDATORY,
    check=_bucket_check(_judge_versioned, "versioning"),
    config=MODEL_BUCKET_CONFIG,
)

PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def _judge_public_access(view, bucket, config):
    blocks = _bucket_companions(view, bucket, (PUBLIC_ACCESS_BLOCK,))
    if not blocks:
        return "no BucketPublicAccessBlock (all four flags must be true)."
    unknown = False
    for block in blocks:
        flags = {f: as_bool(view.p(block).get(f)) for f in PUBLIC_ACCESS_FLAGS}
        if all(v is True for v in flags.values()):
            return None
        if any(is_unknown(v) for v in flags.values()):
            unknown = True
    if unknown:
        return UNKNOWN
    missing = [f for f in PUBLIC_ACCESS_FLAGS if as_bool(view.p(blocks[0]).get(f)) is not True]
    return f"public access is not fully blocked: {missing} must be true."


model_bucket_public_access_blocked = stack_policy(
    name="model-bucket-public-access-blocked",
    description="The model-weights bucket has a BucketPublicAccessBlock with all four flags true.",
    enforcement_level=MANDATORY,
    check=_bucket_check(_judge_public_access, "public access block"),
    config=MODEL_BUCKET_CONFIG,
)


def _denies_insecure_transport(document) -> bool:
    for statement in statements(document):
        if statement.get("Effect") != "Deny":
            continue
        principal = statement.get("Principal")
        if principal not in ("*", {"AWS": "*"}, {"AWS": ["*"]}):
            continue
        if not any(action_matches(a, "s3:GetObject") for a in statement_actions(statement)):
            continue
        for operator, clauses in (statement.get("Condition") or {}).items():
            if operator != "Bool" or not isinstance(clauses, Mapping):
                continue
            for key, value in clauses.items():
                if key.lower() == "aws:securetransport" and \
                        any(str(v).lower() == "false" for v in as_list(value)):
                    return True
    return False


def _judge_tls_only(view, bucket, config):
    unknown = False
    for policy in _bucket_companions(view, bucket, (BUCKET_POLICY,)):
        document = parse_json_document(view.p(policy).get("policy"))
        if document is UNKNOWN:
            unknown = True
        elif _denies_insecure_transport(document):
            return None
    if unknown:
        return UNKNOWN
    return ("no bucket policy denies requests with aws:SecureTransport = false (Deny s3:* to Principal * with "
            "Condition Bool aws:SecureTransport false).")


model_bucket_tls_only = stack_policy(
    name="model-bucket-tls-only",
    description="The model-weights bucket policy denies every request not made over TLS.",
    enforcement_level=MANDATORY,
    check=_bucket_check(_judge_tls_only, "bucket policy"),
    config=MODEL_BUCKET_CONFIG,
)


# ---------------------------------------------------------------------------------------------------------------
# eks-secrets-encrypted
# ---------------------------------------------------------------------------------------------------------------

def _check_secrets_encrypted(resource_type, props, config, findings, args):
    if resource_type == EKS_COMPONENT:
        if "encryptionConfigKeyArn" not in props:
            return  # a remote component's inputs may be absent; its aws:eks/cluster:Cluster child is judged
        key = props["encryptionConfigKeyArn"]
        if is_unknown(key):
            findings.cannot_judge("encryptionConfigKeyArn")
        elif not key:
            findings.fail("encryptionConfigKeyArn is not set; Kubernetes secrets must be envelope-encrypted "
                          "with a KMS key.")
    elif resource_type == EKS_CLUSTER:
        encryption = props.get("encryptionConfig")
        if is_unknown(encryption):
            findings.cannot_judge("encryptionConfig")
            return
        configs = as_list(encryption)
        for item in configs:
            resources = get(item, "resources")
            key = get(item, "provider", "keyArn")
            if is_unknown(resources):
                findings.cannot_judge("encryptionConfig.resources")
                return
            if "secrets" in as_list(resources) and key:
                return
        findings.fail("encryptionConfig does not encrypt resources [\"secrets\"] with a KMS key (provider.keyArn).")


eks_secrets_encrypted = resource_policy(
    name="eks-secrets-encrypted",
    description="EKS envelope-encrypts Kubernetes secrets with a KMS key.",
    enforcement_level=MANDATORY,
    check=_check_secrets_encrypted,
)


POLICIES = [
    model_bucket_encrypted,
    model_bucket_versioned,
    model_bucket_public_access_blocked,
    model_bucket_tls_only,
    eks_secrets_encrypted,
]
