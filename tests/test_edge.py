"""Edge, as rendered for dev and prod: routes, authorizer, usage plans, STREAM and the timeout chain, WAF,
CloudFront, the internal ALB, and the router objects the AWS Load Balancer Controller binds."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from vllm_eks.planning import catalog
from vllm_eks.edge import edge_specs as specs
from vllm_eks.planning.catalog import AWS_LOAD_BALANCER_CONTROLLER_APP_VERSION, AWS_LOAD_BALANCER_CONTROLLER_CHART
from rendered import resources_of
from k8s_schemas import CRDS_DIR, manifest, validate_core, validate_custom
from preflight.render import read_stack_config

STACKS = ["dev_snapshot", "prod_snapshot"]
# The OpenAI generation routes forwarded to a model's router (vLLM docs, "OpenAI-Compatible Server"); GET /v1/models
# is answered by API Gateway itself.
ROUTED_PATHS = {"/v1/chat/completions", "/v1/completions"}


def _edge_config(snapshot) -> dict:
    return read_stack_config(snapshot["stack"])["vllm-eks:edge"]


def _models(snapshot) -> list[dict]:
    return read_stack_config(snapshot["stack"])["vllm-eks:models"]


def _one(snapshot, type_token, predicate=lambda r: True) -> dict:
    found = [r for r in resources_of(snapshot, type_token) if predicate(r)]
    assert len(found) == 1, f"expected one {type_token}, found {[r['name'] for r in found]}"
    return found[0]


def _api_paths(snapshot) -> set[str]:
    """Full paths of the API Gateway resources, rebuilt from their parents (names end with the path)."""
    return {r["name"].split("-path", 1)[1].replace("-", "/") for r in resources_of(snapshot, "aws:apigateway/resource:Resource")}


def _router_deployments(snapshot) -> list[dict]:
    return [r for r in resources_of(snapshot, "kubernetes:apps/v1:Deployment") if r["props"]["metadata"]["name"] == "vllm-router"]


def _flag(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


# --- API Gateway --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_only_the_v1_routes_exist_at_the_edge(stack, request):
    snapshot = request.getfixturevalue(stack)
    paths = _api_paths(snapshot)
    assert paths == {"/v1", "/v1/chat", "/v1/chat/completions", "/v1/completions", "/v1/models"}
    path_parts = [r["props"]["pathPart"] for r in resources_of(snapshot, "aws:apigateway/resource:Resource")]
    assert not any("{" in part for part in path_parts), "a greedy or variable path would expose every vLLM route"
    assert not any(part in ("metrics", "health", "tokenize", "ping", "version") for part in path_parts)


@pytest.mark.parametrize("stack", STACKS)
def test_every_method_requires_the_authorizer_and_a_key(stack, request):
    snapshot = request.getfixturevalue(stack)
    api = _one(snapshot, "aws:apigateway/restApi:RestApi")
    assert api["props"]["apiKeySource"] == "AUTHORIZER"
    assert api["props"]["endpointConfiguration"]["types"] == "REGIONAL"
    assert api["props"]["securityPolicy"] == "TLS_1_2"
    authorizer = _one(snapshot, "aws:apigateway/authorizer:Authorizer")
    assert authorizer["props"]["type"] == "REQUEST"
    assert authorizer["props"]["identitySource"].split(",")[0] == "method.request.header.Authorization"
    assert float(authorizer["props"]["authorizerResultTtlInSeconds"]) == 300  # one authorizer call per key per 5 min
    # API Gateway "Use API Gateway Lambda authorizers": authorizerUri is the function's invocation URI,
    # arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function ARN>/invocations
    function = _one(snapshot, "aws:lambda/function:Function")
    assert authorizer["props"]["authorizerUri"] == (
        f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{function['outputs']['arn']}/invocations")
    methods = resources_of(snapshot, "aws:apigateway/method:Method")
    assert {(m["props"]["httpMethod"]) for m in methods} == {"GET", "POST"}
    assert len(methods) == 3  # POST /v1/chat/completions, POST /v1/completions, GET /v1/models
    for method in methods:
        assert method["props"]["authorization"] == "CUSTOM"
        assert method["props"]["authorizerId"]
        assert method["props"]["apiKeyRequired"] is True


def test_behind_cloudfront_the_authorizer_also_keys_on_the_origin_secret(prod_snapshot, regional_snapshot):
    prod_sources = _one(prod_snapshot, "aws:apigateway/authorizer:Authorizer")["props"]["identitySource"]
    assert "method.request.header.x-origin-verify" in prod_sources.split(",")  # the header CloudFront adds
    function = _one(prod_snapshot, "aws:lambda/function:Function")
    assert "ORIGIN_VERIFY_SECRET_ARN" in function["props"]["environment"]["variables"]
    dev_function = _one(regional_snapshot, "aws:lambda/function:Function")
    assert "ORIGIN_VERIFY_SECRET_ARN" not in dev_function["props"]["environment"]["variables"]


@pytest.mark.parametrize("stack", STACKS)
def test_authorizer_lambda_reads_only_the_secrets_it_needs(stack, request):
    snapshot = request.getfixturevalue(stack)
    function = _one(snapshot, "aws:lambda/function:Function")
    # A Python runtime AWS Lambda supports (Lambda developer guide, "Lambda runtimes")
    # whose boto3 the handler uses (tests/test_authorizer.py).
    assert function["props"]["runtime"] == "python3.13"
    assert function["props"]["handler"] == "handler.handler"
    # AWS Lambda developer guide, "Lambda execution role": only the Lambda service assumes it
    role = _one(snapshot, "aws:iam/role:Role", lambda r: r["name"] == "edge-authorizer")
    assert json.loads(role["props"]["assumeRolePolicy"]) == {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    # The secrets' ARNs, never their values: vLLM's internal key and CloudFront's origin-verify value.
    secrets = {r["name"]: r["outputs"]["arn"] for r in resources_of(snapshot, "aws:secretsmanager/secret:Secret")}
    internal, origin = secrets["internal-api-key-secret"], secrets["edge-origin-verify"]
    assert function["props"]["environment"] == {"variables": {"INTERNAL_KEY_SECRET_ARN": internal,
                                                              "ORIGIN_VERIFY_SECRET_ARN": origin}}
    # Lambda developer guide, "Configuring advanced logging controls": the function writes to the log group named in
    # loggingConfig, here Lambda's own /aws/lambda/<function name>, created beforehand with the stack's retention.
    log_group = _one(snapshot, "aws:cloudwatch/logGroup:LogGroup", lambda r: r["name"] == "edge-authorizer")
    prefix = snapshot["outputs"]["clusterName"]  # the stack's physical name prefix, vllm-eks-<stack>
    assert (function["props"]["name"], log_group["props"]["name"]) == (f"{prefix}-authorizer", f"/aws/lambda/{prefix}-authorizer")
    assert function["props"]["loggingConfig"] == {"logFormat": "Text", "logGroup": f"/aws/lambda/{prefix}-authorizer"}
    # Its role writes its own log streams and reads those two secrets, nothing else (the log-stream ARN is the
    # group's ARN with ":*": Service Authorization Reference, Amazon CloudWatch Logs, log-stream resource).
    policy = json.loads(_one(snapshot, "aws:iam/rolePolicy:RolePolicy", lambda r: "authorizer" in r["name"])["props"]["policy"])
    assert policy == {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": f"{log_group['outputs']['arn']}:*"},
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": [internal, origin]}]}


@pytest.mark.parametrize("stack", [*STACKS, "regional_snapshot"])
def test_routed_integrations_stream_through_the_vpc_link_with_the_edge_headers(stack, request):
    snapshot = request.getfixturevalue(stack)
    behind_cloudfront = bool(resources_of(snapshot, "aws:cloudfront/distribution:Distribution"))
    assert behind_cloudfront == (stack != "regional_snapshot")
    max_seconds = _edge_config(snapshot)["maxRequestSeconds"]
    routed = [i for i in resources_of(snapshot, "aws:apigateway/integration:Integration") if i["props"]["type"] == "HTTP_PROXY"]
    assert len(routed) == len(ROUTED_PATHS)
    alb = _one(snapshot, "aws:lb/loadBalancer:LoadBalancer")
    for integration in routed:
        props = integration["props"]
        assert props["connectionType"] == "VPC_LINK"
        assert props["responseTransferMode"] == "STREAM"
        assert float(props["timeoutMilliseconds"]) == max_seconds * 1000 <= 900_000
        # API Gateway "Private integrations for REST APIs": a VPC link V2 integration names the ALB by its ARN.
        assert props["integrationTarget"] == alb["outputs"]["arn"]
        assert props["uri"].split("/", 3)[3] in {p.lstrip("/") for p in ROUTED_PATHS}
        # The URI's host is the ALB's own DNS name output, which for an internal ALB has the shape
        # internal-<name>-<id>.<region>.elb.amazonaws.com (Elastic Load Balancing "Internal load balancers").
        host = props["uri"].split("/")[2]
        assert host == alb["outputs"]["dnsName"]
        assert re.fullmatch(rf"internal-{alb['name']}-[0-9a-f]+\.us-east-1\.elb\.amazonaws\.com", host), host
        # API Gateway "Parameter mapping": method.request.body.<JSONPath>, context.* variables, 'static' values.
        # Behind CloudFront the origin secret is overwritten with a static '-' so it never reaches the ALB.
        assert props["requestParameters"] == {
            "integration.request.header.x-vllm-model": "method.request.body.model",
            "integration.request.header.Authorization": "context.authorizer.vllmAuthorization",
            "integration.request.header.X-Request-Id": "context.requestId",
            **({"integration.request.header.x-origin-verify": "'-'"} if behind_cloudfront else {}),
        }


@pytest.mark.parametrize("stack", STACKS)
def test_models_list_is_answered_at_the_edge_from_the_config(stack, request):
    snapshot = request.getfixturevalue(stack)
    mock = _one(snapshot, "aws:apigateway/integration:Integration", lambda r: r["props"]["type"] == "MOCK")
    assert mock["props"]["httpMethod"] == "GET"
    response = _one(snapshot, "aws:apigateway/integrationResponse:IntegrationResponse")
    listed = json.loads(response["props"]["responseTemplates"]["application/json"])
    assert listed["object"] == "list"
    assert [model["id"] for model in listed["data"]] == [m["servedName"] for m in _models(snapshot)]


@pytest.mark.parametrize("stack", STACKS)
def test_unknown_routes_are_404_and_errors_are_openai_shaped(stack, request):
    """API Gateway developer guide, "Gateway response types": MISSING_AUTHENTICATION_TOKEN answers a route that does
    not exist (403 by default, here 404 so /metrics and /health are simply not found); the others are the key, usage
    plan, body validation, size, timeout and WAF refusals. Each body is an OpenAI error whose `type` is the class the
    OpenAI Python SDK raises for that status (openai/_exceptions.py and _client.py `_make_status_error`: 400
    BadRequestError, 401 AuthenticationError, 403 PermissionDeniedError, 404 NotFoundError, 429 RateLimitError;
    APITimeoutError for a request that ran out of time)."""
    snapshot = request.getfixturevalue(stack)
    responses = {r["props"]["responseType"]: r["props"] for r in resources_of(snapshot, "aws:apigateway/response:Response")}
    bodies = {kind: json.loads(props["responseTemplates"]["application/json"])["error"] for kind, props in responses.items()}
    assert {kind: (props["statusCode"], bodies[kind]["type"]) for kind, props in responses.items()} == {
        "MISSING_AUTHENTICATION_TOKEN": ("404", "NotFoundError"),
        "UNAUTHORIZED": ("401", "AuthenticationError"), "INVALID_API_KEY": ("401", "AuthenticationError"),
        "ACCESS_DENIED": ("403", "PermissionDeniedError"), "WAF_FILTERED": ("403", "PermissionDeniedError"),
        "THROTTLED": ("429", "RateLimitError"), "QUOTA_EXCEEDED": ("429", "RateLimitError"),
        "BAD_REQUEST_BODY": ("400", "BadRequestError"), "REQUEST_TOO_LARGE": ("413", "BadRequestError"),
        "INTEGRATION_TIMEOUT": ("504", "APITimeoutError"),
    }
    assert all(body["code"] == int(responses[kind]["statusCode"]) and body["message"] for kind, body in bodies.items())
    assert bodies["BAD_REQUEST_BODY"]["message"] == "The request body needs a `model` string."


@pytest.mark.parametrize("stack", STACKS)
def test_one_usage_plan_key_and_secret_per_consumer(stack, request):
    snapshot = request.getfixturevalue(stack)
    consumers = _edge_config(snapshot)["consumers"]
    plans = {p["name"].rsplit("consumer-", 1)[1]: p["props"] for p in resources_of(snapshot, "aws:apigateway/usagePlan:UsagePlan")}
    assert set(plans) == {c["name"] for c in consumers}
    for consumer in consumers:
        plan = plans[consumer["name"]]
        assert float(plan["throttleSettings"]["rateLimit"]) == consumer["requestsPerSecond"]
        assert float(plan["throttleSettings"]["burstLimit"]) == consumer["burst"]
        if "monthlyQuota" in consumer:
            assert plan["quotaSettings"] == {"limit": consumer["monthlyQuota"], "period": "MONTH"}
        else:
            assert plan.get("quotaSettings") is None
        assert plan["apiStages"][0]["stage"] == "live"
    assert len(resources_of(snapshot, "aws:apigateway/apiKey:ApiKey")) == len(consumers)
    assert len(resources_of(snapshot, "aws:apigateway/usagePlanKey:UsagePlanKey")) == len(consumers)
    key_secrets = [s for s in resources_of(snapshot, "aws:secretsmanager/secret:Secret") if "-consumer-" in s["name"]]
    assert len(key_secrets) == len(consumers)
    passwords = [p for p in resources_of(snapshot, "random:index/randomPassword:RandomPassword") if "-consumer-" in p["name"]]
    assert {p["props"]["keepers"]["keyVersion"] for p in passwords} == {str(c.get("keyVersion", 1)) for c in consumers}


@pytest.mark.parametrize("stack", STACKS)
def test_access_logs_are_json_with_request_id_consumer_and_status_never_data(stack, request):
    snapshot = request.getfixturevalue(stack)
    stage = _one(snapshot, "aws:apigateway/stage:Stage")
    line = json.loads(stage["props"]["accessLogSettings"]["format"])
    assert sorted(line) == ["consumerKeyId", "errorType", "integrationStatus", "ip", "latencyMs", "method", "path",
                            "principal", "requestId", "status", "tlsVersion", "wafStatus"]
    assert "apiKey}" not in stage["props"]["accessLogSettings"]["format"]
    settings = _one(snapshot, "aws:apigateway/methodSettings:MethodSettings")["props"]["settings"]
    # API Gateway "Set up CloudWatch logging for REST APIs": execution logs at ERROR only, never the full request and
    # response data (it would log the Authorization header); CloudWatch metrics per method on.
    assert settings == {"metricsEnabled": True, "loggingLevel": "ERROR", "dataTraceEnabled": False}
    log_group = _one(snapshot, "aws:cloudwatch/logGroup:LogGroup", lambda r: "access-logs" in r["name"])
    assert float(log_group["props"]["retentionInDays"]) == 30  # observability.logRetentionDays' default


# --- WAF ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stack, scope", [("regional_snapshot", "REGIONAL"), ("dev_snapshot", "CLOUDFRONT"), ("prod_snapshot", "CLOUDFRONT")]
)
def test_waf_rules_and_association(stack, scope, request):
    snapshot = request.getfixturevalue(stack)
    edge = _edge_config(snapshot)
    acl = _one(snapshot, "aws:wafv2/webAcl:WebAcl")
    assert acl["props"]["scope"] == scope
    rules = {rule["name"]: rule for rule in acl["props"]["rules"]}
    # AWS managed rule groups first (priorities 0-2), then the stack's own size and rate rules.
    assert [(rule["name"], float(rule["priority"])) for rule in acl["props"]["rules"]] == [
        ("AWSManagedRulesCommonRuleSet", 0), ("AWSManagedRulesKnownBadInputsRuleSet", 1),
        ("AWSManagedRulesAmazonIpReputationList", 2), ("body-size-limit", 10), ("rate-per-api-key", 20),
        ("rate-per-ip", 30)]
    # AWS WAF SizeConstraintStatement: block a body Greater Than the limit; a body longer than WAF inspects matches
    assert rules["body-size-limit"]["statement"]["sizeConstraintStatement"] == {
        "comparisonOperator": "GT", "size": edge.get("maxBodyKib", 64) * 1024,
        "fieldToMatch": {"body": {"oversizeHandling": "MATCH"}}, "textTransformations": [{"priority": 0, "type": "NONE"}]}
    per_key = rules["rate-per-api-key"]["statement"]["rateBasedStatement"]
    assert per_key["aggregateKeyType"] == "CUSTOM_KEYS"
    assert per_key["customKeys"][0]["header"]["name"] == "authorization"
    assert float(per_key["limit"]) == edge.get("rateLimitPerKey5Min", 2000)
    per_ip = rules["rate-per-ip"]["statement"]["rateBasedStatement"]
    assert per_ip["aggregateKeyType"] == "IP"
    assert float(per_ip["limit"]) == edge.get("rateLimitPerIp5Min", 5000)
    for rule in [*rules.values(), acl["props"]]:
        visibility = rule["visibilityConfig"]
        assert visibility["cloudwatchMetricsEnabled"] is True and visibility["sampledRequestsEnabled"] is True
    if scope == "REGIONAL":
        association = _one(snapshot, "aws:wafv2/webAclAssociation:WebAclAssociation")
        assert "/stages/live" in association["props"]["resourceArn"]
    else:
        assert acl["props"]["region"] == "us-east-1"
        assert _one(snapshot, "aws:cloudfront/distribution:Distribution")["props"]["webAclId"]


def test_waf_inspects_the_whole_allowed_body():
    """The request-body key names the protected resource type in pulumi-aws's own spelling
    (WebAclAssociationConfigRequestBodyArgsDict: `cloudfront`, `api_gateway`; WAF API "AssociationConfig")."""
    assert specs.waf_association_config("REGIONAL", 16) is None
    assert specs.waf_association_config("CLOUDFRONT", 64) == {
        "request_bodies": [{"cloudfront": {"default_size_inspection_limit": "KB_64"}}]
    }
    assert specs.waf_association_config("REGIONAL", 48) == {
        "request_bodies": [{"api_gateway": {"default_size_inspection_limit": "KB_48"}}]
    }
    assert specs.body_inspection_kib(17) == 32


@pytest.mark.parametrize("stack", STACKS)
def test_rendered_waf_association_keys_are_fields_the_sdk_knows(stack, request):
    """The rendered input, not the helper: every request-body key is a field of the SDK's ArgsDict."""
    import pulumi_aws as aws

    typed = aws.wafv2.WebAclAssociationConfigRequestBodyArgsDict
    known = set(typed.__required_keys__ | typed.__optional_keys__)
    acl = _one(request.getfixturevalue(stack), "aws:wafv2/webAcl:WebAcl")["props"]
    bodies = acl["associationConfig"]["requestBodies"]
    camel = {"".join(w.capitalize() if i else w for i, w in enumerate(k.split("_"))) for k in known}
    assert bodies and all(set(body) <= camel for body in bodies), bodies
    assert float(_edge_config(request.getfixturevalue(stack)).get("maxBodyKib", 64)) > 16


