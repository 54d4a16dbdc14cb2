"""Every branch of the edge policies (policies/edge.py) on the rendered dev stack, one change at a time: the
"cannot judge yet" answer naming the value it waits for, and each side branch firing with its whole message or
staying quiet.

On a first preview the engine sends an unknown (pulumi/pulumi sdk/go/common/resource/plugin/rpc.go
UnknownStringValue) for every value computed from a resource not created yet; a policy then answers "not applicable"
with what it waits for, never a pass or a violation. The rendered dev stack is the cached session fixture; each
case copies it, and a resource policy's case asks the pack to analyze only the changed resource.
"""

from __future__ import annotations

import copy

import pytest

from tests.rendered import resource_named, resources_of

from .snapshots import UNKNOWN, add, resource

POLICIES = ("edge-no-public-lb-to-serving", "edge-waf-on-public-entry", "edge-tls-1-2",
            "edge-methods-require-authorizer", "edge-no-unauthenticated-routes", "edge-timeouts-cover-max-request")

LB = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
RULE = "aws:lb/listenerRule:ListenerRule"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
BINDING = "kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding"
SERVICE = "kubernetes:core/v1:Service"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
REST_API = "aws:apigateway/restApi:RestApi"
STAGE = "aws:apigateway/stage:Stage"
METHOD = "aws:apigateway/method:Method"
API_RESOURCE = "aws:apigateway/resource:Resource"
INTEGRATION = "aws:apigateway/integration:Integration"
ROUTE = "aws:apigatewayv2/route:Route"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVING = "vllm-qwen3-1-7b"  # the dev stack's one model namespace (a vLLM Deployment runs there)


def _props(snapshot, type_, name):
    return resource_named(snapshot, type_, name)["props"]


def _alb(s):
    return _props(s, LB, "edge-alb")


def _cdn(s):
    return _props(s, DISTRIBUTION, "edge-cdn")


def _rule(s):
    return _props(s, RULE, "edge-qwen3-1-7b")


def _router(s):
    return _props(s, DEPLOYMENT, "edge-qwen3-1-7b-router-deployment")["spec"]["template"]["spec"]["containers"][0]


def _integration(s, name="edge-post-v1-completions"):
    return _props(s, INTEGRATION, name)


def _set(getter, key, value=UNKNOWN):
    return lambda s: getter(s).__setitem__(key, value)


def _drop(getter, key):
    return lambda s: getter(s).pop(key)


def _service(namespace=SERVING, annotations=None, name="exposed"):
    """A LoadBalancer Service (Kubernetes Service spec.type; the AWS Load Balancer Controller's annotations
    service.beta.kubernetes.io/aws-load-balancer-scheme internal|internet-facing and the legacy
    service.beta.kubernetes.io/aws-load-balancer-internal "true", controller docs "Service annotations")."""
    metadata = {"name": name, "namespace": namespace}
    if annotations is not None:
        metadata["annotations"] = annotations
    return lambda s: add(s, resource(SERVICE, name, {"metadata": metadata, "spec": {"type": "LoadBalancer"}}))


def _ingress(namespace=SERVING, scheme="internet-facing"):
    """An Ingress asking the AWS Load Balancer Controller for an ALB (alb.ingress.kubernetes.io/scheme)."""
    return lambda s: add(s, resource(INGRESS, "public", {"metadata": {
        "name": "public", "namespace": namespace, "annotations": {"alb.ingress.kubernetes.io/scheme": scheme}}}))


def _route(key):
    """An HTTP API route (API Gateway v2 CreateRoute: routeKey "METHOD /path", or $default)."""
    return lambda s: add(s, resource(ROUTE, "extra", {"apiId": "api", "routeKey": key}))


def _domain_name(policy):
    """An API Gateway custom domain (CreateDomainName securityPolicy: TLS_1_0, TLS_1_2 or an enhanced
    SecurityPolicy_TLS13_* policy)."""
    props = {"domainName": "api.example.com"} if policy is None else {"domainName": "api.example.com",
                                                                       "securityPolicy": policy}
    return lambda s: add(s, resource("aws:apigateway/domainName:DomainName", "custom-domain", props))


