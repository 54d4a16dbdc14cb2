"""Pure builders for the edge: the timeout chain, the route table, WAF rules, ALB listener rules.

Plain values in, plain dicts out (pulumi-aws input shapes, snake_case), so every rule is testable without mocks
and `vllm_eks/edge/edge.py` only wires resources together.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vllm_eks.planning.catalog import (
    API_GATEWAY_STREAM_MAX_TIMEOUT_MS,
    WAF_BODY_INSPECTION_TIERS_KIB,
    WAF_BODY_RULES_COUNTED,
    WAF_MANAGED_RULE_GROUPS,
)

if TYPE_CHECKING:
    import pulumi_aws as aws

# The header API Gateway fills from the body's `model` and the ALB routes on (one target group per model).
MODEL_HEADER = "x-vllm-model"
# The header CloudFront adds and the authorizer requires, so API Gateway cannot be called around CloudFront.
ORIGIN_VERIFY_HEADER = "x-origin-verify"
# Authorizer context key holding "Bearer <internal vLLM key>", mapped into the integration's Authorization header.
AUTHORIZER_CONTEXT_KEY = "vllmAuthorization"
LISTENER_PORT = 80
# The one API Gateway stage. Its name is part of every path a private integration sends to the ALB (see backend_path).
STAGE_NAME = "live"


@dataclass(frozen=True)
class Route:
    path: str
    method: str
    routed_by_model: bool  # True: forwarded to the model's router; False: answered by API Gateway itself


# The OpenAI routes a generative model serves. GET /v1/models is answered by API Gateway from the configuration
# (a router knows only its own model, and its /v1/models is not OpenAI's list shape).
ROUTES = (
    Route("/v1/chat/completions", "POST", True),
    Route("/v1/completions", "POST", True),
    Route("/v1/models", "GET", False),
)


@dataclass(frozen=True)
class TimeoutChain:
    """Every hop's timeout, derived from the one request budget: API Gateway gives up first, then nothing else."""

    request_seconds: int
    api_gateway_integration_ms: int
    cloudfront_read_seconds: int
    cloudfront_completion_seconds: int
    alb_idle_seconds: int
    router_request_seconds: int
    deregistration_delay_seconds: int
    router_termination_grace_seconds: int


# Each hop behind API Gateway waits this much longer than the one in front, so the client gets API Gateway's
# clean 504 instead of a connection cut somewhere inside.
HOP_MARGIN_SECONDS = 5
ROUTER_PRE_STOP_SECONDS = 15  # the ALB stops sending new requests to a deregistering router within this time


def timeout_chain(max_request_seconds: int) -> TimeoutChain:
    """CloudFront >= API Gateway <= ALB idle <= router; deregistration delay lets the longest request finish."""
    integration_ms = max_request_seconds * 1000
    if integration_ms > API_GATEWAY_STREAM_MAX_TIMEOUT_MS:
        raise ValueError(
            f"edge.maxRequestSeconds: got {max_request_seconds}, expected at most "
            f"{API_GATEWAY_STREAM_MAX_TIMEOUT_MS // 1000} (API Gateway's streaming integration limit)"
        )
    alb_idle = max_request_seconds + HOP_MARGIN_SECONDS
    router = alb_idle + HOP_MARGIN_SECONDS
    deregistration = router  # a draining router may finish the longest request (ALB allows up to 3600 s)
    return TimeoutChain(
        request_seconds=max_request_seconds,
        api_gateway_integration_ms=integration_ms,
        cloudfront_read_seconds=max_request_seconds + HOP_MARGIN_SECONDS,
        cloudfront_completion_seconds=max_request_seconds + HOP_MARGIN_SECONDS,
        alb_idle_seconds=alb_idle,
        router_request_seconds=router,
        deregistration_delay_seconds=deregistration,
        router_termination_grace_seconds=ROUTER_PRE_STOP_SECONDS + deregistration + HOP_MARGIN_SECONDS,
    )


# --- API Gateway -------------------------------------------------------------------------------------------------


def integration_request_parameters(origin_verify: bool) -> dict[str, str]:
    """What API Gateway sets on the way in: model header, internal key, request id; the origin secret is blanked."""
    parameters = {
        f"integration.request.header.{MODEL_HEADER}": "method.request.body.model",
        "integration.request.header.Authorization": f"context.authorizer.{AUTHORIZER_CONTEXT_KEY}",
        "integration.request.header.X-Request-Id": "context.requestId",
    }
    if origin_verify:
        parameters[f"integration.request.header.{ORIGIN_VERIFY_HEADER}"] = "'-'"
    return parameters


