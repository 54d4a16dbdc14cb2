"""The Edge's API Gateway REST API: the /v1 routes only, the REQUEST authorizer, STREAM integrations through a
VPC Link V2 to the internal ALB, access logs, and OpenAI-shaped gateway errors.

A helper of `vllm_eks/edge/edge.py` (children are parented to the Edge); the route table and every mapping come from
the pure builders in `edge_specs`.
"""

from __future__ import annotations

import hashlib
import json
from typing import TypedDict

import pulumi
import pulumi_aws as aws

from vllm_eks.edge import edge_specs as specs
from vllm_eks.planning.catalog import API_GATEWAY_SECURITY_POLICY
from vllm_eks.iam.iam_documents import service_trust_policy

STAGE_NAME = specs.STAGE_NAME
# AWS managed policy for API Gateway's CloudWatch logging role (AWS docs: "Set up CloudWatch logging for REST APIs").
API_GATEWAY_CLOUDWATCH_POLICY_ARN = "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
AUTHORIZER_CACHE_SECONDS = 300  # one authorizer call per key per five minutes; a revoked key is refused by API Gateway at once


class RestApiInputs(TypedDict):
    served_names: list[str]
    load_balancer_arn: pulumi.Input[str]
    load_balancer_dns_name: pulumi.Input[str]
    listener: pulumi.Resource
    vpc_link_subnet_ids: pulumi.Input[list[str]]
    vpc_link_security_group_id: pulumi.Input[str]
    authorizer_function: aws.lambda_.Function
    origin_verify: bool
    timeouts: specs.TimeoutChain
    log_retention_days: int
    physical_name_prefix: str  # explicit names are unique per account and region: scoped to the stack
    manage_api_gateway_account: bool


def authorizer_identity_sources(origin_verify: bool) -> list[str]:
    sources = ["method.request.header.Authorization"]
    if origin_verify:
        sources.append(f"method.request.header.{specs.ORIGIN_VERIFY_HEADER}")
    return sources


def route_table_hash(served_names: list[str], timeouts: specs.TimeoutChain, origin_verify: bool) -> str:
    """Redeploy the stage whenever the routes, the model list, the mappings, the timeouts, the gateway responses or
    the authorizer change (a REST API change reaches clients only through a new deployment)."""
    document = json.dumps(
        {
            "routes": [route.__dict__ for route in specs.ROUTES],
            "models": served_names,
            "timeouts": timeouts.__dict__,
            "parameters": specs.integration_request_parameters(origin_verify),
            "responses": specs.GATEWAY_RESPONSES,
            "authorizer": {"identity": authorizer_identity_sources(origin_verify), "ttl": AUTHORIZER_CACHE_SECONDS},
        },
        sort_keys=True,
    )
    return hashlib.sha256(document.encode()).hexdigest()


def _resource_tree(parent: pulumi.Resource, name: str, api: aws.apigateway.RestApi) -> dict[str, aws.apigateway.Resource]:
    """One API resource per path segment of the route table (no {proxy+}: unknown paths do not exist)."""
    child = pulumi.ResourceOptions(parent=parent)
    resources: dict[str, aws.apigateway.Resource] = {}
    for route in specs.ROUTES:
        path = ""
        for segment in route.path.strip("/").split("/"):
            parent_path, path = path, f"{path}/{segment}"
            if path in resources:
                continue
            resources[path] = aws.apigateway.Resource(
                f"{name}-path{path.replace('/', '-')}",
                rest_api=api.id,
                parent_id=resources[parent_path].id if parent_path else api.root_resource_id,
                path_part=segment,
                opts=child,
            )
    return resources