def _checked(pack, request, base, mutation, config=None):
    """The edge policies' answer on `base` with one change. Only the changed or added resources go through Analyze
    (every other one was judged quiet on the unchanged stack, test_edge_policies.py); AnalyzeStack sees them all."""
    original = request.getfixturevalue(base)
    snapshot = copy.deepcopy(original)
    mutation(snapshot)
    before = {r["urn"]: r for r in original["resources"]}
    changed = {r["urn"] for r in snapshot["resources"] if before.get(r["urn"]) != r}
    # The other policies are switched off (pulumi_policy runs no disabled policy): a check then takes a fraction.
    others = {p["name"]: "disabled" for p in pack.policies() if p["name"] not in POLICIES}
    return pack.check(snapshot, {**others, **(config or {})}, analyze_only=changed)


# --- "cannot judge yet": the reason names the value ----------------------------------------------------------------


def _rule_pattern_unknown(s):
    for condition in _rule(s)["conditions"]:
        if "pathPattern" in condition:
            condition["pathPattern"]["values"] = UNKNOWN


UNKNOWN_CASES = [
    ("edge-no-public-lb-to-serving", "dev_snapshot", _set(_alb, "internal"), "edge-alb.internal"),
    ("edge-no-public-lb-to-serving", "dev_snapshot", _service(annotations={
        "service.beta.kubernetes.io/aws-load-balancer-scheme": UNKNOWN}), "exposed load balancer annotations"),
    ("edge-no-public-lb-to-serving", "dev_snapshot", _service(annotations={
        "service.beta.kubernetes.io/aws-load-balancer-internal": UNKNOWN}), "exposed load balancer annotations"),
    ("edge-no-public-lb-to-serving", "dev_snapshot", _ingress(scheme=UNKNOWN), "public alb.ingress.kubernetes.io/scheme"),
    ("edge-waf-on-public-entry", "dev_snapshot", lambda s: (
        _cdn(s).__setitem__("webAclId", UNKNOWN),
        resource_named(s, DISTRIBUTION, "edge-cdn")["propertyDependencies"].pop("webAclId")), "edge-cdn.webAclId"),
    ("edge-waf-on-public-entry", "regional_snapshot", _set(lambda s: _props(s, STAGE, "edge-stage"), "restApi"),
     "edge-stage.restApi/stageName"),
    ("edge-waf-on-public-entry", "regional_snapshot", _set(lambda s: _props(s, STAGE, "edge-stage"), "stageName"),
     "edge-stage.restApi/stageName"),
    ("edge-tls-1-2", "dev_snapshot", _set(lambda s: _cdn(s)["viewerCertificate"], "minimumProtocolVersion"),
     "viewerCertificate.minimumProtocolVersion"),
    ("edge-tls-1-2", "dev_snapshot", _set(lambda s: _props(s, REST_API, "edge-api"), "securityPolicy"),
     "securityPolicy"),
    ("edge-methods-require-authorizer", "dev_snapshot",
     _set(lambda s: _props(s, METHOD, "edge-get-v1-models"), "authorization"), "authorization"),
    ("edge-no-unauthenticated-routes", "dev_snapshot",
     _set(lambda s: _props(s, API_RESOURCE, "edge-path-v1-models"), "pathPart"), "edge-path-v1-models.pathPart"),
    ("edge-no-unauthenticated-routes", "dev_snapshot", _route(UNKNOWN), "extra.routeKey"),
    ("edge-no-unauthenticated-routes", "dev_snapshot", _set(lambda s: _props(s, LISTENER, "edge-listener"),
                                                            "defaultActions"), "edge-listener.defaultActions"),
    ("edge-no-unauthenticated-routes", "dev_snapshot", _set(
        lambda s: _props(s, LISTENER, "edge-listener")["defaultActions"][0], "type"), "edge-listener.defaultActions"),
    ("edge-no-unauthenticated-routes", "dev_snapshot", _set(_rule, "actions"), "edge-qwen3-1-7b.actions/conditions"),
    ("edge-no-unauthenticated-routes", "dev_snapshot", _set(lambda s: _rule(s)["actions"][0], "type"),
     "edge-qwen3-1-7b.actions/conditions"),
    ("edge-no-unauthenticated-routes", "dev_snapshot", _set(_rule, "conditions"), "edge-qwen3-1-7b.actions/conditions"),
    ("edge-no-unauthenticated-routes", "dev_snapshot", _rule_pattern_unknown, "edge-qwen3-1-7b.actions/conditions"),
    ("edge-timeouts-cover-max-request", "dev_snapshot", _set(_integration, "timeoutMilliseconds"),
     "edge-post-v1-completions.timeoutMilliseconds"),
    ("edge-timeouts-cover-max-request", "dev_snapshot", _set(lambda s: _cdn(s)["origins"][0]["customOriginConfig"],
                                                             "originReadTimeout"), "edge-cdn origin timeouts"),
    ("edge-timeouts-cover-max-request", "dev_snapshot", _set(lambda s: _cdn(s)["origins"][0],
                                                             "responseCompletionTimeout"), "edge-cdn origin timeouts"),
    ("edge-timeouts-cover-max-request", "dev_snapshot", _set(_alb, "idleTimeout"), "edge-alb.idleTimeout"),
    ("edge-timeouts-cover-max-request", "dev_snapshot", _set(lambda s: _props(s, TARGET_GROUP, "edge-qwen3-1-7b"),
                                                             "deregistrationDelay"),
     "edge-qwen3-1-7b.deregistrationDelay"),
    ("edge-timeouts-cover-max-request", "dev_snapshot", _set(_router, "args"),
     "edge-qwen3-1-7b-router-deployment command/args"),
]