def request_body_schema() -> dict:
    """JSON schema API Gateway validates POST bodies against: a `model` string is what routing needs."""
    return {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": "OpenAIRequest",
        "type": "object",
        "required": ["model"],
        "properties": {"model": {"type": "string", "minLength": 1, "maxLength": 128}},
    }


def models_list_body(served_names: list[str]) -> str:
    """The OpenAI `GET /v1/models` answer, from the configuration."""
    return json.dumps(
        {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "vllm-eks"} for name in served_names]}
    )


def _openai_error(message: str, error_type: str, code: int) -> str:
    return json.dumps({"error": {"message": message, "type": error_type, "code": code}})


# API Gateway's own answers, shaped like OpenAI errors (an SDK shows the message). MISSING_AUTHENTICATION_TOKEN is
# what API Gateway returns for a route that does not exist: it becomes 404, so /metrics and /health are not found.
GATEWAY_RESPONSES: dict[str, tuple[int, str, str]] = {
    "MISSING_AUTHENTICATION_TOKEN": (404, "Not found.", "NotFoundError"),
    "UNAUTHORIZED": (401, "Missing or malformed API key (Authorization: Bearer <key>).", "AuthenticationError"),
    "ACCESS_DENIED": (403, "Access denied.", "PermissionDeniedError"),
    "INVALID_API_KEY": (401, "Invalid API key.", "AuthenticationError"),
    "THROTTLED": (429, "Rate limit exceeded.", "RateLimitError"),
    "QUOTA_EXCEEDED": (429, "Monthly quota exceeded.", "RateLimitError"),
    "BAD_REQUEST_BODY": (400, "The request body needs a `model` string.", "BadRequestError"),
    "REQUEST_TOO_LARGE": (413, "Request body too large.", "BadRequestError"),
    "INTEGRATION_TIMEOUT": (504, "The model did not answer within the request time limit.", "APITimeoutError"),
    "WAF_FILTERED": (403, "Request blocked.", "PermissionDeniedError"),
}


def gateway_response_templates(status: int, message: str, error_type: str) -> dict[str, str]:
    return {"application/json": _openai_error(message, error_type, status)}


def access_log_format() -> str:
    """JSON access log line: request id, consumer (API key id), status, latency; never a key or a body."""
    fields = {
        "requestId": "$context.requestId",
        "consumerKeyId": "$context.identity.apiKeyId",
        "principal": "$context.authorizer.principalId",
        "ip": "$context.identity.sourceIp",
        "method": "$context.httpMethod",
        "path": "$context.resourcePath",
        "status": "$context.status",
        "integrationStatus": "$context.integration.status",
        "latencyMs": "$context.responseLatency",
        "errorType": "$context.error.responseType",
        "wafStatus": "$context.waf.status",
        "tlsVersion": "$context.tlsVersion",
    }
    return json.dumps(fields, separators=(",", ":"))


# --- ALB -----------------------------------------------------------------------------------------------------------


def model_not_found_body() -> str:
    return _openai_error("The model does not exist on this endpoint.", "NotFoundError", 404)


def backend_path(route_path: str, stage_name: str = STAGE_NAME) -> str:
    """The path a private integration sends to the ALB: API Gateway puts the stage in front of the route
    (AWS, "Private integrations for REST APIs", considerations: a request to stage `test` reaches the backend
    as `test/path`)."""
    return f"/{stage_name}{route_path}"


def listener_rule_conditions(served_name: str, stage_name: str = STAGE_NAME) -> list[aws.lb.ListenerRuleConditionArgsDict]:
    """One model's rule: its header value AND one of the routed /v1 paths as they arrive from API Gateway
    (stage first); nothing else reaches a router."""
    return [
        {"http_header": {"http_header_name": MODEL_HEADER, "values": [served_name]}},
        {"path_pattern": {"values": [backend_path(route.path, stage_name) for route in ROUTES if route.routed_by_model]}},
    ]


def stage_prefix_rewrite(stage_name: str = STAGE_NAME) -> list[aws.lb.ListenerRuleTransformArgsDict]:
    """ALB url-rewrite transform that removes the stage again, so the router and vLLM see `/v1/...`. The rule's
    conditions are evaluated on the path before the rewrite (ELB guide, "Transforms for listener rules")."""
    return [
        {
            "type": "url-rewrite",
            "url_rewrite_config": {"rewrite": {"regex": f"^/{re.escape(stage_name)}(/v1/.*)$", "replace": "$1"}},
        }
    ]


