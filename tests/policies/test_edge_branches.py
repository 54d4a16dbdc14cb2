"""Every side branch of the edge policies (policies/edge.py) on the rendered dev stack, one change at a time: firing
with its whole message, or quiet (test_edge_unknowns.py has the "cannot judge yet" answers).
"""

from __future__ import annotations

import copy

import pytest

from tests.rendered import resource_named, resources_of

from .edge_cases import (
    API_RESOURCE, BINDING, DEPLOYMENT, DISTRIBUTION, LB, LISTENER, METHOD, POLICIES, REST_API, RULE, SERVING, TARGET_GROUP,
    _alb, _both, _cdn, _checked, _domain_name, _drop, _ingress, _integration, _props, _route, _router, _rule,
    _service, _set,
)
from .branch_cases import fired_messages
from .snapshots import UNKNOWN, add, resource


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


def _second_public_alb(s):
    """A second, internet-facing ALB after the stack's internal one, forwarding by default to the routed target group."""
    group_arn = _rule(s)["actions"][0]["targetGroupArn"]
    add(s, resource(LB, "public-alb", {"internal": False, "loadBalancerType": "application"}),
        resource(LISTENER, "public-listener", {
            "loadBalancerArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/public-alb-1a2b/3c4d",
            "defaultActions": [{"type": "forward", "targetGroupArn": group_arn}]}))


def _router_behind_a_sidecar(s):
    """The router is the pod's second container: every container of a Deployment is looked at."""
    spec = _props(s, DEPLOYMENT, "edge-qwen3-1-7b-router-deployment")["spec"]["template"]["spec"]
    spec["containers"].insert(0, {"name": "proxy", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/proxy:1",
                                  "args": ["--listen", "9000"]})
    args = spec["containers"][1]["args"]
    args[args.index("--request-timeout-secs") + 1] = "30"


def _origin_domain_unknown(pointing_at_the_api):
    """A first preview: the origin's domain is built from the REST API's id, so it is unknown; the engine's property
    dependencies still say whether the origin was computed from this stack's API (then the stage is behind CloudFront)."""
    def mutate(s):
        _cdn(s)["origins"][0]["domainName"] = UNKNOWN
        if not pointing_at_the_api:
            deps = resource_named(s, DISTRIBUTION, "edge-cdn")["propertyDependencies"]
            deps["origins"] = [urn for urn in deps["origins"] if "RestApi" not in urn]
    return mutate


def _router_args(change):
    def mutate(s):
        args = _router(s)["args"]
        change(args)
    return mutate


def _without_timeout_flag(args):
    index = args.index("--request-timeout-secs")
    del args[index:index + 2]


def _timeout_flag(value):
    return lambda args: args.__setitem__(args.index("--request-timeout-secs") + 1, value)


def _sidecar_with_the_flag(s):
    """A container that is no router may take a flag of the same name: only vllm-router's own is judged."""
    spec = _props(s, DEPLOYMENT, "edge-qwen3-1-7b-router-deployment")["spec"]["template"]["spec"]
    spec["containers"].append({"name": "proxy", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/proxy:1",
                               "args": ["--request-timeout-secs", "30"]})


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
PUBLIC_ALB_2 = "aws:lb/loadBalancer:LoadBalancer 'public-alb'" + PUBLIC_ALB
PUBLIC_DEFAULT_FORWARD = (
    "aws:lb/listener:Listener 'public-listener' forwards every path by default (including /metrics, /health); answer "
    "unknown paths with a fixed response and forward only the inference routes in listener rules.")
PUBLIC_SERVICE = ("kubernetes:core/v1:Service 'exposed' in serving namespace '{}' is a LoadBalancer Service without the "
                  "internal scheme annotation: it would expose pods to the internet.")
