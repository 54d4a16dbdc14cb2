"""Every edge resource as rendered, stated whole: the ALB side, API Gateway, keys, WAF, CloudFront and the router.

tests/test_edge.py checks the edge's promises one relation at a time; here each resource's inputs are written out
literally for dev and prod (and for the configurations neither ships: two models, no domain), so a changed port,
name, flag or limit anywhere in vllm_eks/edge shows up. Mock ids (`<physical name>-<hash>-id`, preflight/mocks.py)
are shown as `id:<resource name>`.
"""

from __future__ import annotations

import copy
import json
import re
from functools import lru_cache

import pytest

from preflight.render import read_stack_config, render_config
from rendered import resource_named, resources_of
from vllm_stacks import two_model_config

STACKS = ["dev_snapshot", "prod_snapshot"]
# edge.maxRequestSeconds of the shipped stack files
BUDGET = {"dev": 175, "prod": 600}


def _named_ids(value):
    """Mock ids carry a random hash; name them by the resource they belong to."""
    if isinstance(value, dict):
        return {key: _named_ids(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_named_ids(item) for item in value]
    if isinstance(value, str):
        return re.sub(r"^(.+)-[0-9a-f]{8}-id$", r"id:\1", value)
    return value


def _props(snapshot: dict, type_token: str, name: str) -> dict:
    return _named_ids(resource_named(snapshot, type_token, name)["props"])


def _arn(snapshot: dict, type_token: str, name: str) -> str:
    return resource_named(snapshot, type_token, name)["outputs"]["arn"]


def _router_labels(model: str) -> dict[str, str]:
    return {"app.kubernetes.io/instance": model, "app.kubernetes.io/name": "vllm-router"}


@lru_cache(maxsize=None)
def _two_models_with_a_small_body_limit() -> dict:
    """prod serving a second model, with the smallest body limit WAF inspects by default (16 KiB) and a rotated key."""
    config = two_model_config()
    config["vllm-eks:edge"] = {**config["vllm-eks:edge"], "maxBodyKib": 16, "rateLimitPerKey5Min": 1000,
                               "rateLimitPerIp5Min": 3000}
    config["vllm-eks:edge"]["consumers"] = copy.deepcopy(config["vllm-eks:edge"]["consumers"])
    config["vllm-eks:edge"]["consumers"][1]["keyVersion"] = 2
    return render_config("prod", config)


@lru_cache(maxsize=None)
def _cloudfront_without_a_domain() -> dict:
    config = copy.deepcopy(read_stack_config("dev"))
    config["vllm-eks:edge"] = {key: value for key, value in config["vllm-eks:edge"].items()
                               if key not in ("domainName", "certificateArn")}
    return render_config("dev", config)


# --- internal ALB -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_alb_security_groups_and_rules_are_exactly_the_two_hops(stack, request):
    """EC2 security groups: the VPC link's group reaches the ALB's listener port 80 only; the ALB admits only that
    group and reaches the routers' port 8000 (vllm-router --port) in the VPC range (VPC CNI pod addresses)."""
    snapshot = request.getfixturevalue(stack)
    vpc = "id:network-vpc"
    assert _props(snapshot, "aws:ec2/securityGroup:SecurityGroup", "edge-vpc-link") == {
        "description": "API Gateway VPC link: may only reach the internal ALB", "tags": {"Name": "edge-vpc-link"},
        "vpcId": vpc}
    assert _props(snapshot, "aws:ec2/securityGroup:SecurityGroup", "edge-alb") == {
        "description": "Internal ALB: requests only from the API Gateway VPC link",
        "egress": [{"cidrBlocks": ["10.0.0.0/16"], "description": "router pods (VPC CNI addresses)", "fromPort": 8000,
                    "protocol": "tcp", "toPort": 8000}],
        "ingress": [{"description": "API Gateway VPC link", "fromPort": 80, "protocol": "tcp",
                     "securityGroups": ["id:edge-vpc-link"], "toPort": 80}],
        "tags": {"Name": "edge-alb"}, "vpcId": vpc}
    assert _props(snapshot, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "edge-vpc-link-to-alb") == {
        "description": "internal ALB listener", "fromPort": 80, "ipProtocol": "tcp",
        "referencedSecurityGroupId": "id:edge-alb", "securityGroupId": "id:edge-vpc-link", "toPort": 80}
    rules = [r for r in resources_of(snapshot, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
             if r["name"].startswith("edge-alb-to-routers-")]
    assert [(r["name"], {k: v for k, v in _named_ids(r["props"]).items() if k != "securityGroupId"}) for r in rules] == [
        ("edge-alb-to-routers-0", {"description": "internal ALB to router pods", "fromPort": 8000, "ipProtocol": "tcp",
                                   "referencedSecurityGroupId": "id:edge-alb", "toPort": 8000})]


@pytest.mark.parametrize("stack", STACKS)
def test_alb_listener_and_target_group_render_exactly(stack, request):
    """Elastic Load Balancing: an internal ALB whose idle timeout is the request budget plus the 5 s hop margin, an
    HTTP listener on 80 whose default answer is an OpenAI-shaped 404, and an `ip` target group per model on the
    router port, health-checked on the router's own /liveness (vllm-router 0.1.17, see tests/test_router_health.py)
    with ALB's default-like thresholds 2 healthy / 3 unhealthy every 10 s, draining for budget + 10 s."""
    snapshot = request.getfixturevalue(stack)
    budget = BUDGET[snapshot["stack"]]
    alb = _props(snapshot, "aws:lb/loadBalancer:LoadBalancer", "edge-alb")
    assert alb == {"dropInvalidHeaderFields": True, "enableDeletionProtection": False, "idleTimeout": budget + 5,
                   "internal": True, "loadBalancerType": "application", "securityGroups": ["id:edge-alb"],
                   "subnets": alb["subnets"], "tags": {"Name": "edge-alb"}}
    assert alb["subnets"] and all(s.startswith("id:network-load-balancer-") for s in alb["subnets"])
    assert _props(snapshot, "aws:lb/listener:Listener", "edge-listener") == {
        "defaultActions": [{"fixedResponse": {
            "contentType": "application/json", "statusCode": "404",
            "messageBody": '{"error": {"message": "The model does not exist on this endpoint.", '
                           '"type": "NotFoundError", "code": 404}}'}, "type": "fixed-response"}],
        "loadBalancerArn": _arn(snapshot, "aws:lb/loadBalancer:LoadBalancer", "edge-alb"), "port": 80,
        "protocol": "HTTP"}
    model = "qwen3-1-7b" if snapshot["stack"] == "dev" else "qwen3-8b"
    assert _props(snapshot, "aws:lb/targetGroup:TargetGroup", f"edge-{model}") == {
        "deregistrationDelay": budget + 10,
        "healthCheck": {"healthyThreshold": 2, "interval": 10, "matcher": "200", "path": "/liveness",
                        "port": "traffic-port", "unhealthyThreshold": 3},
        "port": 8000, "protocol": "HTTP", "tags": {"vllm-eks:model": model}, "targetType": "ip", "vpcId": "id:network-vpc"}


def test_two_models_get_ordered_rules_and_the_controller_binds_both_groups():
    """Elastic Load Balancing "Listener rules": priorities are unique per listener, lowest first; the stack numbers
    them 100, 110, ... in configuration order. The controller may register targets in exactly these groups."""
    snapshot = _two_models_with_a_small_body_limit()
    groups = {name: _arn(snapshot, "aws:lb/targetGroup:TargetGroup", f"edge-{name}") for name in ("qwen3-8b", "qwen3-1-7b")}
    rules = {r["name"]: _named_ids(r["props"]) for r in resources_of(snapshot, "aws:lb/listenerRule:ListenerRule")}
    assert {name: (rule["priority"], rule["conditions"][0]["httpHeader"]["values"], rule["actions"])
            for name, rule in rules.items()} == {
        "edge-qwen3-8b": (100, ["qwen3-8b"], [{"targetGroupArn": groups["qwen3-8b"], "type": "forward"}]),
        "edge-qwen3-1-7b": (110, ["qwen3-1.7b"], [{"targetGroupArn": groups["qwen3-1-7b"], "type": "forward"}])}
    policy = json.loads(resource_named(snapshot, "aws:iam/rolePolicy:RolePolicy", "edge-lb-controller")["props"]["policy"])
    assert policy["Statement"][1]["Resource"] == sorted(groups.values())
    assert snapshot["outputs"]["edgeTargetGroupArnSuffixes"] == {
        name: arn.split(":", 5)[5] for name, arn in groups.items()}
    assert {d["props"]["metadata"]["namespace"] for d in resources_of(snapshot, "kubernetes:apps/v1:Deployment")
            if d["props"]["metadata"]["name"] == "vllm-router"} == {"vllm-qwen3-8b", "vllm-qwen3-1-7b"}


@pytest.mark.parametrize("stack", STACKS)
def test_controller_role_may_read_exactly_what_the_controller_reads_at_start(stack, request):
    """aws-load-balancer-controller v3.5.0 docs/install/iam_policy.json, first statement: the Describe calls the
    controller makes at start-up and on every reconcile (EC2 and Elastic Load Balancing), which support no
    resource-level permissions (Service Authorization Reference)."""
    snapshot = request.getfixturevalue(stack)
    policy = json.loads(resource_named(snapshot, "aws:iam/rolePolicy:RolePolicy", "edge-lb-controller")["props"]["policy"])
    assert policy["Version"] == "2012-10-17"
    assert policy["Statement"][0] == {"Sid": "Read", "Effect": "Allow", "Resource": "*", "Action": [
        "ec2:DescribeAvailabilityZones", "ec2:DescribeInstances", "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeTags", "ec2:DescribeVpcs",
        "elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeRules", "elasticloadbalancing:DescribeTags",
        "elasticloadbalancing:DescribeTargetGroupAttributes", "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeTargetHealth"]}
    release = resource_named(snapshot, "kubernetes:helm.sh/v3:Release", "edge-lb-controller")
    assert release["props"]["timeout"] == 900  # catalog HELM_RELEASE_TIMEOUT_SECONDS
    depends = release["options"]["dependsOn"]
    assert any(urn.endswith("aws:iam/rolePolicy:RolePolicy::edge-lb-controller") for urn in depends)
    assert any(urn.endswith("aws:eks/nodeGroup:NodeGroup::cluster-system") for urn in depends)


# --- API Gateway --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_api_gateway_resources_render_exactly(stack, request):
    """API Gateway REST: a regional API whose keys come from the authorizer, a VPC link V2 in the private subnets,
    the authorizer's invoke permission for API Gateway on <execution ARN>/authorizers/* (Lambda developer guide,
    "Using resource-based policies", API Gateway), a body validator with a draft-04 JSON schema model (API Gateway
    "Request validation": models are JSON Schema draft 4), and /v1/models answered by a MOCK integration."""
    snapshot = request.getfixturevalue(stack)
    prefix = f"vllm-eks-{snapshot['stack']}"
    assert _props(snapshot, "aws:apigateway/restApi:RestApi", "edge-api") == {
        "apiKeySource": "AUTHORIZER", "description": "OpenAI-compatible inference API (vllm-eks)",
        "endpointConfiguration": {"types": "REGIONAL"}, "name": f"{prefix}-api", "securityPolicy": "TLS_1_2"}
    link = _props(snapshot, "aws:apigatewayv2/vpcLink:VpcLink", "edge-vpc-link")
    assert link == {"name": f"{prefix}-vpc-link", "securityGroupIds": ["id:edge-vpc-link"], "subnetIds": link["subnetIds"]}
    assert link["subnetIds"] == [f"id:network-private-{index}" for index in range(len(link["subnetIds"]))]
    execution_arn = resource_named(snapshot, "aws:apigateway/restApi:RestApi", "edge-api")["outputs"]["executionArn"]
    assert _props(snapshot, "aws:lambda/permission:Permission", "edge-authorizer-invoke") == {
        "action": "lambda:InvokeFunction", "function": f"{prefix}-authorizer", "principal": "apigateway.amazonaws.com",
        "sourceArn": f"{execution_arn}/authorizers/*"}
    assert _props(snapshot, "aws:apigateway/requestValidator:RequestValidator", "edge-body-validator") == {
        "restApi": "id:edge-api", "validateRequestBody": True}
    model = _props(snapshot, "aws:apigateway/model:Model", "edge-openai-request")
    assert {**model, "schema": json.loads(model["schema"])} == {
        "contentType": "application/json", "name": "OpenAIRequest", "restApi": "id:edge-api",
        "schema": {"$schema": "http://json-schema.org/draft-04/schema#", "title": "OpenAIRequest", "type": "object",
                   "required": ["model"],
                   "properties": {"model": {"type": "string", "minLength": 1, "maxLength": 128}}}}
    methods = {r["name"]: _named_ids(r["props"]) for r in resources_of(snapshot, "aws:apigateway/method:Method")}
    routed = {"apiKeyRequired": True, "authorization": "CUSTOM", "authorizerId": "id:edge-authorizer",
              "httpMethod": "POST", "requestModels": {"application/json": "OpenAIRequest"},
              "requestValidatorId": "id:edge-body-validator", "restApi": "id:edge-api"}
    assert methods == {
        "edge-post-v1-chat-completions": {**routed, "resourceId": "id:edge-path-v1-chat-completions"},
        "edge-post-v1-completions": {**routed, "resourceId": "id:edge-path-v1-completions"},
        "edge-get-v1-models": {"apiKeyRequired": True, "authorization": "CUSTOM", "authorizerId": "id:edge-authorizer",
                               "httpMethod": "GET", "resourceId": "id:edge-path-v1-models", "restApi": "id:edge-api"}}
    paths = {r["name"]: _named_ids(r["props"]) for r in resources_of(snapshot, "aws:apigateway/resource:Resource")}
    assert {name: (props["pathPart"], props["parentId"]) for name, props in paths.items() if name != "edge-path-v1"} == {
        "edge-path-v1-chat": ("chat", "id:edge-path-v1"),
        "edge-path-v1-chat-completions": ("completions", "id:edge-path-v1-chat"),
        "edge-path-v1-completions": ("completions", "id:edge-path-v1"),
        "edge-path-v1-models": ("models", "id:edge-path-v1")}
    mock = {"httpMethod": "GET", "resourceId": "id:edge-path-v1-models", "restApi": "id:edge-api"}
    assert _props(snapshot, "aws:apigateway/integration:Integration", "edge-get-v1-models") == {
        **mock, "requestTemplates": {"application/json": '{"statusCode": 200}'}, "type": "MOCK"}
    assert _props(snapshot, "aws:apigateway/methodResponse:MethodResponse", "edge-get-v1-models") == {
        **mock, "statusCode": "200"}
    listed = _props(snapshot, "aws:apigateway/integrationResponse:IntegrationResponse", "edge-get-v1-models")
    served = "qwen3-1.7b" if snapshot["stack"] == "dev" else "qwen3-8b"
    # OpenAI API reference, "List models": {"object": "list", "data": [{"id", "object": "model", "owned_by"}]}
    assert {**listed, "responseTemplates": json.loads(listed["responseTemplates"]["application/json"])} == {
        **mock, "statusCode": "200",
        "responseTemplates": {"object": "list", "data": [{"id": served, "object": "model", "owned_by": "vllm-eks"}]}}


@pytest.mark.parametrize("stack", STACKS)
def test_routed_integrations_render_exactly(stack, request):
    snapshot = request.getfixturevalue(stack)
    alb = resource_named(snapshot, "aws:lb/loadBalancer:LoadBalancer", "edge-alb")["outputs"]
    for route in ("chat-completions", "completions"):
        props = _props(snapshot, "aws:apigateway/integration:Integration", f"edge-post-v1-{route}")
        assert {key: value for key, value in props.items() if key != "requestParameters"} == {
            "connectionId": "id:edge-vpc-link", "connectionType": "VPC_LINK", "httpMethod": "POST",
            "integrationHttpMethod": "POST", "integrationTarget": alb["arn"], "resourceId": f"id:edge-path-v1-{route}",
            "responseTransferMode": "STREAM", "restApi": "id:edge-api",
            "timeoutMilliseconds": BUDGET[snapshot["stack"]] * 1000, "type": "HTTP_PROXY",
            "uri": f"http://{alb['dnsName']}/v1/{route.replace('-', '/')}"}


@pytest.mark.parametrize("stack", STACKS)
def test_stage_logs_and_method_settings_render_exactly(stack, request):
    """API Gateway "$context variables for data models, authorizers, mapping templates, and access logging": one JSON
    line per request with these variables, never a key (no $context.identity.apiKey) and never a body."""
    snapshot = request.getfixturevalue(stack)
    prefix = f"vllm-eks-{snapshot['stack']}"
    log_group = f"/aws/apigateway/{prefix}-api/access"
    assert _props(snapshot, "aws:cloudwatch/logGroup:LogGroup", "edge-access-logs") == {"name": log_group, "retentionInDays": 30}
    assert _props(snapshot, "aws:apigateway/stage:Stage", "edge-stage") == {
        "accessLogSettings": {
            "destinationArn": _arn(snapshot, "aws:cloudwatch/logGroup:LogGroup", "edge-access-logs"),
            "format": '{"requestId":"$context.requestId","consumerKeyId":"$context.identity.apiKeyId",'
                      '"principal":"$context.authorizer.principalId","ip":"$context.identity.sourceIp",'
                      '"method":"$context.httpMethod","path":"$context.resourcePath","status":"$context.status",'
                      '"integrationStatus":"$context.integration.status","latencyMs":"$context.responseLatency",'
                      '"errorType":"$context.error.responseType","wafStatus":"$context.waf.status",'
                      '"tlsVersion":"$context.tlsVersion"}'},
        "deployment": "id:edge-deployment", "restApi": "id:edge-api", "stageName": "live"}
    assert _props(snapshot, "aws:apigateway/methodSettings:MethodSettings", "edge-method-settings") == {
        "methodPath": "*/*", "restApi": "id:edge-api", "stageName": "live",
        "settings": {"dataTraceEnabled": False, "loggingLevel": "ERROR", "metricsEnabled": True}}


def test_the_stack_that_manages_api_gateways_logging_role_renders_it_exactly(dev_snapshot, prod_snapshot):
    """API Gateway "Set up CloudWatch logging for REST APIs": a role API Gateway assumes, with the AWS managed policy
    AmazonAPIGatewayPushToCloudWatchLogs, set as the account's cloudwatchRoleArn; the stage waits for it. Only the
    stack with edge.manageApiGatewayAccount true (dev) has it."""
    role = resource_named(dev_snapshot, "aws:iam/role:Role", "edge-api-logs")
    assert json.loads(role["props"]["assumeRolePolicy"]) == {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    assert _props(dev_snapshot, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "edge-api-logs") == {
        "policyArn": "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs", "role": role["outputs"]["name"]}
    assert _props(dev_snapshot, "aws:apigateway/account:Account", "edge-api-logs") == {
        "cloudwatchRoleArn": role["outputs"]["arn"]}
    stage = resource_named(dev_snapshot, "aws:apigateway/stage:Stage", "edge-stage")
    assert any(urn.endswith("aws:apigateway/account:Account::edge-api-logs") for urn in stage["options"]["dependsOn"])
    assert not [r for r in prod_snapshot["resources"] if r["name"] == "edge-api-logs"]
    prod_stage = resource_named(prod_snapshot, "aws:apigateway/stage:Stage", "edge-stage")
    assert not any("Account" in urn for urn in prod_stage["options"]["dependsOn"])


# --- keys ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_keys_secrets_and_usage_plans_render_exactly(stack, request):
    """API Gateway usage plans ("Create and use usage plans with API keys"): one key per consumer, named with its
    key version so a bump replaces it, attached as an API_KEY. Secrets Manager keeps the consumer keys and the
    origin secret recoverable for 7 days (DeleteSecret's minimum window); the internal key's fixed-name secret is
    deleted at once (tests/test_two_stacks.py). Keys are 48 letters and digits."""
    snapshot = request.getfixturevalue(stack)
    prefix = f"vllm-eks-{snapshot['stack']}"
    consumers = read_stack_config(snapshot["stack"])["vllm-eks:edge"]["consumers"]
    assert _props(snapshot, "random:index/randomPassword:RandomPassword", "internal-api-key-value") == {"length": 48, "special": False}
    assert _props(snapshot, "aws:secretsmanager/secret:Secret", "internal-api-key-secret") == {
        "description": "vLLM's internal API key: the edge injects it, the pods read it from a mounted file",
        "name": f"{prefix}/vllm/api-key", "recoveryWindowInDays": 0}
    version = resource_named(snapshot, "aws:secretsmanager/secretVersion:SecretVersion", "internal-api-key-version")
    assert version["props"]["secretId"].startswith("internal-api-key-secret-")
    assert _props(snapshot, "random:index/randomPassword:RandomPassword", "edge-origin-verify") == {"length": 48, "special": False}
    assert _props(snapshot, "aws:secretsmanager/secret:Secret", "edge-origin-verify") == {
        "description": "CloudFront -> API Gateway origin-verify header value (read by the authorizer)",
        "recoveryWindowInDays": 7}
    assert _named_ids(resource_named(snapshot, "aws:secretsmanager/secretVersion:SecretVersion", "edge-origin-verify")
                      ["props"]["secretId"]) == "id:edge-origin-verify"
    for consumer in consumers:
        name = f"edge-consumer-{consumer['name']}"
        assert _props(snapshot, "random:index/randomPassword:RandomPassword", name) == {
            "keepers": {"keyVersion": "1"}, "length": 48, "special": False}
        assert _props(snapshot, "aws:secretsmanager/secret:Secret", name) == {
            "description": f"API key of consumer {consumer['name']} (Authorization: Bearer <key>)",
            "recoveryWindowInDays": 7}
        assert _named_ids(resource_named(snapshot, "aws:secretsmanager/secretVersion:SecretVersion", name)
                          ["props"]["secretId"]) == f"id:{name}"
        key = _props(snapshot, "aws:apigateway/apiKey:ApiKey", name)
        assert (key["name"], key["enabled"]) == (f"{prefix}-consumer-{consumer['name']}-v1", True)
        plan = _props(snapshot, "aws:apigateway/usagePlan:UsagePlan", name)
        assert (plan["name"], plan["apiStages"]) == (f"{prefix}-consumer-{consumer['name']}",
                                                     [{"apiId": "id:edge-api", "stage": "live"}])
        assert _props(snapshot, "aws:apigateway/usagePlanKey:UsagePlanKey", name) == {
            "keyId": f"id:{name}", "keyType": "API_KEY", "usagePlanId": f"id:{name}"}
    assert snapshot["outputs"]["consumerKeySecretArns"] == {
        c["name"]: _arn(snapshot, "aws:secretsmanager/secret:Secret", f"edge-consumer-{c['name']}") for c in consumers}


def test_a_bumped_key_version_names_a_new_key():
    snapshot = _two_models_with_a_small_body_limit()
    key = resource_named(snapshot, "aws:apigateway/apiKey:ApiKey", "edge-consumer-batch-jobs")["props"]
    password = resource_named(snapshot, "random:index/randomPassword:RandomPassword", "edge-consumer-batch-jobs")["props"]
    assert (key["name"], password["keepers"]) == ("vllm-eks-prod-consumer-batch-jobs-v2", {"keyVersion": "2"})


@pytest.mark.parametrize("stack", STACKS)
def test_authorizer_function_limits(stack, request):
    """The authorizer does two Secrets Manager reads at most (cached per key by API Gateway for 300 s): 5 s and
    256 MB are ample; API Gateway waits at most 10 s for a Lambda authorizer ("API Gateway quotas")."""
    function = resource_named(request.getfixturevalue(stack), "aws:lambda/function:Function", "edge-authorizer")
    assert (function["props"]["timeout"], function["props"]["memorySize"]) == (5, 256)
    # The deployment package is the authorizer directory the tests run (tests/test_authorizer.py), nothing else.
    from pathlib import Path

    from preflight.render import _directory_digest

    package = Path(__file__).resolve().parent.parent / "vllm_eks" / "edge" / "authorizer"
    assert (package / "handler.py").is_file()
    assert function["props"]["code"] == f"FileArchive(sha256:{_directory_digest(package)})"
    assert any(urn.endswith("aws:cloudwatch/logGroup:LogGroup::edge-authorizer") for urn in function["options"]["dependsOn"])


# --- WAF and CloudFront -------------------------------------------------------------------------------------------


def _waf_rules(prefix: str, body_kib: int, per_key: int, per_ip: int) -> list[dict]:
    """AWS WAF "AWS Managed Rules rule groups list" (vendor AWS) and rule statements: SizeConstraintStatement,
    RateBasedStatement (EvaluationWindowSec 300, custom key on the authorization header, or IP)."""
    def visibility(metric):
        return {"cloudwatchMetricsEnabled": True, "metricName": f"{prefix}-{metric}", "sampledRequestsEnabled": True}

    def managed(name, priority, counted):
        statement = {"name": name, "vendorName": "AWS"}
        if counted:
            statement["ruleActionOverrides"] = [{"actionToUse": {"count": {}}, "name": rule} for rule in counted]
        return {"name": name, "overrideAction": {"none": {}}, "priority": priority,
                "statement": {"managedRuleGroupStatement": statement}, "visibilityConfig": visibility(name)}

    none = [{"priority": 0, "type": "NONE"}]
    return [
        managed("AWSManagedRulesCommonRuleSet", 0, ["SizeRestrictions_BODY", "EC2MetaDataSSRF_BODY", "GenericLFI_BODY",
                                                    "GenericRFI_BODY", "CrossSiteScripting_BODY"]),
        managed("AWSManagedRulesKnownBadInputsRuleSet", 1, ["JavaDeserializationRCE_BODY", "Log4JRCE_BODY"]),
        managed("AWSManagedRulesAmazonIpReputationList", 2, []),
        {"action": {"block": {}}, "name": "body-size-limit", "priority": 10, "statement": {"sizeConstraintStatement": {
            "comparisonOperator": "GT", "fieldToMatch": {"body": {"oversizeHandling": "MATCH"}}, "size": body_kib * 1024,
            "textTransformations": none}}, "visibilityConfig": visibility("body-size")},
        {"action": {"block": {}}, "name": "rate-per-api-key", "priority": 20, "statement": {"rateBasedStatement": {
            "aggregateKeyType": "CUSTOM_KEYS", "customKeys": [{"header": {"name": "authorization", "textTransformations": none}}],
            "evaluationWindowSec": 300, "limit": per_key}}, "visibilityConfig": visibility("rate-per-key")},
        {"action": {"block": {}}, "name": "rate-per-ip", "priority": 30, "statement": {"rateBasedStatement": {
            "aggregateKeyType": "IP", "evaluationWindowSec": 300, "limit": per_ip}}, "visibilityConfig": visibility("rate-per-ip")},
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_cloudfront_web_acl_renders_exactly(stack, request):
    """AWS WAF: a CLOUDFRONT-scope web ACL lives in us-east-1, allows by default, and raises the body inspection limit
    to the 64 KiB the stack admits (AssociationConfig RequestBody, pulumi-aws field `cloudfront`)."""
    snapshot = request.getfixturevalue(stack)
    prefix = f"vllm-eks-{snapshot['stack']}"
    assert _props(snapshot, "aws:wafv2/webAcl:WebAcl", "edge-waf") == {
        "associationConfig": {"requestBodies": [{"cloudfront": {"defaultSizeInspectionLimit": "KB_64"}}]},
        "defaultAction": {"allow": {}}, "region": "us-east-1", "rules": _waf_rules(prefix, 64, 2000, 5000),
        "scope": "CLOUDFRONT",
        "visibilityConfig": {"cloudwatchMetricsEnabled": True, "metricName": f"{prefix}-waf", "sampledRequestsEnabled": True}}


def test_regional_web_acl_sits_on_the_stage_and_16_kib_needs_no_bigger_inspection(regional_snapshot):
    """AWS WAF: a REGIONAL web ACL in the stack's region, associated with the API Gateway stage ARN, raising the
    inspection limit under the `api_gateway` key; 16 KiB is WAF's default body inspection limit, so a 16 KiB body
    limit needs no AssociationConfig."""
    acl = _props(regional_snapshot, "aws:wafv2/webAcl:WebAcl", "edge-waf")
    assert (acl["scope"], acl.get("region"), acl["associationConfig"]) == (
        "REGIONAL", None, {"requestBodies": [{"apiGateway": {"defaultSizeInspectionLimit": "KB_64"}}]})
    association = _props(regional_snapshot, "aws:wafv2/webAclAssociation:WebAclAssociation", "edge-waf-association")
    assert association == {"resourceArn": resource_named(regional_snapshot, "aws:apigateway/stage:Stage", "edge-stage")["outputs"]["arn"],
                           "webAclArn": _arn(regional_snapshot, "aws:wafv2/webAcl:WebAcl", "edge-waf")}
    small = _props(_two_models_with_a_small_body_limit(), "aws:wafv2/webAcl:WebAcl", "edge-waf")
    assert "associationConfig" not in small
    assert small["rules"] == _waf_rules("vllm-eks-prod", 16, 1000, 3000)


def test_regional_endpoint_is_the_stage_url():
    """Without CloudFront the API Gateway stage's invoke URL (https://<api id>.execute-api.<region>.amazonaws.com/live)
    is the endpoint and no DNS record is the stack's to make."""
    from rendered import rendered_without_cloudfront

    snapshot = rendered_without_cloudfront("dev")
    stage = resource_named(snapshot, "aws:apigateway/stage:Stage", "edge-stage")["outputs"]
    assert snapshot["outputs"]["apiEndpoint"] == f"{stage['invokeUrl'].rstrip('/')}/v1"
    assert re.fullmatch(r"https://[a-z0-9-]+\.execute-api\.us-east-1\.amazonaws\.com/live/v1", snapshot["outputs"]["apiEndpoint"])
    assert snapshot["outputs"]["dnsRecord"] == "none: the API Gateway stage URL is the endpoint"


@pytest.mark.parametrize("stack", STACKS)
def test_distribution_renders_exactly(stack, request):
    """CloudFront API DistributionConfig: enabled, geo restriction none, cached methods GET+HEAD (the only other
    choice adds OPTIONS), no compression (SSE must flow), the origin on API Gateway's execute-api host
    (<api id>.execute-api.<region>.amazonaws.com) with the stage as origin path."""
    snapshot = request.getfixturevalue(stack)
    props = _props(snapshot, "aws:cloudfront/distribution:Distribution", "edge-cdn")
    budget = BUDGET[snapshot["stack"]]
    edge = read_stack_config(snapshot["stack"])["vllm-eks:edge"]
    secret = resource_named(snapshot, "random:index/randomPassword:RandomPassword", "edge-origin-verify")["outputs"]["result"]
    api_id = resource_named(snapshot, "aws:apigateway/requestValidator:RequestValidator", "edge-body-validator")["props"]["restApi"]
    assert props == {
        "aliases": [edge["domainName"]], "comment": "edge: OpenAI-compatible API",
        "defaultCacheBehavior": {
            "allowedMethods": ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"],
            "cachePolicyId": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad", "cachedMethods": ["GET", "HEAD"], "compress": False,
            "originRequestPolicyId": "b689b0a8-53d0-40ab-baf2-68738e2966ac", "targetOriginId": "api-gateway",
            "viewerProtocolPolicy": "https-only"},
        "enabled": True, "httpVersion": "http2and3",
        "origins": [{"customHeaders": [{"name": "x-origin-verify", "value": secret}],
                     "customOriginConfig": {"httpPort": 80, "httpsPort": 443, "originKeepaliveTimeout": 60,
                                            "originProtocolPolicy": "https-only", "originReadTimeout": budget + 5,
                                            "originSslProtocols": ["TLSv1.2"]},
                     "domainName": f"{api_id}.execute-api.us-east-1.amazonaws.com",
                     "originId": "api-gateway", "originPath": "/live", "responseCompletionTimeout": budget + 5}],
        "priceClass": "PriceClass_100", "restrictions": {"geoRestriction": {"restrictionType": "none"}},
        "viewerCertificate": {"acmCertificateArn": edge["certificateArn"], "minimumProtocolVersion": "TLSv1.2_2021",
                              "sslSupportMethod": "sni-only"},
        "webAclId": _arn(snapshot, "aws:wafv2/webAcl:WebAcl", "edge-waf")}
    assert snapshot["outputs"]["apiEndpoint"] == f"https://{edge['domainName']}/v1"
    host = resource_named(snapshot, "aws:cloudfront/distribution:Distribution", "edge-cdn")["outputs"]["domainName"]
    assert snapshot["outputs"]["dnsRecord"] == f"create: {edge['domainName']} CNAME {host}"


def test_without_a_domain_cloudfront_serves_its_own_name_and_certificate():
    """CloudFront API ViewerCertificate: CloudFrontDefaultCertificate true serves *.cloudfront.net (the mandatory
    edge-tls-1-2 policy then refuses it, which is policy's business); no alias, and the endpoint and DNS output say
    the CloudFront domain is the name."""
    snapshot = _cloudfront_without_a_domain()
    distribution = resource_named(snapshot, "aws:cloudfront/distribution:Distribution", "edge-cdn")
    assert distribution["props"]["viewerCertificate"] == {"cloudfrontDefaultCertificate": True,
                                                          "minimumProtocolVersion": "TLSv1.2_2021"}
    assert "aliases" not in distribution["props"]
    assert snapshot["outputs"]["apiEndpoint"] == f"https://{distribution['outputs']['domainName']}/v1"
    assert snapshot["outputs"]["dnsRecord"] == "none: clients use the CloudFront domain of apiEndpoint"
    assert not resources_of(snapshot, "aws:route53/record:Record")


# --- the router ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_router_objects_render_exactly(stack, request):
    """vllm-router 0.1.17 (FACTS "vLLM router"): /liveness answers for the process alone; probes every 5 s with a
    2 s timeout, liveness after 6 failures; a 15 s preStop sleep (Kubernetes "Container Lifecycle Hooks", sleep
    action) while the ALB stops routing to the deregistering target; one surge pod per rollout, spread across
    zones. Service, PDB, TargetGroupBinding (elbv2.k8s.aws/v1beta1, AWS Load Balancer Controller) and PodMonitor
    (monitoring.coreos.com/v1: the `metrics` port's /metrics) all select the router's own labels."""
    snapshot = request.getfixturevalue(stack)
    model = "qwen3-1-7b" if snapshot["stack"] == "dev" else "qwen3-8b"
    namespace, labels, budget = f"vllm-{model}", _router_labels(model), BUDGET[snapshot["stack"]]
    metadata = {"labels": labels, "name": "vllm-router", "namespace": namespace}
    name = f"edge-{model}-router"
    deployment = _props(snapshot, "kubernetes:apps/v1:Deployment", f"{name}-deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    probe = {"httpGet": {"path": "/liveness", "port": "http"}, "periodSeconds": 5, "timeoutSeconds": 2}
    assert {key: value for key, value in container.items() if key not in ("args", "securityContext", "volumeMounts", "resources")} == {
        "command": ["vllm-router"], "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub/vllm/vllm-router:v0.1.17",
        "imagePullPolicy": "IfNotPresent", "lifecycle": {"preStop": {"sleep": {"seconds": 15}}},
        "livenessProbe": {**probe, "failureThreshold": 6}, "readinessProbe": probe, "name": "router",
        "ports": [{"containerPort": 8000, "name": "http", "protocol": "TCP"},
                  {"containerPort": 29000, "name": "metrics", "protocol": "TCP"}]}
    assert {key: value for key, value in deployment.items() if key != "spec"} == {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata}
    assert {key: value for key, value in deployment["spec"].items() if key != "template"} == {
        "replicas": 2, "selector": {"matchLabels": labels},
        "strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}, "type": "RollingUpdate"}}
    assert deployment["spec"]["template"]["metadata"] == {"labels": labels}
    assert (pod["serviceAccountName"], pod["terminationGracePeriodSeconds"], pod["topologySpreadConstraints"]) == (
        "vllm-router", budget + 30, [{"labelSelector": {"matchLabels": labels}, "maxSkew": 1,
                                      "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway"}])
    assert _props(snapshot, "kubernetes:core/v1:ServiceAccount", f"{name}-account") == {
        "apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata}
    discovery = {**metadata, "name": "vllm-router-discovery"}
    assert _props(snapshot, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", f"{name}-discovery") == {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": discovery,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "vllm-router-discovery"},
        "subjects": [{"kind": "ServiceAccount", "name": "vllm-router", "namespace": namespace}]}
    assert _props(snapshot, "kubernetes:rbac.authorization.k8s.io/v1:Role", f"{name}-discovery")["metadata"] == discovery
    assert _props(snapshot, "kubernetes:core/v1:Service", f"{name}-service") == {
        "apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": {
            "ports": [{"name": "http", "port": 8000, "protocol": "TCP", "targetPort": "http"}], "selector": labels,
            "type": "ClusterIP"}}
    assert _props(snapshot, "kubernetes:policy/v1:PodDisruptionBudget", f"{name}-pdb") == {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": metadata,
        "spec": {"minAvailable": 1, "selector": {"matchLabels": labels}}}
    assert _props(snapshot, "kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding", f"{name}-target-group-binding") == {
        "apiVersion": "elbv2.k8s.aws/v1beta1", "kind": "TargetGroupBinding", "metadata": metadata,
        "spec": {"serviceRef": {"name": "vllm-router", "port": 8000}, "targetType": "ip",
                 "targetGroupARN": _arn(snapshot, "aws:lb/targetGroup:TargetGroup", f"edge-{model}")}}
    assert _props(snapshot, "kubernetes:monitoring.coreos.com/v1:PodMonitor", f"{name}-pod-monitor") == {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor", "metadata": metadata,
        "spec": {"podMetricsEndpoints": [{"path": "/metrics", "port": "metrics"}], "selector": {"matchLabels": labels}}}
    assert _props(snapshot, "kubernetes:core/v1:NamespacePatch", f"{name}-readiness-gate") == {
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"labels": {"elbv2.k8s.aws/pod-readiness-gate-inject": "enabled"}, "name": namespace}}
    policies = {r["name"]: r["props"]["metadata"] for r in resources_of(snapshot, "kubernetes:networking.k8s.io/v1:NetworkPolicy")
                if r["name"].startswith(name)}
    assert {key: value["name"] for key, value in policies.items()} == {
        f"{name}-default-deny": "default-deny", f"{name}-vllm-from-router": "vllm-from-router",
        f"{name}-router-from-alb": "router-from-alb"}


# --- component outputs and the pure builders' edges -----------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_components_register_their_outputs(stack, request):
    """Pulumi "Component resources": register_outputs records what the component exposes (shown in `pulumi stack
    --show-urns` and used by the program's exports)."""
    snapshot = request.getfixturevalue(stack)
    edge = resource_named(snapshot, "vllm-eks:index:Edge", "edge")["outputs"]
    outputs = snapshot["outputs"]
    assert edge == {
        "endpoint": outputs["apiEndpoint"], "dns_record": outputs["dnsRecord"],
        "waf_acl_arn": _arn(snapshot, "aws:wafv2/webAcl:WebAcl", "edge-waf"),
        "load_balancer_arn_suffix": outputs["edgeLoadBalancerArnSuffix"],
        "target_group_arn_suffixes": outputs["edgeTargetGroupArnSuffixes"],
        "consumer_key_secret_arns": outputs["consumerKeySecretArns"]}
    model = "qwen3-1-7b" if snapshot["stack"] == "dev" else "qwen3-8b"
    assert resource_named(snapshot, "vllm-eks:index:ModelRouter", f"edge-{model}-router")["outputs"] == {
        "service_name": "vllm-router"}
    assert resource_named(snapshot, "vllm-eks:index:InternalApiKey", "internal-api-key")["outputs"] == {
        "secret_arn": _arn(snapshot, "aws:secretsmanager/secret:Secret", "internal-api-key-secret")}


@pytest.mark.parametrize("stack", STACKS)
def test_gateway_responses_are_named_by_their_type(stack, request):
    snapshot = request.getfixturevalue(stack)
    assert sorted(r["name"] for r in resources_of(snapshot, "aws:apigateway/response:Response")) == [
        "edge-response-access-denied", "edge-response-bad-request-body", "edge-response-integration-timeout",
        "edge-response-invalid-api-key", "edge-response-missing-authentication-token", "edge-response-quota-exceeded",
        "edge-response-request-too-large", "edge-response-throttled", "edge-response-unauthorized",
        "edge-response-waf-filtered"]


def test_the_stage_redeploy_trigger_covers_routes_models_timeouts_mappings_responses_and_authorizer(prod_snapshot):
    """The deployment's trigger (API Gateway "Deploy a REST API": a change reaches clients only through a new
    deployment) is the SHA-256 of this document, written out: everything a client sees through the stage."""
    import hashlib

    chain = {"request_seconds": 600, "api_gateway_integration_ms": 600_000, "cloudfront_read_seconds": 605,
             "cloudfront_completion_seconds": 605, "alb_idle_seconds": 605, "router_request_seconds": 610,
             "deregistration_delay_seconds": 610, "router_termination_grace_seconds": 630}
    responses = {
        "MISSING_AUTHENTICATION_TOKEN": [404, "Not found.", "NotFoundError"],
        "UNAUTHORIZED": [401, "Missing or malformed API key (Authorization: Bearer <key>).", "AuthenticationError"],
        "ACCESS_DENIED": [403, "Access denied.", "PermissionDeniedError"],
        "INVALID_API_KEY": [401, "Invalid API key.", "AuthenticationError"],
        "THROTTLED": [429, "Rate limit exceeded.", "RateLimitError"],
        "QUOTA_EXCEEDED": [429, "Monthly quota exceeded.", "RateLimitError"],
        "BAD_REQUEST_BODY": [400, "The request body needs a `model` string.", "BadRequestError"],
        "REQUEST_TOO_LARGE": [413, "Request body too large.", "BadRequestError"],
        "INTEGRATION_TIMEOUT": [504, "The model did not answer within the request time limit.", "APITimeoutError"],
        "WAF_FILTERED": [403, "Request blocked.", "PermissionDeniedError"]}
    document = {
        "routes": [{"path": "/v1/chat/completions", "method": "POST", "routed_by_model": True},
                   {"path": "/v1/completions", "method": "POST", "routed_by_model": True},
                   {"path": "/v1/models", "method": "GET", "routed_by_model": False}],
        "models": ["qwen3-8b"], "timeouts": chain,
        "parameters": {"integration.request.header.x-vllm-model": "method.request.body.model",
                       "integration.request.header.Authorization": "context.authorizer.vllmAuthorization",
                       "integration.request.header.X-Request-Id": "context.requestId",
                       "integration.request.header.x-origin-verify": "'-'"},
        "responses": responses,
        "authorizer": {"identity": ["method.request.header.Authorization", "method.request.header.x-origin-verify"],
                       "ttl": 300}}
    expected = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
    assert _props(prod_snapshot, "aws:apigateway/deployment:Deployment", "edge-deployment") == {
        "restApi": "id:edge-api",
        "triggers": {"routes": expected}}


def test_the_timeout_chain_and_route_table_are_immutable():
    """One chain is shared by every hop's component: none may change it under the others."""
    from dataclasses import FrozenInstanceError

    from vllm_eks.edge import edge_specs as specs

    chain = specs.timeout_chain(300)
    with pytest.raises(FrozenInstanceError):
        chain.alb_idle_seconds = 1  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        specs.ROUTES[0].path = "/"  # type: ignore[misc]


def test_config_errors_of_the_pure_builders_name_the_setting_the_value_and_what_is_allowed():
    from vllm_eks.edge import edge_specs as specs

    with pytest.raises(ValueError) as error:
        specs.timeout_chain(901)
    assert str(error.value) == ("edge.maxRequestSeconds: got 901, expected at most 900 "
                                "(API Gateway's streaming integration limit)")
    with pytest.raises(ValueError) as error:
        specs.listener_rule_priorities(["a", "Qwen3-8B", "qwen3-8b"])
    assert str(error.value) == (
        "models[].servedName: got ['Qwen3-8B', 'qwen3-8b'], expected names that differ by more than letter case "
        "(the load balancer matches the model header case-insensitively)")
    assert specs.listener_rule_priorities(["a", "b", "c"]) == {"a": 100, "b": 110, "c": 120}
