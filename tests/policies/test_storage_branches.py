"""Side branches of policies/security_storage.py, each with a firing and a quiet case, the whole verdict stated."""

from __future__ import annotations

import json

import pytest

from .branch_cases import BUCKET, BUCKET_POLICY, EKS_CLUSTER, EKS_COMPONENT, KEY, SSE, run_case
from .snapshots import UNKNOWN, find, remove, resource, tls_only_policy

# ---------------------------------------------------------------------------------------------------------------
# security_storage.py
# ---------------------------------------------------------------------------------------------------------------

ENCRYPTION_MESSAGE = ("Model bucket 'models-weights': no server-side encryption with SSE-KMS (a "
                      "BucketServerSideEncryptionConfiguration with sseAlgorithm aws:kms and a kmsMasterKeyId).")
TLS_MESSAGE = ("Model bucket 'models-weights': no bucket policy denies requests with aws:SecureTransport = false "
               "(Deny s3:* to Principal * with Condition Bool aws:SecureTransport false).")


def _sse_default(**default):
    return lambda s: find(s, SSE)["props"]["rules"][0].__setitem__("applyServerSideEncryptionByDefault", default)


def _inline_sse(key: str, **default):
    """The legacy aws.s3.Bucket's inline serverSideEncryptionConfiguration (Pulumi AWS provider, aws.s3.Bucket
    inputs: `rule` is one object holding applyServerSideEncryptionByDefault), and no separate resource."""
    def mutate(s):
        remove(s, SSE)
        find(s, BUCKET)["props"]["serverSideEncryptionConfiguration"] = {
            key: {"applyServerSideEncryptionByDefault": default}}
    return mutate


def _tls_statement(**changes):
    """The TLS-only statement with some fields changed (None removes one). Shape from the S3 user guide, "Bucket
    policy examples": Deny s3:* to Principal * when aws:SecureTransport is false."""
    def mutate(s):
        document = json.loads(tls_only_policy())
        for key, value in changes.items():
            if value is None:
                document["Statement"][0].pop(key)
            else:
                document["Statement"][0][key] = value
        find(s, BUCKET_POLICY)["props"]["policy"] = json.dumps(document)
    return mutate


def _pab_flag(value):
    return lambda s: find(s, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")["props"].__setitem__(
        "ignorePublicAcls", value)


def _cluster_encryption(value):
    return lambda s: find(s, EKS_CLUSTER)["props"].__setitem__("encryptionConfig", value)


SECRETS_MESSAGE = 'encryptionConfig does not encrypt resources ["secrets"] with a KMS key (provider.keyArn).'

