"""ModelStore: the S3 bucket that holds model weights, readable per model through exactly one pod role.

- Bucket: SSE-KMS with a customer key and bucket key, versioning, all four public-access blocks, owner-enforced
  object ownership (no ACLs), a policy that denies non-TLS access, lifecycle for old versions and stale uploads.
- Kept on `pulumi destroy` (`retain_on_delete`; not `protect`, which would make the destroy fail): re-uploading tens of GB per model is slow and costly, and a
  teardown of the cluster must not take the weights with it. The key, the encryption, public-access and
  versioning settings are retained with the bucket: a retained bucket whose key was scheduled for deletion
  would hold unreadable objects, and one whose public-access block was removed would be less protected.
  Remove a retained bucket deliberately (empty it, then delete it) when the weights are truly no longer wanted.
- Per model, a read role whose trust admits only `system:serviceaccount:<namespace>:<service account>`; nothing
  else can read the weights (the node roles have no S3 access, no IAM user or access key exists).
- Optional model sync: a one-shot Job per model (`model_sync.py`) with its own write-only role for that prefix.
"""

import json
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from vllm_eks.iam import iam_documents as documents
from vllm_eks.iam.irsa import irsa_trust_json
from vllm_eks.model_store.model_sync import SYNC_NAMESPACE, sync_job, sync_service_account

PURPOSE_TAG = ("vllm-eks:purpose", "model-weights")
NONCURRENT_VERSION_DAYS = 30
INCOMPLETE_UPLOAD_DAYS = 7


class ModelAccess(TypedDict):
    """One model's prefix and the one service account that may read it."""

    name: str
    """The model's short name (a DNS label): roles and Jobs are named after it."""
    prefix: str
    """The model's weights prefix in the bucket."""
    namespace: str
    """The namespace of the one service account allowed to read the prefix."""
    service_account: str
    """The one service account (IRSA) allowed to read the prefix."""
    hugging_face_id: str | None
    """The Hugging Face repository the sync Job copies from; absent without sync."""
    sync: bool
    """Whether a Job copies the weights from Hugging Face into the prefix."""
    sync_staging_gib: int
    """Staging volume of the sync Job (the checkpoint with a margin)."""
    adapter_prefixes: NotRequired[list[str]]
    """The model's LoRA adapters, read by the same pod role."""


class ModelStoreArgs(TypedDict):
    """Where weights live and who may read them."""

    models: list[ModelAccess]
    """One read role per model, bound to one service account."""
    oidc_provider_arn: pulumi.Input[str]
    """The cluster's IAM OIDC provider, trusted by the read roles."""
    oidc_issuer: pulumi.Input[str]
    """The OIDC issuer host/path, without https://."""
    region: str
    """The bucket's Region."""
    hugging_face_token_secret_name: str | None
    """Secrets Manager secret with a Hugging Face token for gated models; absent for public ones."""
    sync_node_selector: dict[str, str]
    """Where the sync Jobs run (the system nodes)."""
    image_registry: str
    """The account's ECR registry (ImageCache) the sync Jobs pull through."""