@pytest.mark.parametrize("policy, base, mutation, waits_for", UNKNOWN_CASES,
                         ids=[f"{c[0]}-{c[3]}" for c in UNKNOWN_CASES])
def test_an_unknown_value_is_not_judged_and_named(pack, request, policy, base, mutation, waits_for):
    result = _checked(pack, request, base, mutation)
    assert {v.policy_name: v.message for v in result.violations if v.policy_name in POLICIES} == {}
    assert [item["reason"] for item in result.not_applicable if item["policy"] == policy] == [
        f"unknown during preview: {waits_for}"]


def test_a_web_acl_id_from_this_stacks_acl_passes_before_the_acl_exists(pack, request):
    """The distribution's webAclId is unknown until the ACL exists, but the engine's property dependencies already
    name this stack's aws:wafv2/webAcl:WebAcl (analyzer_plugin.go sends them at preview): a pass, not "cannot judge"."""
    result = _checked(pack, request, "dev_snapshot", _set(_cdn, "webAclId"))
    assert not result.by_policy("edge-waf-on-public-entry")
    assert [i for i in result.not_applicable if i["policy"] == "edge-waf-on-public-entry"] == []


# --- side branches: the whole message, or quiet ---------------------------------------------------------------------


def _internet_facing(s):
    _alb(s)["internal"] = False


def _as_alb_aliases(s):
    """pulumi-aws keeps the `aws:alb` module as an alias of `aws:lb` (same resources, older type tokens)."""
    _internet_facing(s)
    for old, new in ((LB, "aws:alb/loadBalancer:LoadBalancer"), (LISTENER, "aws:alb/listener:Listener"),
                     (RULE, "aws:alb/listenerRule:ListenerRule"), (TARGET_GROUP, "aws:alb/targetGroup:TargetGroup")):
        for item in resources_of(s, old):
            item["type"] = new


def _unbound(s):
    _internet_facing(s)
    s["resources"] = [r for r in s["resources"] if r["type"] != BINDING]