def listener_rule_priorities(served_names: list[str]) -> dict[str, int]:
    """Stable priorities in configuration order; ALB header matching is case-insensitive, so names must differ
    by more than case or one model's rule would catch the other's requests."""
    lowered = [name.lower() for name in served_names]
    clashes = sorted({name for name in served_names if lowered.count(name.lower()) > 1})
    if clashes:
        raise ValueError(
            f"models[].servedName: got {clashes}, expected names that differ by more than letter case "
            "(the load balancer matches the model header case-insensitively)"
        )
    return {name: 100 + 10 * index for index, name in enumerate(served_names)}


# --- WAF -----------------------------------------------------------------------------------------------------------


def _visibility(metric_name: str) -> aws.wafv2.WebAclRuleVisibilityConfigArgsDict:
    return {"cloudwatch_metrics_enabled": True, "sampled_requests_enabled": True, "metric_name": metric_name}


def body_inspection_kib(max_body_kib: int) -> int:
    """The smallest WAF body inspection tier that sees the whole allowed body."""
    return next(tier for tier in WAF_BODY_INSPECTION_TIERS_KIB if tier >= max_body_kib)


def waf_rules(
    prefix: str, max_body_kib: int, rate_limit_per_key_5min: int, rate_limit_per_ip_5min: int
) -> list[aws.wafv2.WebAclRuleArgsDict]:
    """AWS managed groups, a body size limit and two rate limits (per API key, per client IP)."""
    rules: list[aws.wafv2.WebAclRuleArgsDict] = []
    for priority, group in enumerate(WAF_MANAGED_RULE_GROUPS):
        statement: aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgsDict = {"name": group, "vendor_name": "AWS"}
        # Body rules count, never block: prompts legitimately contain code, HTML, paths and URLs (catalog note).
        counted = WAF_BODY_RULES_COUNTED.get(group, ())
        if counted:
            statement["rule_action_overrides"] = [{"name": rule, "action_to_use": {"count": {}}} for rule in counted]
        rules.append(
            {
                "name": group,
                "priority": priority,
                "override_action": {"none": {}},
                "statement": {"managed_rule_group_statement": statement},
                "visibility_config": _visibility(f"{prefix}-{group}"),
            }
        )
    rules.append(
        {
            "name": "body-size-limit",
            "priority": 10,
            "action": {"block": {}},
            "statement": {
                "size_constraint_statement": {
                    "comparison_operator": "GT",
                    "size": max_body_kib * 1024,
                    # A body longer than WAF inspects counts as too large: fail closed.
                    "field_to_match": {"body": {"oversize_handling": "MATCH"}},
                    "text_transformations": [{"priority": 0, "type": "NONE"}],
                }
            },
            "visibility_config": _visibility(f"{prefix}-body-size"),
        }
    )
    rules.append(
        {
            "name": "rate-per-api-key",
            "priority": 20,
            "action": {"block": {}},
            "statement": {
                "rate_based_statement": {
                    "limit": rate_limit_per_key_5min,
                    "evaluation_window_sec": 300,
                    "aggregate_key_type": "CUSTOM_KEYS",
                    "custom_keys": [
                        {"header": {"name": "authorization", "text_transformations": [{"priority": 0, "type": "NONE"}]}}
                    ],
                }
            },
            "visibility_config": _visibility(f"{prefix}-rate-per-key"),
        }
    )
    rules.append(
        {
            "name": "rate-per-ip",
            "priority": 30,
            "action": {"block": {}},
            "statement": {
                "rate_based_statement": {"limit": rate_limit_per_ip_5min, "evaluation_window_sec": 300, "aggregate_key_type": "IP"}
            },
            "visibility_config": _visibility(f"{prefix}-rate-per-ip"),
        }
    )
    return rules


def waf_association_config(scope: str, max_body_kib: int) -> aws.wafv2.WebAclAssociationConfigArgsDict | None:
    """Raise WAF's body inspection limit when the allowed body is larger than the 16 KB default. The key names the
    protected resource type (WAF API "AssociationConfig": RequestBody keyed by CLOUDFRONT / API_GATEWAY), spelled as
    pulumi-aws's WebAclAssociationConfigRequestBodyArgsDict fields `cloudfront` / `api_gateway`; an unknown key is
    dropped or rejected by the provider, and then the stack's own size rule blocks every body over 16 KB."""
    tier = body_inspection_kib(max_body_kib)
    if tier == WAF_BODY_INSPECTION_TIERS_KIB[0]:
        return None
    limit: aws.wafv2.WebAclAssociationConfigRequestBodyCloudfrontArgsDict = {"default_size_inspection_limit": f"KB_{tier}"}
    body: aws.wafv2.WebAclAssociationConfigRequestBodyArgsDict = (
        {"cloudfront": limit} if scope == "CLOUDFRONT" else {"api_gateway": {"default_size_inspection_limit": f"KB_{tier}"}}
    )
    return {"request_bodies": [body]}