class ModelStore(pulumi.ComponentResource):
    """Weights bucket (SSE-KMS, versioning, public access blocked, TLS-only, retained on destroy), one IRSA read role per
    model (one service account; the model's prefix and its LoRA adapters' prefixes), optional Hugging Face sync Job
    with a write-only role.
    """

    bucket_name: pulumi.Output[str]
    """The weights bucket."""
    bucket_arn: pulumi.Output[str]
    """The weights bucket's ARN."""
    kms_key_arn: pulumi.Output[str]
    """The KMS key that encrypts the weights."""
    read_role_arns: dict[str, pulumi.Output[str]]
    """Model name to its IRSA read role."""

    def __init__(self, name: str, args: ModelStoreArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("vllm-eks:index:ModelStore", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        kept = child.merge(pulumi.ResourceOptions(retain_on_delete=True))
        # Not `protect`: it makes `pulumi destroy` stop with an error instead of leaving the resource (Pulumi docs,
        # "Resource option: protect"); `retain_on_delete` keeps the weights and the key and lets the destroy finish.
        # forceDestroy stays false: S3 itself refuses to delete a bucket that still holds objects.

        key = aws.kms.Key(
            f"{name}-key",
            description="Model weights (S3 SSE-KMS)",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=dict([PURPOSE_TAG]),
            opts=kept,
        )
        bucket = aws.s3.Bucket(f"{name}-weights", bucket_prefix="vllm-weights-", force_destroy=False, tags=dict([PURPOSE_TAG]), opts=kept)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": key.arn},
                    "bucket_key_enabled": True,  # one data key per bucket, not a KMS call per object read
                }
            ],
            opts=kept,
        )
        aws.s3.BucketVersioning(f"{name}-versioning", bucket=bucket.id, versioning_configuration={"status": "Enabled"}, opts=kept)
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=kept,
        )
        aws.s3.BucketOwnershipControls(f"{name}-ownership", bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=kept)
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[
                {
                    "id": "expire-old-versions",
                    "status": "Enabled",
                    "filter": {"prefix": ""},
                    # A re-synced checkpoint leaves its predecessor as a noncurrent version: kept a month for rollback.
                    "noncurrent_version_expiration": {"noncurrent_days": NONCURRENT_VERSION_DAYS},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": INCOMPLETE_UPLOAD_DAYS},
                }
            ],
            opts=kept,
        )

        self.read_role_arns = {}
        for model in args["models"]:
            role = aws.iam.Role(
                f"{name}-{model['name']}-read",
                description=f"Read the weights of {model['name']} ({model['namespace']}/{model['service_account']} only)",
                assume_role_policy=_trust(args, model["namespace"], model["service_account"]),
                opts=child,
            )
            aws.iam.RolePolicy(
                f"{name}-{model['name']}-read-policy",
                role=role.id,
                policy=pulumi.Output.all(bucket.arn, key.arn).apply(
                    lambda values, prefix=model["prefix"], adapters=tuple(model.get("adapter_prefixes", [])): json.dumps(
                        documents.model_read_policy(values[0], prefix, values[1], args["region"], adapters)
                    )
                ),
                opts=child,
            )
            self.read_role_arns[model["name"]] = role.arn

        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=pulumi.Output.all(bucket.arn, *self.read_role_arns.values()).apply(
                lambda values: json.dumps(documents.model_bucket_policy(values[0], list(values[1:])))
            ),
            opts=kept.merge(pulumi.ResourceOptions(depends_on=[public_access])),
        )

        synced = [model for model in args["models"] if model["sync"]]
        if synced:
            self._sync_jobs(name, args, synced, bucket, key)

        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.kms_key_arn = key.arn
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
                "kms_key_arn": self.kms_key_arn,
                "read_role_arns": self.read_role_arns,
            }
        )

    def _sync_jobs(self, name: str, args: ModelStoreArgs, models: list[ModelAccess], bucket: aws.s3.Bucket, key: aws.kms.Key) -> None:
        child = pulumi.ResourceOptions(parent=self)
        k8s_child = pulumi.ResourceOptions(parent=self)
        secret_name = args["hugging_face_token_secret_name"]
        token_secret_arn: pulumi.Output[str | None] = pulumi.Output.from_input(None)
        if secret_name is not None:
            identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
            partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self))
            token_secret_arn = pulumi.Output.all(partition.partition, identity.account_id).apply(
                lambda values: documents.secret_arn_pattern(values[0], args["region"], values[1], secret_name)
            )
        namespace = k8s.core.v1.Namespace(
            f"{name}-sync-namespace",
            metadata={
                "name": SYNC_NAMESPACE,
                "labels": {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")},
            },
            opts=k8s_child,
        )
        in_namespace = k8s_child.merge(pulumi.ResourceOptions(depends_on=[namespace]))
        for model in models:
            service_account = sync_service_account(model["name"])
            role = aws.iam.Role(
                f"{name}-{model['name']}-sync",
                description=f"Write the weights of {model['name']} ({SYNC_NAMESPACE}/{service_account} only)",
                assume_role_policy=_trust(args, SYNC_NAMESPACE, service_account),
                opts=child,
            )
            policy = aws.iam.RolePolicy(
                f"{name}-{model['name']}-sync-policy",
                role=role.id,
                policy=pulumi.Output.all(bucket.arn, key.arn, token_secret_arn).apply(
                    lambda values, prefix=model["prefix"]: json.dumps(
                        documents.model_sync_write_policy(values[0], prefix, values[1], args["region"], values[2])
                    )
                ),
                opts=child,
            )
            k8s.core.v1.ServiceAccount(
                f"{name}-{model['name']}-sync-sa",
                metadata={
                    "name": service_account,
                    "namespace": SYNC_NAMESPACE,
                    "annotations": {"eks.amazonaws.com/role-arn": role.arn},
                },
                automount_service_account_token=False,
                opts=in_namespace,
            )
            hugging_face_id = model["hugging_face_id"]
            if hugging_face_id is None:  # stack_config refuses syncFromHuggingFace without huggingFaceId
                raise ValueError(f"model {model['name']}: a sync needs hugging_face_id")
            job = sync_job(
                model_name=model["name"],
                hugging_face_id=hugging_face_id,
                bucket_name=bucket.bucket,
                prefix=model["prefix"],
                region=args["region"],
                token_secret_name=secret_name,
                staging_size_gib=model["sync_staging_gib"],
                node_selector=args["sync_node_selector"],
                image_registry=args["image_registry"],
            )
            k8s.batch.v1.Job(
                f"{name}-{model['name']}-sync-job",
                metadata=job["metadata"],
                spec=job["spec"],
                opts=in_namespace.merge(pulumi.ResourceOptions(depends_on=[namespace, policy])),
            )


def _trust(args: ModelStoreArgs, namespace: str, service_account: str) -> pulumi.Output[str]:
    return irsa_trust_json(args["oidc_provider_arn"], args["oidc_issuer"], namespace, service_account)
