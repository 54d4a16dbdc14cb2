"""Edge policies (policies/edge.py), sent through the Analyzer gRPC protocol like `pulumi preview` does: each one
quiet on the rendered dev and prod stacks (prod with a named certificate for TLS), and firing on a mutation.
"""

from __future__ import annotations

import copy

import pytest

from .snapshots import add, resource


POLICY_NAMES = {
    "edge-no-public-lb-to-serving",
    "edge-waf-on-public-entry",
    "edge-tls-1-2",
    "edge-methods-require-authorizer",
    "edge-no-unauthenticated-routes",
    "edge-timeouts-cover-max-request",
}


@pytest.fixture(scope="module")
def edge_pack(pack):
    assert POLICY_NAMES <= {p["name"] for p in pack.policies()}
    return pack


def _fired(edge_pack, snapshot, policy_config=None) -> dict[str, list[str]]:
    result = edge_pack.check(snapshot, policy_config)
    fired: dict[str, list[str]] = {}
    for violation in result.violations:
        if violation.policy_name in POLICY_NAMES:
            fired.setdefault(violation.policy_name, []).append(violation.message)
    return fired


def _mutated(snapshot: dict) -> dict:
    return copy.deepcopy(snapshot)


def _each(snapshot: dict, type_token: str):
    return [r for r in snapshot["resources"] if r["type"] == type_token]


def test_dev_is_quiet(edge_pack, dev_snapshot):
    assert _fired(edge_pack, dev_snapshot) == {}


def test_prod_is_quiet(edge_pack, prod_snapshot):
    assert _fired(edge_pack, prod_snapshot) == {}


# --- edge-no-public-lb-to-serving --------------------------------------------------------------------------------------


def test_internet_facing_alb_in_front_of_the_routers_fires(edge_pack, dev_snapshot):
    snapshot = _mutated(dev_snapshot)
    _each(snapshot, "aws:lb/loadBalancer:LoadBalancer")[0]["props"]["internal"] = False
    fired = _fired(edge_pack, snapshot)
    assert "TargetGroupBinding" in fired["edge-no-public-lb-to-serving"][0]


def test_public_loadbalancer_service_in_a_serving_namespace_fires(edge_pack, dev_snapshot):
    snapshot = _mutated(dev_snapshot)
    service = copy.deepcopy(next(s for s in _each(snapshot, "kubernetes:core/v1:Service")
                                 if s["props"]["metadata"]["name"] == "vllm-router"))
    service["name"], service["urn"] = "exposed", service["urn"] + "-exposed"
    service["props"]["spec"]["type"] = "LoadBalancer"
    snapshot["resources"].append(service)
    assert "LoadBalancer Service" in _fired(edge_pack, snapshot)["edge-no-public-lb-to-serving"][0]


# --- edge-waf-on-public-entry ------------------------------------------------------------------------------------------


def test_stage_without_waf_fires(edge_pack, regional_snapshot):
    assert _fired(edge_pack, regional_snapshot) == {}
    snapshot = _mutated(regional_snapshot)
    snapshot["resources"] = [r for r in snapshot["resources"] if r["type"] != "aws:wafv2/webAclAssociation:WebAclAssociation"]
    assert "without a WAF" in _fired(edge_pack, snapshot)["edge-waf-on-public-entry"][0]


def test_a_stage_whose_web_acl_was_associated_elsewhere_is_covered(edge_pack, regional_snapshot):
    """A stage reports the web ACL associated with it as its `webAclArn` output (pulumi-aws apigateway.Stage:
    "ARN of the WebAcl associated with the Stage"), so an association made outside this stack still counts."""
    snapshot = _mutated(regional_snapshot)
    snapshot["resources"] = [r for r in snapshot["resources"] if r["type"] != "aws:wafv2/webAclAssociation:WebAclAssociation"]
    [stage] = _each(snapshot, "aws:apigateway/stage:Stage")
    stage["outputs"]["webAclArn"] = "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/shared/0000-1111"
    assert _fired(edge_pack, snapshot) == {}


