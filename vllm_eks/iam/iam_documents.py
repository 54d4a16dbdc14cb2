"""Pure IAM documents: trust policies, the model read/write policies, resource policies for the bucket and queue.

Plain dicts in, plain dicts out (callers `json.dumps` them inside an `apply`), so every document the stack renders
can be linted by parliament in the tests without Pulumi. The Karpenter controller policy lives in `karpenter.py`.
"""

from __future__ import annotations

VERSION = "2012-10-17"
STS_AUDIENCE = "sts.amazonaws.com"


def _document(*statements: dict) -> dict:
    return {"Version": VERSION, "Statement": list(statements)}


def irsa_trust_policy(oidc_provider_arn: str, oidc_issuer: str, namespace: str, service_account: str) -> dict:
    """Exactly one Kubernetes service account may assume the role: `:sub` pins namespace and name, `:aud` the STS audience.

    The condition keys use the issuer without its scheme; an issuer URL with `https://` is accepted and stripped.
    """
    issuer = oidc_issuer.removeprefix("https://")
    return _document(
        {
            "Effect": "Allow",
            "Principal": {"Federated": oidc_provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    f"{issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                    f"{issuer}:aud": STS_AUDIENCE,
                }
            },
        }
    )


def service_trust_policy(service: str) -> dict:
    """A role assumed by one AWS service principal (e.g. `ec2.amazonaws.com` for node roles) and nothing else.

    No `aws:SourceAccount` here: EC2 (instance profiles), Lambda (execution roles) and API Gateway (the CloudWatch
    logging role) document their trust policies without it, and a condition key the service does not send makes every
    AssumeRole fail. Services that document the confused-deputy keys get their own builder (`flow_log_trust_policy`).
    """
    return _document({"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"})


def flow_log_trust_policy(partition: str, region: str, account_id: str) -> dict:
    """The flow-log delivery role, assumable by VPC Flow Logs only for this account's flow logs in this region.

    Amazon VPC User Guide, "IAM role for publishing flow logs to CloudWatch Logs": AWS recommends `aws:SourceAccount`
    (the flow log's owner) and `aws:SourceArn` (the flow log's ARN, `vpc-flow-log/*` before its ID is known) against
    the confused deputy problem.
    """
    return _document(
        {
            "Effect": "Allow",
            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account_id},
                "ArnLike": {"aws:SourceArn": f"arn:{partition}:ec2:{region}:{account_id}:vpc-flow-log/*"},
            },
        }
    )


def pull_through_import_policy(partition: str, region: str, account_id: str, repository_prefixes: list[str]) -> dict:
    """What a node needs beyond pulling, to pull an image through a pull-through cache rule for the first time.

    Amazon ECR User Guide, "IAM permissions required to sync an upstream registry with an Amazon ECR private
    registry": `ecr:BatchImportUpstreamImage` imports the upstream image, and `ecr:CreateRepository` is required when
    the cached repository does not exist yet (the first pull of every image). Limited to the rules' prefixes.
    """
    repositories = [f"arn:{partition}:ecr:{region}:{account_id}:repository/{prefix}/*" for prefix in repository_prefixes]
    return _document(
        {
            "Sid": "ImportThroughPullThroughCache",
            "Effect": "Allow",
            "Action": ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"],
            "Resource": repositories,
        }
    )


def _objects_under(bucket_arn: str, prefix: str) -> str:
    return f"{bucket_arn}/{prefix}/*"


def _through_s3(region: str, bucket_arn: str) -> dict:
    """KMS use only on behalf of S3 for this bucket (bucket keys make the bucket ARN the encryption context)."""
    return {
        "StringEquals": {
            "kms:ViaService": f"s3.{region}.amazonaws.com",
            "kms:EncryptionContext:aws:s3:arn": bucket_arn,
        }
    }


def model_read_policy(
    bucket_arn: str, prefix: str, kms_key_arn: str, region: str, adapter_prefixes: tuple[str, ...] = ()
) -> dict:
    """Read one model's prefix and its LoRA adapters' prefixes: objects, a listing limited to them, decryption via S3.

    The listing allows the bare prefix as well as `prefix/...`: `aws s3 sync s3://b/<prefix>` and the Run:ai streamer
    send the prefix without a trailing slash. Listing reveals key names only; objects outside the prefixes stay unreadable.
    The pod's init container syncs each adapter with this same role, so an adapter prefix not granted here would be an
    AccessDenied at start-up.
    """
    prefixes = list(dict.fromkeys([prefix, *adapter_prefixes]))
    objects = [_objects_under(bucket_arn, each) for each in prefixes]
    return _document(
        {"Sid": "ReadModelObjects", "Effect": "Allow", "Action": "s3:GetObject", "Resource": objects[0] if len(objects) == 1 else objects},
        {
            "Sid": "ListModelPrefix",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": [listed for each in prefixes for listed in (each, f"{each}/*")]}},
        },
        {
            "Sid": "DecryptThroughS3",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": kms_key_arn,
            "Condition": _through_s3(region, bucket_arn),
        },
    )


def model_sync_write_policy(bucket_arn: str, prefix: str, kms_key_arn: str, region: str, token_secret_arn: str | None) -> dict:
    """Write-only into one model's prefix (multipart uploads need GenerateDataKey and Decrypt), plus the Hugging Face token.

    No GetObject and no ListBucket: the sync Job uploads what it downloaded and never reads the bucket back.
    """
    statements = [
        {
            "Sid": "WriteModelObjects",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
            "Resource": _objects_under(bucket_arn, prefix),
        },
        {
            "Sid": "EncryptThroughS3",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": kms_key_arn,
            "Condition": _through_s3(region, bucket_arn),
        },
    ]
    if token_secret_arn is not None:
        statements.append(
            {"Sid": "ReadHuggingFaceToken", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": token_secret_arn}
        )
    return _document(*statements)


def secret_arn_pattern(partition: str, region: str, account_id: str, secret_name: str) -> str:
    """A secret created outside the stack, by name: Secrets Manager appends six random characters to its ARN."""
    return f"arn:{partition}:secretsmanager:{region}:{account_id}:secret:{secret_name}-??????"


def deny_insecure_transport_bucket_policy(bucket_arn: str) -> dict:
    """The bucket refuses every request that does not use TLS."""
    return _document(
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )


def model_bucket_policy(bucket_arn: str, reader_role_arns: list[str]) -> dict:
    """TLS only, and no object read by anyone but the models' read roles: an identity policy elsewhere in the account
    (an admin's s3:* included) cannot read the weights, because an explicit Deny wins (IAM user guide, "Policy
    evaluation logic"). aws:PrincipalArn of a role session is the role's ARN ("AWS global condition context keys")."""
    document = deny_insecure_transport_bucket_policy(bucket_arn)
    document["Statement"].append(
        {
            "Sid": "DenyObjectReadsButModelRoles",
            "Effect": "Deny",
            "Principal": "*",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": f"{bucket_arn}/*",
            "Condition": {"StringNotEquals": {"aws:PrincipalArn": sorted(reader_role_arns)}},
        }
    )
    return document


def interruption_queue_policy(queue_arn: str) -> dict:
    """EventBridge (and SQS itself) may deliver interruption events; nothing may use the queue without TLS."""
    return _document(
        {
            "Sid": "EventBridgeDelivers",
            "Effect": "Allow",
            "Principal": {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
        },
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sqs:*",
            "Resource": queue_arn,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    )
