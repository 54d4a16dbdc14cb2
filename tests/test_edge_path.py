"""The path a client request takes through the RENDERED edge: API Gateway stage -> private integration -> ALB rule.

Sources (also in tests/aws_behaviour.py): AWS, "Private integrations for REST APIs in API Gateway", considerations
("API Gateway includes the stage portion of the API endpoint in the request to your backend resources": stage `live`
reaches the ALB as `/live/v1/...`); ELB guide, "Transforms for listener rules" (url-rewrite by regex, evaluated after
the rule's conditions) and "Listener rules for your Application Load Balancer" (path patterns are case-sensitive).
"""

from __future__ import annotations

import pytest

from vllm_eks.edge import edge_specs as specs
from edge_stand_in import api_gateway_and_alb, edge_plan

# The OpenAI generation routes forwarded to a model's router (vLLM docs, "OpenAI-Compatible Server").
ROUTED = ["/v1/chat/completions", "/v1/completions"]
STACKS = ["dev_snapshot", "prod_snapshot", "regional_snapshot"]


@pytest.mark.parametrize("stack", STACKS)
def test_each_model_reaches_its_router_at_the_openai_path(stack, request):
    """A request to the stage for model X reaches X's router as `/v1/...` (the stage is stripped at the ALB),
    even though the ALB received it as `/<stage>/v1/...` (AWS private-integration consideration)."""
    plan = edge_plan(request.getfixturevalue(stack))
    assert plan["served"], "no model rules rendered"
    for model, served in plan["served"].items():
        for path in ROUTED:
            decision = api_gateway_and_alb(plan, path, {"model": served}, "internal")
            assert decision.alb_path == f"/{plan['stage']}{path}"
            assert decision.model == model, f"{path} for {served} got {decision.fixed_response}"
            assert decision.router_path == path


def test_without_the_stage_prefix_rule_every_request_is_the_listener_404(dev_snapshot):
    """The pre-fix rule (conditions on `/v1/...`) never matches what API Gateway really sends."""
    plan = edge_plan(dev_snapshot)
    unprefixed = [
        (priority, [{"pathPattern": {"values": ROUTED}} if "pathPattern" in c else c for c in conditions], [], model)
        for priority, conditions, _, model in plan["rules"]
    ]
    served = next(iter(plan["served"].values()))
    decision = api_gateway_and_alb({**plan, "rules": unprefixed}, ROUTED[0], {"model": served}, "internal")
    assert decision.model is None and decision.fixed_response["fixedResponse"]["statusCode"] == "404"


@pytest.mark.parametrize("path", ["/metrics", "/health", "/v1/models/../../metrics", "/workers", "/v1/tokenize", "/live/v1/chat/completions"])
def test_unrouted_paths_never_reach_a_router(dev_snapshot, path):
    """Only the inference routes match; a client that adds the stage twice does not slip through either."""
    plan = edge_plan(dev_snapshot)
    served = next(iter(plan["served"].values()))
    decision = api_gateway_and_alb(plan, path, {"model": served}, "internal")
    assert decision.model is None, f"{path} would reach a router as {decision.router_path}"


def test_unknown_model_gets_the_listener_404(dev_snapshot):
    plan = edge_plan(dev_snapshot)
    decision = api_gateway_and_alb(plan, ROUTED[0], {"model": "no-such-model"}, "internal")
    assert decision.fixed_response["type"] == "fixed-response"
    assert decision.fixed_response["fixedResponse"]["statusCode"] == "404"


def test_rewrite_uses_only_regex_features_the_alb_supports():
    """ELB guide, "Listener rules": rule regexes support no lookaheads, lookbehinds or backreferences."""
    for transform in specs.stage_prefix_rewrite():
        regex = transform["url_rewrite_config"]["rewrite"]["regex"]
        assert not any(token in regex for token in ("(?=", "(?!", "(?<=", "(?<!", "\\1"))
        assert len(regex) <= 1024