def test_an_association_known_only_by_its_stage_arn_covers_that_stage_and_no_other(edge_pack, regional_snapshot):
    """An association may name the stage's ARN as text, with no property dependency, while the stage's own ARN is not
    known yet (a first preview). AWS WAF AssociateWebACL, ResourceArn for an API Gateway REST API stage:
    arn:aws:apigateway:<region>::/restapis/<api id>/stages/<stage name>."""
    snapshot = _mutated(regional_snapshot)
    [association] = _each(snapshot, "aws:wafv2/webAclAssociation:WebAclAssociation")
    association["propertyDependencies"].pop("resourceArn")
    [stage] = _each(snapshot, "aws:apigateway/stage:Stage")
    stage["outputs"].pop("arn")
    api, name = stage["props"]["restApi"], stage["props"]["stageName"]
    assert association["props"]["resourceArn"] == f"arn:aws:apigateway:us-east-1::/restapis/{api}/stages/{name}"
    assert _fired(edge_pack, snapshot) == {}
    association["props"]["resourceArn"] = f"arn:aws:apigateway:us-east-1::/restapis/{api}/stages/other"
    assert "without a WAF" in _fired(edge_pack, snapshot)["edge-waf-on-public-entry"][0]


def test_distribution_without_waf_fires(edge_pack, prod_snapshot):
    snapshot = _mutated(prod_snapshot)
    _each(snapshot, "aws:cloudfront/distribution:Distribution")[0]["props"].pop("webAclId")
    assert "no webAclId" in _fired(edge_pack, snapshot)["edge-waf-on-public-entry"][0]


# --- edge-tls-1-2 ------------------------------------------------------------------------------------------------------


def test_default_cloudfront_certificate_fires(edge_pack, prod_snapshot):
    snapshot = _mutated(prod_snapshot)
    for distribution in _each(snapshot, "aws:cloudfront/distribution:Distribution"):
        distribution["props"]["viewerCertificate"] = {"cloudfrontDefaultCertificate": True, "minimumProtocolVersion": "TLSv1.2_2021"}
        distribution["props"].pop("aliases", None)
    messages = _fired(edge_pack, snapshot)["edge-tls-1-2"]
    assert any("default certificate" in m for m in messages)
    assert _fired(edge_pack, snapshot, {"edge-tls-1-2": {"allowDefaultCertificate": True}}).get("edge-tls-1-2") is None


def test_legacy_api_gateway_tls_fires(edge_pack, dev_snapshot):
    snapshot = _mutated(dev_snapshot)
    _each(snapshot, "aws:apigateway/restApi:RestApi")[0]["props"]["securityPolicy"] = "TLS_1_0"
    assert "TLS_1_0" in _fired(edge_pack, snapshot)["edge-tls-1-2"][0]


def test_old_viewer_protocol_fires(edge_pack, prod_snapshot):
    snapshot = _mutated(prod_snapshot)
    _each(snapshot, "aws:cloudfront/distribution:Distribution")[0]["props"]["viewerCertificate"]["minimumProtocolVersion"] = "TLSv1_2016"
    assert "TLSv1_2016" in _fired(edge_pack, snapshot)["edge-tls-1-2"][0]


# --- edge-methods-require-authorizer ------------------------------------------------------------------------------------


def test_open_method_fires(edge_pack, dev_snapshot):
    snapshot = _mutated(dev_snapshot)
    method = _each(snapshot, "aws:apigateway/method:Method")[0]
    method["props"]["authorization"] = "NONE"
    method["props"].pop("authorizerId")
    assert "'NONE'" in _fired(edge_pack, snapshot)["edge-methods-require-authorizer"][0]


# --- edge-no-unauthenticated-routes ----------------------------------------------------------------------------------------


def test_greedy_proxy_resource_fires(edge_pack, dev_snapshot):
    snapshot = _mutated(dev_snapshot)
    resource = copy.deepcopy(_each(snapshot, "aws:apigateway/resource:Resource")[0])
    resource["name"], resource["urn"] = "edge-proxy", resource["urn"] + "-proxy"
    resource["props"]["pathPart"] = "{proxy+}"
    snapshot["resources"].append(resource)
    assert "greedy" in _fired(edge_pack, snapshot)["edge-no-unauthenticated-routes"][0]


def test_catch_all_listener_rule_fires(edge_pack, dev_snapshot):
    snapshot = _mutated(dev_snapshot)
    rule = _each(snapshot, "aws:lb/listenerRule:ListenerRule")[0]
    for condition in rule["props"]["conditions"]:
        if "pathPattern" in condition:
            condition["pathPattern"]["values"] = ["/*"]
    messages = _fired(edge_pack, snapshot)["edge-no-unauthenticated-routes"]
    assert any("/metrics" in m for m in messages) and any("/health" in m for m in messages)