def _nested_target_group_names(s):
    """A second target group whose name is a prefix of the routed one's ("edge-qwen3" and "edge-qwen3-1-7b"): the
    ARN ".../targetgroup/edge-qwen3-1-7b-<suffix>/..." names the longer one only (ELB target group ARNs carry the
    group's name), so only that group, the one the TargetGroupBinding fills, is reported."""
    _internet_facing(s)
    group = copy.deepcopy(resource_named(s, TARGET_GROUP, "edge-qwen3-1-7b"))
    group["name"], group["urn"] = "edge-qwen3", group["urn"].rsplit("::", 1)[0] + "::edge-qwen3"
    add(s, group)


def _linked_by(type_, name, prop, how):
    """An internet-facing ALB whose listener (or rule) is linked to it only by the ARN's text (no property dependency,
    an ARN pasted or imported) or only by the engine's dependency (the ARN unknown at preview)."""
    def mutate(s):
        _internet_facing(s)
        item = resource_named(s, type_, name)
        if how == "text":
            item["propertyDependencies"].pop(prop)
        else:
            item["props"][prop] = UNKNOWN
    return mutate


def _weighted_forward(s):
    """ELB CreateRule, ForwardActionConfig: `forward.targetGroups[].arn` instead of a single targetGroupArn."""
    _internet_facing(s)
    [action] = _rule(s)["actions"]
    action["forward"] = {"targetGroups": [{"arn": action.pop("targetGroupArn"), "weight": 1}]}


def _vllm_by_command(command):
    """A Deployment recognised as vLLM by its command alone (`vllm serve` CLI or the OpenAI api_server entrypoint),
    in a namespace without the serving prefix, beside a LoadBalancer Service."""
    def mutate(s):
        add(s, resource(DEPLOYMENT, "team-server", {"metadata": {"name": "server", "namespace": "team-a"}, "spec": {
            "template": {"metadata": {"labels": {"app": "server"}}, "spec": {"containers": [{
                "name": "server", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/server:1",
                "command": command}]}}}}))
        _service(namespace="team-a")(s)
    return mutate


def _second_ordered_behavior_plain_http(s):
    """CloudFront API, CacheBehavior.ViewerProtocolPolicy on an ordered behavior (a path pattern's own policy)."""
    _cdn(s)["orderedCacheBehaviors"] = [{**_cdn(s)["defaultCacheBehavior"], "pathPattern": "/v1/models",
                                         "viewerProtocolPolicy": "allow-all"}]


def _open_method(authorization):
    def mutate(s):
        method = _props(s, METHOD, "edge-post-v1-completions")
        method["authorization"] = authorization
        method.pop("authorizerId")
    return mutate


def _rule_paths(*patterns, action="forward"):
    """ELB listener rule: a path-pattern condition (wildcards * and ?) and its action type."""
    def mutate(s):
        rule = _rule(s)
        rule["conditions"] = [{"pathPattern": {"values": list(patterns)}}]
        if action != "forward":
            rule["actions"] = [{"type": action, "fixedResponse": {"contentType": "text/plain", "statusCode": "404"}}]
    return mutate


def _buffered(type_):
    """A REST integration above 29 s must stream (API Gateway quotas: 29 s for a buffered integration; "Response
    streaming" responseTransferMode STREAM lifts it for HTTP_PROXY, HTTP and AWS_PROXY integrations)."""
    def mutate(s):
        integration = _integration(s)
        integration["type"] = type_
        integration.pop("responseTransferMode")
    return mutate


def _network_load_balancer(s):
    """An NLB has no HTTP idle timeout to cut a quiet request (ELB: idle_timeout.timeout_seconds is ALB-only)."""
    _alb(s)["loadBalancerType"] = "network"
    _alb(s)["idleTimeout"] = 10


def _router_args_with_a_number(s):
    args = _router(s)["args"]
    args[args.index("--port") + 1] = 8000
    args[args.index("--request-timeout-secs") + 1] = "30"