STORAGE_CASES = [
    ("sse-inline-rule", "model-bucket-encrypted", _inline_sse("rule", sseAlgorithm="aws:kms", kmsMasterKeyId=KEY),
     None, [], []),
    ("sse-inline-rules", "model-bucket-encrypted", _inline_sse("rules", sseAlgorithm="aws:kms", kmsMasterKeyId=KEY),
     None, [], []),
    ("sse-inline-s3-managed", "model-bucket-encrypted", _inline_sse("rule", sseAlgorithm="AES256"), None,
     [ENCRYPTION_MESSAGE], []),
    # SSE-KMS and dual-layer SSE-KMS ("Using dual-layer server-side encryption with AWS KMS keys", S3 user guide:
    # sseAlgorithm aws:kms:dsse) both keep the key in KMS.
    ("sse-dsse", "model-bucket-encrypted", _sse_default(sseAlgorithm="aws:kms:dsse", kmsMasterKeyId=KEY), None, [], []),
    ("sse-algorithm-unknown", "model-bucket-encrypted", _sse_default(sseAlgorithm=UNKNOWN, kmsMasterKeyId=KEY), None,
     [], ["unknown during preview: models-weights encryption"]),
    ("sse-key-unknown", "model-bucket-encrypted", _sse_default(sseAlgorithm="aws:kms", kmsMasterKeyId=UNKNOWN), None,
     [], []),
    ("sse-aws-managed-key", "model-bucket-encrypted", _sse_default(sseAlgorithm="aws:kms"), None,
     [ENCRYPTION_MESSAGE], []),
    ("sse-aws-managed-key-allowed", "model-bucket-encrypted", _sse_default(sseAlgorithm="aws:kms"),
     {"requireCustomerManagedKey": False}, [], []),
    ("sse-s3-managed-without-the-key-rule", "model-bucket-encrypted", _sse_default(sseAlgorithm="AES256"),
     {"requireCustomerManagedKey": False},
     ["Model bucket 'models-weights': no server-side encryption with SSE-KMS (a "
      "BucketServerSideEncryptionConfiguration with sseAlgorithm aws:kms)."], []),
    ("sse-key-in-a-second-rule", "model-bucket-encrypted",
     lambda s: find(s, SSE)["props"]["rules"].insert(0, {"applyServerSideEncryptionByDefault": {
         "sseAlgorithm": "aws:kms"}}), None, [], []),
    # Whether a bucket whose tags are not known yet is the model bucket cannot be told: each bucket policy waits.
    *[(f"maybe-model-bucket-{policy}", policy, lambda s: (
        find(s, BUCKET)["props"]["tags"].__setitem__("vllm-eks:purpose", UNKNOWN), remove(s, SSE),
        remove(s, "aws:s3/bucketVersioning:BucketVersioning"),
        remove(s, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"), remove(s, BUCKET_POLICY)), None, [],
       ["unknown during preview: models-weights tags (is it the model bucket?)"])
      for policy in ("model-bucket-encrypted", "model-bucket-versioned", "model-bucket-public-access-blocked",
                     "model-bucket-tls-only")],
    ("versioning-inline", "model-bucket-versioned",
     lambda s: (remove(s, "aws:s3/bucketVersioning:BucketVersioning"),
                find(s, BUCKET)["props"].__setitem__("versioning", {"enabled": True})), None, [], []),
    ("versioning-inline-off", "model-bucket-versioned",
     lambda s: (remove(s, "aws:s3/bucketVersioning:BucketVersioning"),
                find(s, BUCKET)["props"].__setitem__("versioning", {"enabled": False})), None,
     ["Model bucket 'models-weights': versioning is not enabled (add a BucketVersioning with "
      "versioningConfiguration.status: Enabled)."], []),
    ("versioning-unknown", "model-bucket-versioned",
     lambda s: find(s, "aws:s3/bucketVersioning:BucketVersioning")["props"]["versioningConfiguration"].__setitem__(
         "status", UNKNOWN), None, [], ["unknown during preview: models-weights versioning"]),
    ("versioning-unknown-but-inline-on", "model-bucket-versioned",
     lambda s: (find(s, "aws:s3/bucketVersioning:BucketVersioning")["props"]["versioningConfiguration"].__setitem__(
         "status", UNKNOWN), find(s, BUCKET)["props"].__setitem__("versioning", {"enabled": "true"})), None, [], []),
    ("public-access-flag-as-text", "model-bucket-public-access-blocked", _pab_flag("true"), None, [], []),
    ("public-access-flag-off", "model-bucket-public-access-blocked", _pab_flag(False), None,
     ["Model bucket 'models-weights': public access is not fully blocked: ['ignorePublicAcls'] must be true."], []),
    ("public-access-flag-unknown", "model-bucket-public-access-blocked", _pab_flag(UNKNOWN), None, [],
     ["unknown during preview: models-weights public access block"]),
    ("public-access-none", "model-bucket-public-access-blocked",
     lambda s: remove(s, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"), None,
     ["Model bucket 'models-weights': no BucketPublicAccessBlock (all four flags must be true)."], []),
    ("tls-allow-statement", "model-bucket-tls-only", _tls_statement(Effect="Allow"), None, [TLS_MESSAGE], []),
    ("tls-one-account-only", "model-bucket-tls-only",
     _tls_statement(Principal={"AWS": "arn:aws:iam::123456789012:root"}), None, [TLS_MESSAGE], []),
    ("tls-principal-aws-star", "model-bucket-tls-only", _tls_statement(Principal={"AWS": "*"}), None, [], []),
    ("tls-principal-aws-star-list", "model-bucket-tls-only", _tls_statement(Principal={"AWS": ["*"]}), None, [], []),
    ("tls-writes-only", "model-bucket-tls-only", _tls_statement(Action="s3:PutObject"), None, [TLS_MESSAGE], []),
    ("tls-reads", "model-bucket-tls-only", _tls_statement(Action=["s3:GetObject"]), None, [], []),
    ("tls-string-condition", "model-bucket-tls-only",
     _tls_statement(Condition={"StringEquals": {"aws:SecureTransport": "false"}}), None, [TLS_MESSAGE], []),
    ("tls-condition-not-an-object", "model-bucket-tls-only", _tls_statement(Condition={"Bool": "false"}), None,
     [TLS_MESSAGE], []),
    ("tls-denies-secure-requests", "model-bucket-tls-only",
     _tls_statement(Condition={"Bool": {"aws:SecureTransport": "true"}}), None, [TLS_MESSAGE], []),
    ("tls-no-condition", "model-bucket-tls-only", _tls_statement(Condition=None), None, [TLS_MESSAGE], []),
    # Condition keys are not case-sensitive (IAM User Guide, "IAM JSON policy elements: Condition"); the JSON
    # boolean false is the same condition value as the string.
    ("tls-key-case-and-boolean", "model-bucket-tls-only",
     _tls_statement(Condition={"Bool": {"AWS:SecureTransport": [False]}}), None, [], []),
    ("tls-second-statement", "model-bucket-tls-only",
     lambda s: find(s, BUCKET_POLICY)["props"].__setitem__("policy", json.dumps({"Version": "2012-10-17", "Statement": [
         {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "s3:GetObject",
          "Resource": "arn:aws:s3:::vllm-weights-prod/*"},
         *json.loads(tls_only_policy())["Statement"]]})), None, [], []),
    ("tls-policy-unknown-beside-a-good-one", "model-bucket-tls-only",
     lambda s: s["resources"].insert(s["resources"].index(find(s, BUCKET_POLICY)), resource(
         BUCKET_POLICY, "models-weights-extra", {"bucket": "vllm-weights-prod", "policy": UNKNOWN})), None, [], []),
    ("secrets-component-key-unknown", "eks-secrets-encrypted",
     lambda s: find(s, EKS_COMPONENT)["props"].__setitem__("encryptionConfigKeyArn", UNKNOWN), None, [],
     ["unknown during preview: encryptionConfigKeyArn"]),
    ("secrets-config-unknown", "eks-secrets-encrypted", _cluster_encryption(UNKNOWN), None, [],
     ["unknown during preview: encryptionConfig"]),
    ("secrets-component-without-the-input", "eks-secrets-encrypted",
     lambda s: find(s, EKS_COMPONENT)["props"].pop("encryptionConfigKeyArn"), None, [], []),
    ("secrets-other-resources", "eks-secrets-encrypted",
     _cluster_encryption({"provider": {"keyArn": KEY}, "resources": ["configmaps"]}), None, [SECRETS_MESSAGE], []),
    ("secrets-without-a-key", "eks-secrets-encrypted", _cluster_encryption({"resources": ["secrets"]}), None,
     [SECRETS_MESSAGE], []),
    ("secrets-in-the-second-config", "eks-secrets-encrypted",
     _cluster_encryption([{"provider": {"keyArn": KEY}, "resources": ["configmaps"]},
                          {"provider": {"keyArn": KEY}, "resources": ["secrets"]}]), None, [], []),
    ("secrets-unknown-after-a-miss", "eks-secrets-encrypted",
     _cluster_encryption([{"provider": {"keyArn": KEY}, "resources": ["configmaps"]},
                          {"provider": {"keyArn": KEY}, "resources": UNKNOWN}]), None, [],
     ["unknown during preview: encryptionConfig.resources"]),
]


@pytest.mark.parametrize("policy, mutation, config, messages, reasons", [c[1:] for c in STORAGE_CASES],
                         ids=[c[0] for c in STORAGE_CASES])
def test_storage_branches(check, policy, mutation, config, messages, reasons):
    """Sources: the S3 and IAM documents each case names; EKS envelope encryption of `secrets` ("Encrypt
    Kubernetes secrets with KMS on existing clusters", EKS user guide: resources ["secrets"] under a KMS key)."""
    run_case(check, policy, mutation, config, messages, reasons)