SCHEME = "service.beta.kubernetes.io/aws-load-balancer-scheme"
INTERNAL = "service.beta.kubernetes.io/aws-load-balancer-internal"
NOT_DEFAULT_PROTOCOL = "viewerCertificate.minimumProtocolVersion is {!r}; require TLSv1.2_2021 or later."
API_TLS = "securityPolicy is {!r} (unset means TLS_1_0); set TLS_1_2 or an enhanced SecurityPolicy_TLS13_* policy."
SEVERED = " s: the ALB would cut a quiet request."
SHORT_INTEGRATION = ("aws:apigateway/integration:Integration '{}' times out after 175 s, below the maximum request "
                     "duration {} s.")

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
    ("second-public-alb", _second_public_alb, None, {
        "edge-no-public-lb-to-serving": [PUBLIC_ALB_2],
        "edge-no-unauthenticated-routes": [PUBLIC_DEFAULT_FORWARD]}),
    ("second-public-alb-first-unknown", _both(_set(_alb, "internal"), _second_public_alb), None, {
        "edge-no-public-lb-to-serving": [PUBLIC_ALB_2],
        "edge-no-unauthenticated-routes": [PUBLIC_DEFAULT_FORWARD]}),
    ("router-behind-a-sidecar", _router_behind_a_sidecar, None, {"edge-timeouts-cover-max-request": [
        "kubernetes:apps/v1:Deployment 'edge-qwen3-1-7b-router-deployment' vllm-router --request-timeout-secs 30 < 175 s."]}),
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
    ("unknown-integration-configured-budget", _set(lambda s: _integration(s, "edge-post-v1-chat-completions"),
                                                   "timeoutMilliseconds"),
     {"edge-timeouts-cover-max-request": {"maxRequestSeconds": 180}}, {"edge-timeouts-cover-max-request": [
         "aws:apigateway/integration:Integration 'edge-post-v1-completions' times out after 175 s, below the "
         "maximum request duration 180 s."]}),
    ("cdn-origin-domain-unknown-from-the-api", _origin_domain_unknown(True), None, {}),
    ("cdn-origin-domain-unknown-elsewhere", _origin_domain_unknown(False), None, {"edge-waf-on-public-entry": [
        "aws:apigateway/stage:Stage 'edge-stage' is a public entry (no CloudFront in front) without a WAF web ACL "
        "association."]}),
    # Each hop at the budget is covered (strictly shorter fails): 180 s is the origin's and the ALB's, 185 s the
    # router's and the target group's drain.
    ("budget-180", lambda s: None, {"edge-timeouts-cover-max-request": {"maxRequestSeconds": 180}},
     {"edge-timeouts-cover-max-request": [SHORT_INTEGRATION.format(name, 180) for name in (
         "edge-post-v1-chat-completions", "edge-post-v1-completions")]}),
    ("budget-185", lambda s: None, {"edge-timeouts-cover-max-request": {"maxRequestSeconds": 185}},
     {"edge-timeouts-cover-max-request": [SHORT_INTEGRATION.format(name, 185) for name in (
         "edge-post-v1-chat-completions", "edge-post-v1-completions")] + [
         "aws:cloudfront/distribution:Distribution 'edge-cdn' origin 'api-gateway' originReadTimeout 180 s < 185 s: a "
         "non-streamed answer would be cut.",
         "aws:cloudfront/distribution:Distribution 'edge-cdn' origin 'api-gateway' responseCompletionTimeout 180 s < "
         "185 s.",
         A_LB + " idle timeout 180 s < 185" + SEVERED]}),
    # 30 s is above the buffered limit of 29 s.
    ("integration-buffered-30-s", lambda s: (_buffered("HTTP_PROXY")(s), _integration(s).__setitem__(
        "timeoutMilliseconds", 30000)), None, {"edge-timeouts-cover-max-request": [
            "aws:apigateway/integration:Integration 'edge-post-v1-completions' waits 30 s without responseTransferMode "
            "STREAM; buffered integrations stop at 29 s.", SHORT_INTEGRATION.format("edge-post-v1-completions", 175)
            .replace("after 175 s", "after 30 s")]}),
    # ELB CreateLoadBalancer: Type defaults to application.
    ("alb-type-unset", lambda s: (_alb(s).pop("loadBalancerType"), _alb(s).__setitem__("idleTimeout", 60)), None,
     {"edge-timeouts-cover-max-request": [A_LB + " idle timeout 60 s < 175" + SEVERED]}),
    ("router-without-timeout-flag", _router_args(_without_timeout_flag), None, {}),
    ("router-timeout-no-number", _router_args(_timeout_flag("forever")), None, {}),
    ("sidecar-with-the-flag", _sidecar_with_the_flag, None, {}),
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
    assert fired_messages(result, POLICIES) == {
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