A_LB = "aws:lb/loadBalancer:LoadBalancer 'edge-alb'"
A_RULE = "aws:lb/listenerRule:ListenerRule 'edge-qwen3-1-7b'"
PUBLIC_ALB = (" is internet-facing (internal is not true) and forwards to target group 'edge-qwen3-1-7b', which "
              "TargetGroupBinding 'edge-qwen3-1-7b-router-target-group-binding' fills with pods of serving namespace "
              "'vllm-qwen3-1-7b'. Make the load balancer internal and reach it through the edge (API Gateway VPC link "
              "or CloudFront VPC origin).")
PUBLIC_SERVICE = ("kubernetes:core/v1:Service 'exposed' in serving namespace '{}' is a LoadBalancer Service without the "
                  "internal scheme annotation: it would expose pods to the internet.")
SCHEME = "service.beta.kubernetes.io/aws-load-balancer-scheme"
INTERNAL = "service.beta.kubernetes.io/aws-load-balancer-internal"
NOT_DEFAULT_PROTOCOL = "viewerCertificate.minimumProtocolVersion is {!r}; require TLSv1.2_2021 or later."
API_TLS = "securityPolicy is {!r} (unset means TLS_1_0); set TLS_1_2 or an enhanced SecurityPolicy_TLS13_* policy."
SEVERED = " s: the ALB would cut a quiet request."