def test_forwarding_listener_default_fires(edge_pack, dev_snapshot):
    snapshot = _mutated(dev_snapshot)
    listener = _each(snapshot, "aws:lb/listener:Listener")[0]
    listener["props"]["defaultActions"] = [{"type": "forward", "targetGroupArn": "arn:aws:elasticloadbalancing:x"}]
    assert "by default" in _fired(edge_pack, snapshot)["edge-no-unauthenticated-routes"][0]


# --- edge-timeouts-cover-max-request --------------------------------------------------------------------------------------


def test_short_alb_idle_timeout_fires(edge_pack, dev_snapshot):
    snapshot = _mutated(dev_snapshot)
    _each(snapshot, "aws:lb/loadBalancer:LoadBalancer")[0]["props"]["idleTimeout"] = 60
    assert "idle timeout 60 s" in _fired(edge_pack, snapshot)["edge-timeouts-cover-max-request"][0]


def test_short_router_timeout_fires(edge_pack, dev_snapshot):
    snapshot = _mutated(dev_snapshot)
    for deployment in _each(snapshot, "kubernetes:apps/v1:Deployment"):
        args = deployment["props"]["spec"]["template"]["spec"]["containers"][0].get("args", [])
        if "--request-timeout-secs" in args:
            args[args.index("--request-timeout-secs") + 1] = "30"
    assert "--request-timeout-secs 30" in _fired(edge_pack, snapshot)["edge-timeouts-cover-max-request"][0]


def test_without_an_integration_or_a_configured_budget_there_is_no_maximum_to_judge(edge_pack, dev_snapshot):
    """maxRequestSeconds 0 means "the longest API Gateway integration timeout" (the policy's config schema); with no
    integration there is no maximum, so not even a router timeout of 0 s is judged (vllm-router's
    --request-timeout-secs is a whole number of seconds)."""
    snapshot = _mutated(dev_snapshot)
    snapshot["resources"] = [r for r in snapshot["resources"] if r["type"] != "aws:apigateway/integration:Integration"]
    for deployment in _each(snapshot, "kubernetes:apps/v1:Deployment"):
        args = deployment["props"]["spec"]["template"]["spec"]["containers"][0].get("args", [])
        if "--request-timeout-secs" in args:
            args[args.index("--request-timeout-secs") + 1] = "0"
    assert "edge-timeouts-cover-max-request" not in _fired(edge_pack, snapshot)
    budget = {"edge-timeouts-cover-max-request": {"maxRequestSeconds": 1}}
    assert "--request-timeout-secs 0 < 1 s" in _fired(edge_pack, snapshot, budget)["edge-timeouts-cover-max-request"][0]


def test_short_cloudfront_read_timeout_and_configured_budget_fire(edge_pack, prod_snapshot):
    snapshot = _mutated(prod_snapshot)
    _each(snapshot, "aws:cloudfront/distribution:Distribution")[0]["props"]["origins"][0]["customOriginConfig"]["originReadTimeout"] = 30
    [message] = _fired(edge_pack, snapshot)["edge-timeouts-cover-max-request"]
    # prod's budget is 600 s; the message names the origin (edge_cdn's one origin, "api-gateway") and both values.
    assert "origin 'api-gateway' originReadTimeout 30 s < 600 s: a non-streamed answer would be cut." in message
    longer = _fired(edge_pack, _mutated(prod_snapshot), {"edge-timeouts-cover-max-request": {"maxRequestSeconds": 900}})
    assert any("below the maximum request duration 900 s" in m for m in longer["edge-timeouts-cover-max-request"])


def test_integration_without_a_timeout_counts_as_the_29_s_default(edge_pack, dev_snapshot):
    """An integration that sets no timeoutMilliseconds waits the default 29,000 ms ("The default value is 29,000
    milliseconds", pulumi-aws sdk/python/pulumi_aws/apigateway/integration.py, `timeout_milliseconds`; "Amazon API
    Gateway quotas": integration timeout 50 ms - 29 s by default for REST APIs). 29 s is not above the buffered limit, so
    only the budget check speaks, with the default named; a 29 s budget is covered."""
    snapshot = _mutated(dev_snapshot)
    routed = [i for i in _each(snapshot, "aws:apigateway/integration:Integration") if i["props"]["type"] == "HTTP_PROXY"]
    for integration in routed:
        del integration["props"]["timeoutMilliseconds"]
        del integration["props"]["responseTransferMode"]
    config = {"edge-timeouts-cover-max-request": {"maxRequestSeconds": 30}}
    short = [m for m in _fired(edge_pack, snapshot, config).get("edge-timeouts-cover-max-request", [])
             if "times out after" in m]
    assert len(short) == len(routed) > 0
    assert all("times out after 29 s, below the maximum request duration 30 s." in m for m in short)
    covered = {"edge-timeouts-cover-max-request": {"maxRequestSeconds": 29}}
    assert not [m for m in _fired(edge_pack, snapshot, covered).get("edge-timeouts-cover-max-request", [])
                if "times out after" in m or "waits" in m]


