"""Every "cannot judge yet" answer of the edge policies (policies/edge.py) on the rendered dev stack, one unknown at
a time, naming the value it waits for.

On a first preview the engine sends an unknown (pulumi/pulumi sdk/go/common/resource/plugin/rpc.go
UnknownStringValue) for every value computed from a resource not created yet; a policy then answers "not applicable"
with what it waits for, never a pass or a violation.
"""

from __future__ import annotations

import pytest

from tests.rendered import resource_named

from .edge_cases import (
    API_RESOURCE, DISTRIBUTION, LISTENER, METHOD, POLICIES, REST_API, STAGE, TARGET_GROUP, _alb, _cdn, _checked,
    _ingress, _integration, _props, _route, _router, _rule, _service, _set,
)
from .snapshots import UNKNOWN


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