SIDE_CASES = [
    # edge-no-public-lb-to-serving
    ("public-alb", _internet_facing, None, {"edge-no-public-lb-to-serving": [A_LB + PUBLIC_ALB]}),
    ("public-alb-aliases", _as_alb_aliases, None,
     {"edge-no-public-lb-to-serving": ["aws:alb/loadBalancer:LoadBalancer 'edge-alb'" + PUBLIC_ALB]}),
    ("public-alb-no-binding", _unbound, None, {}),
    ("public-alb-listener-by-arn-text", _linked_by(LISTENER, "edge-listener", "loadBalancerArn", "text"), None,
     {"edge-no-public-lb-to-serving": [A_LB + PUBLIC_ALB]}),
    ("public-alb-listener-by-dependency", _linked_by(LISTENER, "edge-listener", "loadBalancerArn", "dependency"), None,
     {"edge-no-public-lb-to-serving": [A_LB + PUBLIC_ALB]}),
    ("public-alb-rule-by-arn-text", _linked_by(RULE, "edge-qwen3-1-7b", "listenerArn", "text"), None,
     {"edge-no-public-lb-to-serving": [A_LB + PUBLIC_ALB]}),
    ("public-alb-rule-by-dependency", _linked_by(RULE, "edge-qwen3-1-7b", "listenerArn", "dependency"), None,
     {"edge-no-public-lb-to-serving": [A_LB + PUBLIC_ALB]}),
    ("public-alb-weighted-forward", _weighted_forward, None, {"edge-no-public-lb-to-serving": [A_LB + PUBLIC_ALB]}),
    ("vllm-serve-namespace", _vllm_by_command(["vllm", "serve", "Qwen/Qwen3-8B"]), None,
     {"edge-no-public-lb-to-serving": [PUBLIC_SERVICE.format("team-a")]}),
    ("vllm-api-server-namespace", _vllm_by_command(["python3", "-m", "vllm.entrypoints.openai.api_server"]), None,
     {"edge-no-public-lb-to-serving": [PUBLIC_SERVICE.format("team-a")]}),
    ("not-vllm-namespace", _vllm_by_command(["vllm-serve-proxy", "--upstream", "x"]), None, {}),
    ("public-alb-nested-group-names", _nested_target_group_names, None,
     {"edge-no-public-lb-to-serving": [A_LB + PUBLIC_ALB]}),
    ("service-no-annotation", _service(), None, {"edge-no-public-lb-to-serving": [PUBLIC_SERVICE.format(SERVING)]}),
    ("service-scheme-internal", _service(annotations={SCHEME: "internal"}), None, {}),
    ("service-scheme-public", _service(annotations={SCHEME: "internet-facing"}), None,
     {"edge-no-public-lb-to-serving": [PUBLIC_SERVICE.format(SERVING)]}),
    ("service-internal-flag", _service(annotations={INTERNAL: "true"}), None, {}),
    ("service-internal-flag-bool", _service(annotations={INTERNAL: True}), None, {}),
    ("service-internal-flag-false", _service(annotations={INTERNAL: "false"}), None,
     {"edge-no-public-lb-to-serving": [PUBLIC_SERVICE.format(SERVING)]}),
    ("service-outside-serving", _service(namespace="monitoring"), None, {}),
    # A namespace serves by its prefix alone (servingNamespacePrefixes, default ["vllm-"]), with no vLLM in it yet.
    ("service-serving-by-prefix", _service(namespace="vllm-next"), None,
     {"edge-no-public-lb-to-serving": [PUBLIC_SERVICE.format("vllm-next")]}),
    ("service-other-prefix", _service(namespace="vllm-next"),
     {"edge-no-public-lb-to-serving": {"servingNamespacePrefixes": ["llm-"]}}, {}),
    ("ingress-internal", _ingress(scheme="internal"), None, {}),
    ("ingress-outside-serving", _ingress(namespace="monitoring"), None, {}),
    # edge-waf-on-public-entry
    ("cdn-waf-empty", _set(_cdn, "webAclId", ""), None,
     {"edge-waf-on-public-entry": ["aws:cloudfront/distribution:Distribution 'edge-cdn' has no webAclId: the public "
                                   "entry must sit behind AWS WAF."]}),
    # edge-tls-1-2 (CloudFront ViewerCertificate.MinimumProtocolVersion: TLSv1.2_2018/2019/2021/2025, TLSv1.3_2025)
    ("tls-1-3", _set(lambda s: _cdn(s)["viewerCertificate"], "minimumProtocolVersion", "TLSv1.3_2025"), None, {}),
    ("tls-1-2-2019", _set(lambda s: _cdn(s)["viewerCertificate"], "minimumProtocolVersion", "TLSv1.2_2019"), None,
     {}),
    ("tls-1-1", _set(lambda s: _cdn(s)["viewerCertificate"], "minimumProtocolVersion", "TLSv1.1_2016"), None,
     {"edge-tls-1-2": [NOT_DEFAULT_PROTOCOL.format("TLSv1.1_2016")]}),
    ("ordered-behavior-http", _second_ordered_behavior_plain_http, None,
     {"edge-tls-1-2": ["a cache behavior allows plain HTTP (viewerProtocolPolicy allow-all); use https-only or "
                       "redirect-to-https."]}),
    ("api-tls-unset", _drop(lambda s: _props(s, REST_API, "edge-api"), "securityPolicy"), None,
     {"edge-tls-1-2": [API_TLS.format(None)]}),
    ("api-tls-1-3", _set(lambda s: _props(s, REST_API, "edge-api"), "securityPolicy",
                         "SecurityPolicy_TLS13_1_3_2025_09"), None, {}),
    ("domain-tls-1-0", _domain_name("TLS_1_0"), None, {"edge-tls-1-2": [API_TLS.format("TLS_1_0")]}),
    ("domain-tls-1-2", _domain_name("TLS_1_2"), None, {}),
    # edge-methods-require-authorizer (API Gateway PutMethod authorizationType NONE|AWS_IAM|CUSTOM|COGNITO_USER_POOLS)
    ("method-none", _open_method("NONE"), None,
     {"edge-methods-require-authorizer": ["POST method has authorization 'NONE'; every edge method must use the "
                                          "authorizer (CUSTOM or COGNITO_USER_POOLS)."]}),
    ("method-cognito-no-authorizer", _open_method("COGNITO_USER_POOLS"), None,
     {"edge-methods-require-authorizer": ["POST method is COGNITO_USER_POOLS but names no authorizerId."]}),
    ("method-iam-allowed", _open_method("AWS_IAM"),
     {"edge-methods-require-authorizer": {"allowedAuthorizationTypes": ["CUSTOM", "AWS_IAM"]}}, {}),
    # edge-no-unauthenticated-routes
    ("resource-metrics", _set(lambda s: _props(s, API_RESOURCE, "edge-path-v1-models"), "pathPart", "metrics"), None,
     {"edge-no-unauthenticated-routes": ["aws:apigateway/resource:Resource 'edge-path-v1-models' creates the route "
                                         "/metrics at the edge; expose only the /v1 routes a model serves."]}),
    ("resource-variable", _set(lambda s: _props(s, API_RESOURCE, "edge-path-v1-models"), "pathPart", "{model}"), None,
     {"edge-no-unauthenticated-routes": ["aws:apigateway/resource:Resource 'edge-path-v1-models' creates a "
                                         "greedy/variable path that forwards any route at the edge; expose only the "
                                         "/v1 routes a model serves."]}),
    ("route-proxy", _route("ANY /v1/{proxy+}"), None,
     {"edge-no-unauthenticated-routes": ["aws:apigatewayv2/route:Route 'extra' routeKey 'ANY /v1/{proxy+}' would "
                                         "reach unauthenticated routes."]}),
    ("route-metrics", _route("GET /metrics"), None,
     {"edge-no-unauthenticated-routes": ["aws:apigatewayv2/route:Route 'extra' routeKey 'GET /metrics' would reach "
                                         "unauthenticated routes."]}),
    ("route-inference", _route("POST /v1/chat/completions"), None, {}),
    ("listener-forward", _set(lambda s: _props(s, LISTENER, "edge-listener")["defaultActions"][0], "type", "forward"),
     None, {"edge-no-unauthenticated-routes": [
         "aws:lb/listener:Listener 'edge-listener' forwards every path by default (including /metrics, /health); "
         "answer unknown paths with a fixed response and forward only the inference routes in listener rules."]}),
    ("rule-health", _rule_paths("/health"), None,
     {"edge-no-unauthenticated-routes": [A_RULE + " forwards /health (path patterns ['/health'])."]}),
    ("rule-version-wildcard", _rule_paths("/v*"), None,
     {"edge-no-unauthenticated-routes": [A_RULE + " forwards /version (path patterns ['/v*'])."]}),
    ("rule-fixed-response", _rule_paths("/*", action="fixed-response"), None, {}),
    ("rule-own-forbidden-paths", _rule_paths("/live/v1/models"),
     {"edge-no-unauthenticated-routes": {"forbiddenPaths": ["/live/v1/models"]}},
     {"edge-no-unauthenticated-routes": [A_RULE + " forwards /live/v1/models (path patterns ['/live/v1/models'])."]}),
    # edge-timeouts-cover-max-request (dev's budget: its longest integration, 175 s)
    ("integration-buffered-http-proxy", _buffered("HTTP_PROXY"), None, {"edge-timeouts-cover-max-request": [
        "aws:apigateway/integration:Integration 'edge-post-v1-completions' waits 175 s without responseTransferMode "
        "STREAM; buffered integrations stop at 29 s."]}),
    ("integration-buffered-http", _buffered("HTTP"), None, {"edge-timeouts-cover-max-request": [
        "aws:apigateway/integration:Integration 'edge-post-v1-completions' waits 175 s without responseTransferMode "
        "STREAM; buffered integrations stop at 29 s."]}),
    ("integration-buffered-lambda", _buffered("AWS_PROXY"), None, {"edge-timeouts-cover-max-request": [
        "aws:apigateway/integration:Integration 'edge-post-v1-completions' waits 175 s without responseTransferMode "
        "STREAM; buffered integrations stop at 29 s."]}),
    # One integration's timeout unknown, but the budget is configured: every known hop is still judged.
    ("unknown-integration-configured-budget", _set(_integration, "timeoutMilliseconds"),
     {"edge-timeouts-cover-max-request": {"maxRequestSeconds": 180}}, {"edge-timeouts-cover-max-request": [
         "aws:apigateway/integration:Integration 'edge-post-v1-chat-completions' times out after 175 s, below the "
         "maximum request duration 180 s."]}),
    ("origin-completion-short", _set(lambda s: _cdn(s)["origins"][0], "responseCompletionTimeout", 30), None,
     {"edge-timeouts-cover-max-request": ["aws:cloudfront/distribution:Distribution 'edge-cdn' origin 'api-gateway' "
                                          "responseCompletionTimeout 30 s < 175 s."]}),
    ("alb-idle-default", _drop(_alb, "idleTimeout"), None,
     {"edge-timeouts-cover-max-request": [A_LB + " idle timeout 60 s < 175" + SEVERED]}),
    ("alb-idle-at-budget", _set(_alb, "idleTimeout", 175), None, {}),
    ("nlb-idle-not-judged", _network_load_balancer, None, {}),
    ("deregistration-short", _set(lambda s: _props(s, TARGET_GROUP, "edge-qwen3-1-7b"), "deregistrationDelay", 100),
     None, {"edge-timeouts-cover-max-request": [
         "aws:lb/targetGroup:TargetGroup 'edge-qwen3-1-7b' deregistrationDelay 100 s < 175 s: a draining target "
         "would drop streams still running."]}),
    # ELB target group attribute deregistration_delay.timeout_seconds: 300 s when unset.
    ("deregistration-default", _drop(lambda s: _props(s, TARGET_GROUP, "edge-qwen3-1-7b"), "deregistrationDelay"),
     None, {}),
    # A token that is no string (a number a program put in the list) is skipped, not the end of the command line.
    ("router-timeout-after-a-number", _router_args_with_a_number, None, {"edge-timeouts-cover-max-request": [
        "kubernetes:apps/v1:Deployment 'edge-qwen3-1-7b-router-deployment' vllm-router --request-timeout-secs 30 < 175 s."]}),
    ("router-timeout-at-budget", lambda s: _router(s)["args"].__setitem__(
        _router(s)["args"].index("--request-timeout-secs") + 1, "175"), None, {}),
]