def build_rest_api(parent: pulumi.Resource, name: str, inputs: RestApiInputs):
    """Create the REST API and its stage; returns (api, stage)."""
    child = pulumi.ResourceOptions(parent=parent)
    timeouts = inputs["timeouts"]
    prefix = inputs["physical_name_prefix"]
    api = aws.apigateway.RestApi(
        f"{name}-api",
        name=f"{prefix}-api",
        description="OpenAI-compatible inference API (vllm-eks)",
        endpoint_configuration={"types": "REGIONAL"},
        api_key_source="AUTHORIZER",
        security_policy=API_GATEWAY_SECURITY_POLICY,
        opts=child,
    )
    vpc_link = aws.apigatewayv2.VpcLink(
        f"{name}-vpc-link",
        name=f"{prefix}-vpc-link",
        subnet_ids=inputs["vpc_link_subnet_ids"],
        security_group_ids=[inputs["vpc_link_security_group_id"]],
        opts=child,
    )
    function = inputs["authorizer_function"]
    aws.lambda_.Permission(
        f"{name}-authorizer-invoke",
        action="lambda:InvokeFunction",
        function=function.name,
        principal="apigateway.amazonaws.com",
        source_arn=api.execution_arn.apply(lambda arn: f"{arn}/authorizers/*"),
        opts=child,
    )
    identity_sources = authorizer_identity_sources(inputs["origin_verify"])
    authorizer = aws.apigateway.Authorizer(
        f"{name}-authorizer",
        rest_api=api.id,
        type="REQUEST",
        authorizer_uri=function.invoke_arn,
        identity_source=",".join(identity_sources),
        authorizer_result_ttl_in_seconds=AUTHORIZER_CACHE_SECONDS,
        opts=child,
    )
    validator = aws.apigateway.RequestValidator(
        f"{name}-body-validator", rest_api=api.id, validate_request_body=True, opts=child
    )
    body_model = aws.apigateway.Model(
        f"{name}-openai-request",
        rest_api=api.id,
        name="OpenAIRequest",
        content_type="application/json",
        schema=json.dumps(specs.request_body_schema()),
        opts=child,
    )
    resources = _resource_tree(parent, name, api)
    integrations: list[pulumi.Resource] = []
    for route in specs.ROUTES:
        role = f"{name}-{route.method.lower()}{route.path.replace('/', '-')}"
        method = aws.apigateway.Method(
            role,
            rest_api=api.id,
            resource_id=resources[route.path].id,
            http_method=route.method,
            authorization="CUSTOM",
            authorizer_id=authorizer.id,
            api_key_required=True,
            request_validator_id=validator.id if route.routed_by_model else None,
            request_models={"application/json": body_model.name} if route.routed_by_model else None,
            opts=child,
        )
        if route.routed_by_model:
            integrations.append(
                aws.apigateway.Integration(
                    role,
                    rest_api=api.id,
                    resource_id=resources[route.path].id,
                    http_method=method.http_method,
                    type="HTTP_PROXY",
                    integration_http_method=route.method,
                    connection_type="VPC_LINK",
                    connection_id=vpc_link.id,
                    integration_target=inputs["load_balancer_arn"],
                    uri=pulumi.Output.from_input(inputs["load_balancer_dns_name"]).apply(
                        lambda host, path=route.path: f"http://{host}{path}"
                    ),
                    timeout_milliseconds=timeouts.api_gateway_integration_ms,
                    response_transfer_mode="STREAM",
                    request_parameters=specs.integration_request_parameters(inputs["origin_verify"]),
                    opts=child,
                )
            )
        else:
            integrations += _models_list(role, api, resources[route.path], method, inputs["served_names"], child)

    responses: list[pulumi.Resource] = []
    for response_type, (status, message, error_type) in specs.GATEWAY_RESPONSES.items():
        responses.append(aws.apigateway.Response(
            f"{name}-response-{response_type.lower().replace('_', '-')}",
            rest_api_id=api.id,
            response_type=response_type,
            status_code=str(status),
            response_templates=specs.gateway_response_templates(status, message, error_type),
            opts=child,
        ))

    deployment = aws.apigateway.Deployment(
        f"{name}-deployment",
        rest_api=api.id,
        triggers={"routes": route_table_hash(inputs["served_names"], timeouts, inputs["origin_verify"])},
        opts=child.merge(pulumi.ResourceOptions(depends_on=[*integrations, *responses, authorizer, inputs["listener"]])),
    )
    account = _account_logging_role(parent, name) if inputs["manage_api_gateway_account"] else None
    access_logs = aws.cloudwatch.LogGroup(
        f"{name}-access-logs",
        name=f"/aws/apigateway/{prefix}-api/access",
        retention_in_days=inputs["log_retention_days"],
        opts=child,
    )
    stage = aws.apigateway.Stage(
        f"{name}-stage",
        rest_api=api.id,
        deployment=deployment.id,
        stage_name=STAGE_NAME,
        access_log_settings={"destination_arn": access_logs.arn, "format": specs.access_log_format()},
        opts=child.merge(pulumi.ResourceOptions(depends_on=[account] if account else [])),
    )
    aws.apigateway.MethodSettings(
        f"{name}-method-settings",
        rest_api=api.id,
        stage_name=stage.stage_name,
        method_path="*/*",
        # Execution logs only for errors, never request/response data (headers carry keys).
        settings={"metrics_enabled": True, "logging_level": "ERROR", "data_trace_enabled": False},
        opts=child,
    )
    return api, stage


def _account_logging_role(parent: pulumi.Resource, name: str) -> aws.apigateway.Account:
    """API Gateway's CloudWatch role: one setting per account and region for every REST API there (AWS, "Set up
    CloudWatch logging for REST APIs"). Deleting aws.apigateway.Account resets it for all of them (pulumi-aws 7,
    terraform-provider-aws #42226), and deleting the role breaks it, so all three are kept on `pulumi destroy`:
    destroying this stack never stops another stack's logging. Other stacks in the account and region set
    edge.manageApiGatewayAccount: false."""
    kept = pulumi.ResourceOptions(parent=parent, retain_on_delete=True)
    logs_role = aws.iam.Role(
        f"{name}-api-logs",
        assume_role_policy=json.dumps(service_trust_policy("apigateway.amazonaws.com")),
        opts=kept,
    )
    logs_policy = aws.iam.RolePolicyAttachment(
        f"{name}-api-logs", role=logs_role.name, policy_arn=API_GATEWAY_CLOUDWATCH_POLICY_ARN, opts=kept
    )
    return aws.apigateway.Account(
        f"{name}-api-logs",
        cloudwatch_role_arn=logs_role.arn,
        opts=kept.merge(pulumi.ResourceOptions(depends_on=[logs_policy])),
    )


def _models_list(role: str, api, resource, method, served_names: list[str], child) -> list[pulumi.Resource]:
    """GET /v1/models answered by API Gateway (MOCK integration) with the configured served names."""
    integration = aws.apigateway.Integration(
        role,
        rest_api=api.id,
        resource_id=resource.id,
        http_method=method.http_method,
        type="MOCK",
        request_templates={"application/json": json.dumps({"statusCode": 200})},
        opts=child,
    )
    method_response = aws.apigateway.MethodResponse(
        role, rest_api=api.id, resource_id=resource.id, http_method=method.http_method, status_code="200", opts=child
    )
    integration_response = aws.apigateway.IntegrationResponse(
        role,
        rest_api=api.id,
        resource_id=resource.id,
        http_method=method.http_method,
        status_code=method_response.status_code,
        response_templates={"application/json": specs.models_list_body(served_names)},
        opts=child.merge(pulumi.ResourceOptions(depends_on=[integration])),
    )
    return [integration, integration_response]
