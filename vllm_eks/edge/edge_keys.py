"""The edge's keys: CloudFront's origin-verify secret, the Lambda REQUEST authorizer, one API key and usage plan per
consumer. Resources are children of the Edge component (`child` carries parent=Edge)."""

import json
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from vllm_eks.edge.settings import EdgeSettings
from vllm_eks.iam.iam_documents import service_trust_policy
from vllm_eks.planning.catalog import AUTHORIZER_LAMBDA_RUNTIME

AUTHORIZER_SOURCE = Path(__file__).resolve().parent / "authorizer"


# --- Lambda REQUEST authorizer --------------------------------------------------------------------------------


def origin_verify_secret(name: str, child: pulumi.ResourceOptions) -> tuple[random.RandomPassword, pulumi.Output[str]]:
    """The header value CloudFront adds and the authorizer requires (kept in Secrets Manager)."""
    value = random.RandomPassword(f"{name}-origin-verify", length=48, special=False, opts=child)
    secret = aws.secretsmanager.Secret(
        f"{name}-origin-verify",
        description="CloudFront -> API Gateway origin-verify header value (read by the authorizer)",
        recovery_window_in_days=7,
        opts=child,
    )
    aws.secretsmanager.SecretVersion(
        f"{name}-origin-verify", secret_id=secret.id, secret_string=value.result, opts=child
    )
    return value, secret.arn


def authorizer_function(
    name: str, physical_prefix: str, child: pulumi.ResourceOptions, internal_key_secret_arn: pulumi.Input[str],
    log_retention_days: int, origin_secret_arn: pulumi.Output[str] | None,
) -> aws.lambda_.Function:
    """The REQUEST authorizer: swaps a consumer's key for vLLM's internal key (and checks CloudFront's header)."""
    readable = [internal_key_secret_arn] + ([origin_secret_arn] if origin_secret_arn is not None else [])
    role = aws.iam.Role(
        f"{name}-authorizer",
        assume_role_policy=json.dumps(service_trust_policy("lambda.amazonaws.com")),
        opts=child,
    )
    function_name = f"{physical_prefix}-authorizer"
    log_group = aws.cloudwatch.LogGroup(
        f"{name}-authorizer", name=f"/aws/lambda/{function_name}", retention_in_days=log_retention_days, opts=child
    )
    aws.iam.RolePolicy(
        f"{name}-authorizer",
        role=role.id,
        policy=pulumi.Output.all(log_group.arn, *readable).apply(
            lambda values: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                            "Resource": f"{values[0]}:*",
                        },
                        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": list(values[1:])},
                    ],
                }
            )
        ),
        opts=child,
    )
    environment = {"INTERNAL_KEY_SECRET_ARN": internal_key_secret_arn}
    if origin_secret_arn is not None:
        environment["ORIGIN_VERIFY_SECRET_ARN"] = origin_secret_arn
    return aws.lambda_.Function(
        f"{name}-authorizer",
        name=function_name,
        runtime=AUTHORIZER_LAMBDA_RUNTIME,
        handler="handler.handler",
        code=pulumi.FileArchive(str(AUTHORIZER_SOURCE)),
        role=role.arn,
        timeout=5,
        memory_size=256,
        environment={"variables": environment},
        logging_config={"log_format": "Text", "log_group": log_group.name},
        opts=child.merge(pulumi.ResourceOptions(depends_on=[log_group])),
    )


# --- API Gateway REST ---------------------------------------------------------------------------------------


def consumer_keys(
    name: str, physical_prefix: str, child: pulumi.ResourceOptions, config: EdgeSettings, api: aws.apigateway.RestApi,
    stage: aws.apigateway.Stage,
) -> pulumi.Output[dict[str, str]]:
    """One key, secret and usage plan per consumer; bumping keyVersion replaces the key (rotation)."""
    secret_arns = {}
    for consumer in config["consumers"]:
        prefix = f"{name}-consumer-{consumer['name']}"
        physical = f"{physical_prefix}-consumer-{consumer['name']}"
        key_value = random.RandomPassword(
            prefix, length=48, special=False, keepers={"keyVersion": str(consumer["key_version"])}, opts=child
        )
        secret = aws.secretsmanager.Secret(
            prefix,
            description=f"API key of consumer {consumer['name']} (Authorization: Bearer <key>)",
            recovery_window_in_days=7,
            opts=child,
        )
        aws.secretsmanager.SecretVersion(prefix, secret_id=secret.id, secret_string=key_value.result, opts=child)
        key = aws.apigateway.ApiKey(
            prefix, name=f"{physical}-v{consumer['key_version']}", value=key_value.result, enabled=True, opts=child
        )
        monthly_quota = consumer.get("monthly_quota")
        plan = aws.apigateway.UsagePlan(
            prefix,
            name=physical,
            api_stages=[{"api_id": api.id, "stage": stage.stage_name}],
            throttle_settings={"rate_limit": consumer["requests_per_second"], "burst_limit": consumer["burst"]},
            quota_settings=(
                {"limit": monthly_quota, "period": "MONTH"} if monthly_quota is not None else None
            ),
            opts=child,
        )
        aws.apigateway.UsagePlanKey(prefix, key_id=key.id, key_type="API_KEY", usage_plan_id=plan.id, opts=child)
        secret_arns[consumer["name"]] = secret.arn
    return pulumi.Output.all(**secret_arns)