@pytest.mark.parametrize("mutation, config, expected", [c[1:] for c in SIDE_CASES], ids=[c[0] for c in SIDE_CASES])
def test_each_side_branch_fires_with_its_message_or_stays_quiet(pack, request, mutation, config, expected):
    result = _checked(pack, request, "dev_snapshot", mutation, config)
    fired: dict[str, list[str]] = {}
    for violation in result.violations:
        if violation.policy_name in POLICIES:
            assert violation.enforcement_level == "mandatory", violation
            description, message = violation.message.split("\n", 1)  # pulumi_policy: "<description>\n<message>"
            fired.setdefault(violation.policy_name, []).append(message)
    assert {policy: sorted(messages) for policy, messages in fired.items()} == {
        policy: sorted(messages) for policy, messages in expected.items()}
    if not expected:
        assert [i for i in result.not_applicable if i["policy"] in POLICIES] == []


@pytest.mark.parametrize("budget, fires", [(300, False), (301, True)])
def test_a_target_group_without_a_deregistration_delay_drains_for_300_s(pack, request, budget, fires):
    """ELB target group attributes: deregistration_delay.timeout_seconds defaults to 300 s; a budget up to 300 s is
    covered, one second more is not."""
    result = _checked(pack, request, "dev_snapshot", _drop(lambda s: _props(s, TARGET_GROUP, "edge-qwen3-1-7b"),
                                                            "deregistrationDelay"),
                      {"edge-timeouts-cover-max-request": {"maxRequestSeconds": budget}})
    messages = [v.message.split("\n", 1)[1] for v in result.by_policy("edge-timeouts-cover-max-request")]
    drained = [m for m in messages if "deregistrationDelay" in m]
    assert drained == ([f"aws:lb/targetGroup:TargetGroup 'edge-qwen3-1-7b' deregistrationDelay 300 s < {budget} s: a "
                        "draining target would drop streams still running."] if fires else [])