def test_managed_body_rules_count_and_header_rules_keep_blocking():
    """AWS WAF "Baseline rule groups": the *_BODY rules of the core rule set and known bad inputs read code, HTML,
    paths and URLs in a prompt as attacks; they count, and the groups' other rules keep their Block action."""
    rules = {rule["name"]: rule for rule in specs.waf_rules("stack", 64, 100, 100)}
    for group, counted in catalog.WAF_BODY_RULES_COUNTED.items():
        statement = rules[group]["statement"]["managed_rule_group_statement"]
        overrides = {o["name"]: o["action_to_use"] for o in statement["rule_action_overrides"]}
        assert set(overrides) == set(counted) and all(action == {"count": {}} for action in overrides.values())
        assert all(name.endswith("_BODY") for name in overrides), "only body rules are relaxed"
        assert rules[group]["override_action"] == {"none": {}}, "the group's own actions (Block) stay in force"


# --- CloudFront -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_cloudfront_is_https_only_uncached_and_outlasts_api_gateway(stack, request, regional_snapshot):
    assert not resources_of(regional_snapshot, "aws:cloudfront/distribution:Distribution")
    prod_snapshot = request.getfixturevalue(stack)
    distribution = _one(prod_snapshot, "aws:cloudfront/distribution:Distribution")["props"]
    behavior = distribution["defaultCacheBehavior"]
    assert behavior["viewerProtocolPolicy"] == "https-only"
    # CloudFront developer guide, "Use managed cache policies" / "Use managed origin request policies": CachingDisabled,
    # and AllViewerExceptHostHeader (every viewer header, Authorization included, but Host: API Gateway needs its own).
    assert behavior["cachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
    assert behavior["originRequestPolicyId"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac"
    # CloudFront API, AllowedMethods: only GET+HEAD, GET+HEAD+OPTIONS or all seven; POST needs all seven.
    assert sorted(behavior["allowedMethods"]) == ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]
    # HTTP/2 and HTTP/3 to viewers; edge locations of price class 100 (North America, Europe) keep the cost down.
    assert (distribution["httpVersion"], distribution["priceClass"]) == ("http2and3", "PriceClass_100")
    # The stack's own name and its ACM certificate (CloudFront API, ViewerCertificate: SNI, TLS 1.2 policy 2021)
    edge = _edge_config(prod_snapshot)
    assert distribution["aliases"] == [edge["domainName"]]
    assert distribution["viewerCertificate"] == {"acmCertificateArn": edge["certificateArn"], "sslSupportMethod": "sni-only",
                                                 "minimumProtocolVersion": "TLSv1.2_2021"}
    origin = distribution["origins"][0]
    max_seconds = _edge_config(prod_snapshot)["maxRequestSeconds"]
    # CloudFront API, CustomOriginConfig: HTTPS only with TLS 1.2 to API Gateway, a read timeout 5 s beyond the
    # request budget (the hop margin), and the 60 s keep-alive CloudFront allows without a quota increase
    # (CloudFront developer guide, "Keep-alive timeout (custom origins only)": 1-60 s by default).
    assert origin["customOriginConfig"] == {
        "httpPort": 80, "httpsPort": 443, "originProtocolPolicy": "https-only", "originSslProtocols": ["TLSv1.2"],
        "originReadTimeout": max_seconds + 5, "originKeepaliveTimeout": 60}
    assert float(origin["responseCompletionTimeout"]) == max_seconds + 5
    assert origin["customHeaders"][0]["name"] == "x-origin-verify"  # the header the authorizer keys on
    assert origin["originPath"] == "/live"
    # CloudFront API, DefaultCacheBehavior.TargetOriginId: the Id of the origin requests are routed to
    assert behavior["targetOriginId"] == origin["originId"] == "api-gateway"


@pytest.mark.parametrize("stack", STACKS)
def test_no_viewer_response_function_promises_what_cloudfront_never_runs(stack, request):
    """CloudFront developer guide, "Restrictions on all edge functions": no viewer-response function runs when the
    origin answers 400 or more, so such a function cannot add Retry-After to a cold-start 503."""
    snapshot = request.getfixturevalue(stack)
    for distribution in resources_of(snapshot, "aws:cloudfront/distribution:Distribution"):
        behavior = distribution["props"]["defaultCacheBehavior"]
        events = [a["eventType"] for a in behavior.get("functionAssociations") or []]
        events += [a["eventType"] for a in behavior.get("lambdaFunctionAssociations") or []]
        assert "viewer-response" not in events
    assert not resources_of(snapshot, "aws:cloudfront/function:Function")


@pytest.mark.parametrize("stack", STACKS)
def test_cloudfront_origin_timeouts_fit_the_stated_quota(stack, request):
    """AWS knowledge center "cloudfront-custom-origin-response": origin response timeouts above the default limit
    need a raised "Response timeout per origin" quota; the stack uses no more than it states."""
    snapshot = request.getfixturevalue(stack)
    quota = _edge_config(snapshot).get("cloudfrontOriginTimeoutQuotaSeconds", catalog.CLOUDFRONT_ORIGIN_TIMEOUT_DEFAULT_LIMIT_SECONDS)
    for distribution in resources_of(snapshot, "aws:cloudfront/distribution:Distribution"):
        origin = distribution["props"]["origins"][0]
        assert float(origin["customOriginConfig"]["originReadTimeout"]) <= quota
        assert float(origin["customOriginConfig"]["originReadTimeout"]) <= float(origin["responseCompletionTimeout"])


# --- timeouts across every hop ------------------------------------------------------------------------------------------


# The promised chain, written out: each hop behind API Gateway outlasts the one in front by the 5 s hop margin, the
# deregistration delay lets the longest request finish on a draining router, and the router's grace period adds the
# 15 s pre-stop (the ALB stops routing to a deregistering target within it) and one more margin.
def _promised_chain(budget: int) -> dict[str, float]:
    return {"api_gateway_integration_seconds": budget, "cloudfront_read_seconds": budget + 5,
            "cloudfront_completion_seconds": budget + 5, "alb_idle_seconds": budget + 5,
            "router_request_seconds": budget + 10, "deregistration_delay_seconds": budget + 10,
            "router_termination_grace_seconds": budget + 30}


@pytest.mark.parametrize("stack", STACKS)
def test_timeouts_chain_holds_across_the_rendered_hops(stack, request):
    snapshot = request.getfixturevalue(stack)
    budget = _edge_config(snapshot)["maxRequestSeconds"]
    integrations = {float(i["props"]["timeoutMilliseconds"]) / 1000
                    for i in resources_of(snapshot, "aws:apigateway/integration:Integration")
                    if i["props"]["type"] == "HTTP_PROXY"}
    rendered = {"api_gateway_integration_seconds": integrations,
                "alb_idle_seconds": {float(_one(snapshot, "aws:lb/loadBalancer:LoadBalancer")["props"]["idleTimeout"])},
                "deregistration_delay_seconds": {float(group["props"]["deregistrationDelay"]) for group in
                                                 resources_of(snapshot, "aws:lb/targetGroup:TargetGroup")}}
    pods = [deployment["props"]["spec"]["template"]["spec"] for deployment in _router_deployments(snapshot)]
    assert pods
    rendered["router_request_seconds"] = {float(_flag(pod["containers"][0]["args"], "--request-timeout-secs"))
                                          for pod in pods}
    rendered["router_termination_grace_seconds"] = {float(pod["terminationGracePeriodSeconds"]) for pod in pods}
    for distribution in resources_of(snapshot, "aws:cloudfront/distribution:Distribution"):
        origin = distribution["props"]["origins"][0]
        rendered["cloudfront_read_seconds"] = {float(origin["customOriginConfig"]["originReadTimeout"])}
        rendered["cloudfront_completion_seconds"] = {float(origin["responseCompletionTimeout"])}
    promised = {hop: {float(seconds)} for hop, seconds in _promised_chain(budget).items() if hop in rendered}
    assert rendered == promised


@pytest.mark.parametrize("budget", [30, 60, 300, 600, 900])
def test_timeout_chain_is_consistent_for_every_allowed_budget(budget):
    chain = specs.timeout_chain(budget)
    promised = _promised_chain(budget)
    assert chain.request_seconds == budget
    assert chain.api_gateway_integration_ms == promised.pop("api_gateway_integration_seconds") * 1000
    assert {hop: getattr(chain, hop) for hop in promised} == promised


def test_timeout_chain_refuses_budgets_api_gateway_cannot_stream():
    with pytest.raises(ValueError, match="edge.maxRequestSeconds: got 901"):
        specs.timeout_chain(901)


# --- internal ALB -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_alb_is_internal_and_reachable_only_from_the_vpc_link(stack, request):
    snapshot = request.getfixturevalue(stack)
    alb = _one(snapshot, "aws:lb/loadBalancer:LoadBalancer")["props"]
    assert alb["internal"] is True and alb["loadBalancerType"] == "application"
    assert alb["dropInvalidHeaderFields"] is True
    groups = {g["name"]: g["props"] for g in resources_of(snapshot, "aws:ec2/securityGroup:SecurityGroup") if g["name"].startswith("edge-")}
    alb_group = groups["edge-alb"]
    assert len(alb_group["ingress"]) == 1
    (ingress,) = alb_group["ingress"]
    link = _one(snapshot, "aws:apigatewayv2/vpcLink:VpcLink")["props"]
    assert ingress["securityGroups"] == link["securityGroupIds"], "the ALB admits the VPC link's group and nothing else"
    assert link["securityGroupIds"][0].startswith("edge-vpc-link-")
    assert not ingress.get("cidrBlocks") and not ingress.get("ipv6CidrBlocks")
    assert float(ingress["fromPort"]) == float(ingress["toPort"]) == 80  # the listener's port, plain HTTP inside the VPC


@pytest.mark.parametrize("stack", STACKS)
def test_one_target_group_and_listener_rule_per_model(stack, request):
    snapshot = request.getfixturevalue(stack)
    models = _models(snapshot)
    groups = resources_of(snapshot, "aws:lb/targetGroup:TargetGroup")
    assert len(groups) == len(models)
    for group in groups:
        assert group["props"]["targetType"] == "ip"
        assert group["props"]["healthCheck"]["path"] == "/liveness"  # see test_router_health.py
    listener = _one(snapshot, "aws:lb/listener:Listener")["props"]
    default = listener["defaultActions"][0]
    assert default["type"] == "fixed-response" and default["fixedResponse"]["statusCode"] == "404"
    rules = resources_of(snapshot, "aws:lb/listenerRule:ListenerRule")
    assert len(rules) == len(models)
    served = {m["servedName"] for m in models}
    for rule in rules:
        conditions = rule["props"]["conditions"]
        header = next(c["httpHeader"] for c in conditions if "httpHeader" in c)
        paths = next(c["pathPattern"]["values"] for c in conditions if "pathPattern" in c)
        # the header each routed integration fills from the body's `model` (test above)
        assert header["httpHeaderName"] == "x-vllm-model" and header["values"][0] in served
        # API Gateway sends the stage in front of the path (AWS, "Private integrations for REST APIs").
        assert set(paths) == {"/live/v1/chat/completions", "/live/v1/completions"}
        assert rule["props"]["transforms"] == [
            {"type": "url-rewrite", "urlRewriteConfig": {"rewrite": {"regex": "^/live(/v1/.*)$", "replace": "$1"}}}
        ]
        assert rule["props"]["actions"][0]["type"] == "forward"


def test_served_names_differing_only_by_case_are_refused():
    with pytest.raises(ValueError, match="differ by more than letter case"):
        specs.listener_rule_priorities(["Qwen3-8B", "qwen3-8b"])


@pytest.mark.parametrize("stack", STACKS)
def test_target_group_dimensions_are_exported_for_scale_from_zero(stack, request):
    snapshot = request.getfixturevalue(stack)
    outputs = snapshot["outputs"]
    assert outputs["edgeLoadBalancerArnSuffix"].startswith("app/")
    suffixes = outputs["edgeTargetGroupArnSuffixes"]
    assert set(suffixes) == {m["name"] for m in _models(snapshot)}
    assert all(value.startswith("targetgroup/") for value in suffixes.values())


# --- the router and the controller ------------------------------------------------------------------------------------


def test_controller_chart_matches_the_crd_release():
    crd = yaml.safe_load((CRDS_DIR / "elbv2.k8s.aws_targetgroupbindings.yaml").read_text())
    assert AWS_LOAD_BALANCER_CONTROLLER_CHART.version == AWS_LOAD_BALANCER_CONTROLLER_APP_VERSION.lstrip("v")
    assert crd["spec"]["names"]["kind"] == "TargetGroupBinding"
    readme = (CRDS_DIR / "README.md").read_text()
    assert f"| {AWS_LOAD_BALANCER_CONTROLLER_APP_VERSION} |" in readme


@pytest.mark.parametrize("stack", STACKS)
def test_controller_release_and_least_privilege_role(stack, request):
    snapshot = request.getfixturevalue(stack)
    release = _one(snapshot, "kubernetes:helm.sh/v3:Release", lambda r: r["name"] == "edge-lb-controller")["props"]
    assert release["chart"] == "aws-load-balancer-controller" and release["version"] == AWS_LOAD_BALANCER_CONTROLLER_CHART.version
    role = _one(snapshot, "aws:iam/role:Role", lambda r: r["name"] == "edge-lb-controller")
    vpc = _one(snapshot, "aws:ec2/vpc:Vpc", lambda r: True)
    # The chart's values.yaml (eks-charts, aws-load-balancer-controller): binding target groups only, so no
    # IngressClass and no Service mutator webhook (a LoadBalancer Service stays a plain one); the pod webhook's
    # objectSelector limits the readiness gate to router pods; the IRSA role on the chart's service account.
    assert release["values"] == {
        "clusterName": f"vllm-eks-{stack.removesuffix('_snapshot')}", "region": "us-east-1",
        "vpcId": vpc["outputs"]["arn"].rsplit(":", 1)[1] + "-id",  # the mocked VPC's id (preflight/mocks.py)
        "replicaCount": 2, "nodeSelector": {"vllm-eks/node-role": "system"},
        "serviceAccount": {"create": True, "name": "aws-load-balancer-controller",
                           "annotations": {"eks.amazonaws.com/role-arn": role["outputs"]["arn"]}},
        "createIngressClassResource": False, "enableServiceMutatorWebhook": False,
        "objectSelector": {"matchLabels": {"app.kubernetes.io/name": "vllm-router"}},
        "image": {"repository": "123456789012.dkr.ecr.us-east-1.amazonaws.com/ecr-public/eks/aws-load-balancer-controller"},
    }
    assert (release["namespace"], release["repositoryOpts"]) == ("kube-system", {"repo": "https://aws.github.io/eks-charts"})
    policy = json.loads(_one(snapshot, "aws:iam/rolePolicy:RolePolicy", lambda r: r["name"] == "edge-lb-controller")["props"]["policy"])
    writes = [s for s in policy["Statement"] if any(not a.split(":")[1].startswith("Describe") for a in s["Action"])]
    assert len(writes) == 1 and set(writes[0]["Action"]) == {"elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"}
    assert all(arn.startswith("arn:aws:elasticloadbalancing:") for arn in writes[0]["Resource"])
    # Two statements, each named for what it grants; the Describe calls take "*" (they support no resource-level
    # permissions: Service Authorization Reference, Elastic Load Balancing V2 and Amazon EC2).
    assert [(s["Sid"], s["Effect"], s["Resource"] == "*") for s in policy["Statement"]] == [
        ("Read", "Allow", True), ("BindRouterPods", "Allow", False)]
    trust = json.loads(_one(snapshot, "aws:iam/role:Role", lambda r: r["name"] == "edge-lb-controller")["props"]["assumeRolePolicy"])
    condition = trust["Statement"][0]["Condition"]["StringEquals"]
    assert any(value == "system:serviceaccount:kube-system:aws-load-balancer-controller" for value in condition.values())


@pytest.mark.parametrize("stack", STACKS)
def test_router_per_model_on_system_nodes_discovering_only_its_model(stack, request):
    snapshot = request.getfixturevalue(stack)
    deployments = _router_deployments(snapshot)
    assert len(deployments) == len(_models(snapshot))
    for deployment in deployments:
        validate_core(manifest(deployment))
        namespace = deployment["props"]["metadata"]["namespace"]
        spec = deployment["props"]["spec"]
        assert float(spec["replicas"]) == 2  # two routers on the system nodes; the PDB keeps one through a drain
        assert float(spec["strategy"]["rollingUpdate"]["maxUnavailable"]) == 0
        pod = spec["template"]["spec"]
        assert pod["nodeSelector"] == {"vllm-eks/node-role": "system"}
        args = pod["containers"][0]["args"]
        model = namespace.removeprefix("vllm-")
        # The whole command line (vllm-router 0.1.17 `--help`, ../shared/FACTS.md "vLLM router"): plain mode with
        # Kubernetes discovery of this namespace's vLLM pods on vLLM's port 8000 (no --enable-igw, no static
        # --worker-urls), serving on 8000 and metrics on 29000, timeouts from the 5 s-margin chain.
        assert args == [
            "--host", "0.0.0.0", "--port", "8000", "--policy", "power_of_two", "--service-discovery",
            "--selector", f"app.kubernetes.io/instance={model}", "app.kubernetes.io/name=vllm",
            "--service-discovery-port", "8000", "--service-discovery-namespace", namespace,
            "--request-id-headers", "x-request-id",
            "--request-timeout-secs", str(_edge_config(snapshot)["maxRequestSeconds"] + 10),
            "--health-check-interval-secs", "5", "--prometheus-host", "0.0.0.0", "--prometheus-port", "29000",
            "--log-level", "info",
        ]
        # Hardened like the model pods (Kubernetes "Configure a Security Context for a Pod or Container"): only /tmp
        # is writable. The token is not automounted; the same bound token, cluster CA and namespace the kubelet would
        # mount arrive as an explicit projected volume at the path in-cluster clients read (Kubernetes docs,
        # "Managing Service Accounts", bound service account token volume: expirationSeconds 3607), read-only.
        assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                                          "seccompProfile": {"type": "RuntimeDefault"}}
        (container,) = pod["containers"]
        assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                                "capabilities": {"drop": ["ALL"]}}
        assert pod["automountServiceAccountToken"] is False
        assert container["volumeMounts"] == [
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": True}]
        assert pod["volumes"] == [
            {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
            {"name": "kube-api-access", "projected": {"defaultMode": 0o444, "sources": [
                {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}}]}}]
        # A quarter core and 256 MiB reserved on the system nodes, bursting to one core and 512 MiB
        assert pod["containers"][0]["resources"] == {"requests": {"cpu": "250m", "memory": "256Mi"},
                                                     "limits": {"cpu": "1", "memory": "512Mi"}}


@pytest.mark.parametrize("stack", STACKS)
def test_router_support_objects_are_valid_and_scoped(stack, request):
    snapshot = request.getfixturevalue(stack)
    for type_token in (
        "kubernetes:core/v1:Service",
        "kubernetes:core/v1:ServiceAccount",
        "kubernetes:policy/v1:PodDisruptionBudget",
        "kubernetes:rbac.authorization.k8s.io/v1:Role",
        "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
    ):
        for resource in resources_of(snapshot, type_token):
            if resource["props"]["metadata"].get("name", "").startswith("vllm-router"):
                validate_core(manifest(resource))
    roles = [r for r in resources_of(snapshot, "kubernetes:rbac.authorization.k8s.io/v1:Role") if "router" in r["name"]]
    assert roles and all(r["props"]["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}] for r in roles)
    for pdb in resources_of(snapshot, "kubernetes:policy/v1:PodDisruptionBudget"):
        if pdb["props"]["metadata"]["name"] == "vllm-router":
            assert float(pdb["props"]["spec"]["minAvailable"]) == 1


@pytest.mark.parametrize("stack", STACKS)
def test_target_group_binding_and_pod_monitor_match_the_upstream_crds(stack, request):
    snapshot = request.getfixturevalue(stack)
    bindings = resources_of(snapshot, "kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding")
    assert len(bindings) == len(_models(snapshot))
    for binding in bindings:
        validate_custom(manifest(binding))
        assert binding["props"]["spec"]["targetType"] == "ip"
        assert binding["props"]["spec"]["serviceRef"] == {"name": "vllm-router", "port": 8000}
        # Each model's routers register in that model's own target group (one per model, as the listener rules route).
        model = binding["props"]["metadata"]["labels"]["app.kubernetes.io/instance"]
        group = _one(snapshot, "aws:lb/targetGroup:TargetGroup", lambda r, m=model: r["name"] == f"edge-{m}")
        assert binding["props"]["spec"]["targetGroupARN"] == group["outputs"]["arn"]
        assert binding["props"]["metadata"]["namespace"] == f"vllm-{model}"
    for monitor in resources_of(snapshot, "kubernetes:monitoring.coreos.com/v1:PodMonitor"):
        if monitor["props"]["metadata"]["name"] == "vllm-router":
            validate_custom(manifest(monitor))
    patches = resources_of(snapshot, "kubernetes:core/v1:NamespacePatch")
    assert any(p["props"]["metadata"]["labels"].get("elbv2.k8s.aws/pod-readiness-gate-inject") == "enabled" for p in patches)


@pytest.mark.parametrize("stack", STACKS)
def test_the_alb_reaches_the_routers_through_the_clusters_node_security_group(stack, request):
    """pulumi-eks Cluster output `nodeSecurityGroupId` is the group the nodes (and, with the VPC CNI, their pods) are
    in (pulumi-eks sdk/python/pulumi_eks/cluster.py); with skipDefaultSecurityGroups it is the EKS-created cluster
    group, the one Karpenter's nodes join. The ALB's rule to the router port opens exactly that group."""
    snapshot = request.getfixturevalue(stack)
    eks = _one(snapshot, "eks:index:Cluster")["outputs"]
    rule = _one(snapshot, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
                lambda r: r["name"] == "edge-alb-to-routers-0")["props"]
    assert rule["securityGroupId"] == eks["nodeSecurityGroupId"] == eks["clusterSecurityGroupId"]
    assert (rule["fromPort"], rule["toPort"], rule["ipProtocol"]) == (8000, 8000, "tcp")  # the router's --port


def test_the_stage_redeploys_exactly_when_what_clients_see_changes():
    """A REST API change reaches clients only through a new deployment (API Gateway developer guide, "Deploy a REST
    API"): the deployment's trigger hash is the same for the same routes, models, timeouts and authorizer, and
    differs when any of them changes."""
    from vllm_eks.edge.edge_api import route_table_hash

    timeouts = specs.timeout_chain(300)
    same = route_table_hash(["qwen3-8b"], timeouts, True)
    assert same == route_table_hash(["qwen3-8b"], specs.timeout_chain(300), True)
    variants = [route_table_hash(["qwen3-8b", "qwen3-1.7b"], timeouts, True),
                route_table_hash(["qwen3-8b"], specs.timeout_chain(600), True),
                route_table_hash(["qwen3-8b"], timeouts, False)]
    assert len({same, *variants}) == 4