# --- the other branches, one firing case each -------------------------------------------------------------------------


def _internet_facing_ingress(snapshot):
    """An Ingress in a serving namespace asking the AWS Load Balancer Controller for a public ALB (controller docs,
    "Ingress annotations": alb.ingress.kubernetes.io/scheme internal | internet-facing)."""
    add(snapshot, resource("kubernetes:networking.k8s.io/v1:Ingress", "public", {
        "metadata": {"name": "public", "namespace": "vllm-qwen3-1-7b",
                     "annotations": {"alb.ingress.kubernetes.io/scheme": "internet-facing"}}}))


def _custom_method_without_authorizer(snapshot):
    """API Gateway PutMethod: authorizationType CUSTOM needs the authorizerId of a Lambda authorizer."""
    (models_list,) = [m for m in _each(snapshot, "aws:apigateway/method:Method") if m["props"]["httpMethod"] == "GET"]
    models_list["props"].pop("authorizerId")


def _default_http_api_route(snapshot):
    """API Gateway HTTP APIs, "Working with routes": `$default` catches every request no other route matches."""
    add(snapshot, resource("aws:apigatewayv2/route:Route", "catch-all", {"apiId": "api", "routeKey": "$default"}))


def _rule_forwarding_on_the_header_alone(snapshot):
    """ELB "Listener rules": a rule whose only condition is the model header forwards every path of that model."""
    rule = _each(snapshot, "aws:lb/listenerRule:ListenerRule")[0]
    rule["props"]["conditions"] = [c for c in rule["props"]["conditions"] if "pathPattern" not in c]


def _viewer_plain_http(snapshot):
    """CloudFront API, ViewerProtocolPolicy: allow-all serves plain HTTP as well as HTTPS."""
    _each(snapshot, "aws:cloudfront/distribution:Distribution")[0]["props"]["defaultCacheBehavior"][
        "viewerProtocolPolicy"] = "allow-all"


def _old_origin_tls(snapshot):
    """CloudFront API, CustomOriginConfig.OriginSslProtocols: SSLv3, TLSv1, TLSv1.1 or TLSv1.2."""
    _each(snapshot, "aws:cloudfront/distribution:Distribution")[0]["props"]["origins"][0]["customOriginConfig"][
        "originSslProtocols"] = ["TLSv1", "TLSv1.2"]


@pytest.mark.parametrize("stack, mutation, policy, message", [
    ("dev_snapshot", _internet_facing_ingress, "edge-no-public-lb-to-serving",
     "kubernetes:networking.k8s.io/v1:Ingress 'public' in serving namespace 'vllm-qwen3-1-7b' asks for an "
     "internet-facing ALB."),
    ("dev_snapshot", _custom_method_without_authorizer, "edge-methods-require-authorizer",
     "GET method is CUSTOM but names no authorizerId."),
    ("dev_snapshot", _default_http_api_route, "edge-no-unauthenticated-routes",
     "aws:apigatewayv2/route:Route 'catch-all' routeKey '$default' would reach unauthenticated routes."),
    ("dev_snapshot", _rule_forwarding_on_the_header_alone, "edge-no-unauthenticated-routes",
     "forwards without a path condition: every path, /metrics included, reaches its targets."),
    ("prod_snapshot", _viewer_plain_http, "edge-tls-1-2",
     "a cache behavior allows plain HTTP (viewerProtocolPolicy allow-all); use https-only or redirect-to-https."),
    ("prod_snapshot", _old_origin_tls, "edge-tls-1-2", "origin 'api-gateway' allows ['TLSv1'] to the origin; use TLSv1.2."),
])
def test_each_further_branch_fires_with_its_message(edge_pack, stack, mutation, policy, message, request):
    snapshot = _mutated(request.getfixturevalue(stack))
    mutation(snapshot)
    fired = _fired(edge_pack, snapshot)
    assert list(fired) == [policy] and len(fired[policy]) == 1 and fired[policy][0].endswith(message), fired
