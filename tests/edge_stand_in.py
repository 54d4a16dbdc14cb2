"""STAND-IN for API Gateway's private integration and the internal ALB's listener, driven by a rendered snapshot.

Pure functions (no vLLM, no network), shared by the unit tests (tests/test_edge_path.py) and the vLLM contract test
(tests/contract/test_routing.py). Every AWS behaviour applied here is in tests/aws_behaviour.py with its source:
- API Gateway REST private integration: the stage goes in front of the path the backend receives
  (AWS, "Private integrations for REST APIs in API Gateway", considerations: stage `test` -> `test/path`);
- integration request parameters: header <- `method.request.body.<field>`, a context variable or a 'static' value
  (AWS, "Parameter mapping for REST APIs", integration request data sources);
- ALB listener: rules in priority order, path-pattern (case-sensitive, `*`/`?` wildcards) and http-header
  (case-insensitive) conditions, all of a rule's conditions must match; no match -> the default action (ELB guide,
  "Listener rules for your Application Load Balancer", condition types);
- ALB url-rewrite transform: regex on the URL after the rule matched, `$1` capture groups, no match -> unchanged;
  it does not change the routing decision (ELB guide, "Transforms for listener rules").
"""

from __future__ import annotations

import fnmatch
import re
import uuid
from dataclasses import dataclass
from typing import Any


def _of(snapshot: dict, type_token: str) -> list[dict]:
    return [r for r in snapshot["resources"] if r["type"] == type_token]


def edge_plan(snapshot: dict) -> dict[str, Any]:
    """What the rendered stack says: stage, integration parameters, listener rules, each model's router."""
    integration = next(i for i in _of(snapshot, "aws:apigateway/integration:Integration") if i["props"]["type"] == "HTTP_PROXY")
    stage = _of(snapshot, "aws:apigateway/stage:Stage")[0]["props"]["stageName"]
    listener = _of(snapshot, "aws:lb/listener:Listener")[0]["props"]
    groups = {g["name"]: g["props"]["tags"]["vllm-eks:model"] for g in _of(snapshot, "aws:lb/targetGroup:TargetGroup")}
    rules = []
    for rule in _of(snapshot, "aws:lb/listenerRule:ListenerRule"):
        target = rule["props"]["actions"][0]["targetGroupArn"]
        # The longest target group name the ARN contains (names are prefixes of one another: m, m-b).
        model = groups[max((name for name in groups if f"/{name}-" in target), key=len)]
        rules.append((float(rule["props"]["priority"]), rule["props"]["conditions"], rule["props"].get("transforms") or [], model))
    routers = {}
    for deployment in _of(snapshot, "kubernetes:apps/v1:Deployment"):
        if deployment["props"]["metadata"]["name"] == "vllm-router":
            namespace = deployment["props"]["metadata"]["namespace"]
            routers[namespace.removeprefix("vllm-")] = {
                "namespace": namespace,
                "args": deployment["props"]["spec"]["template"]["spec"]["containers"][0]["args"],
            }
    served = {model: next(c["httpHeader"]["values"][0] for c in conditions if "httpHeader" in c) for _, conditions, _, model in rules}
    return {
        "stage": stage,
        "uri": integration["props"]["uri"],
        "parameters": integration["props"]["requestParameters"],
        "default": listener["defaultActions"][0],
        "rules": sorted(rules, key=lambda item: item[0]),
        "routers": routers,
        "served": served,
    }


@dataclass(frozen=True)
class EdgeDecision:
    """Where the ALB sends a request: a model's router (with the path and headers it receives) or a fixed response."""

    model: str | None
    fixed_response: dict | None
    alb_path: str  # the path as the ALB received it from API Gateway
    router_path: str | None  # the path after the rule's transforms, as the router receives it
    headers: dict[str, str]


def api_gateway_and_alb(plan: dict, method_path: str, body: dict, internal_key: str) -> EdgeDecision:
    """A client request to `<stage URL><method_path>`, through the private integration and the listener."""
    context = {"context.authorizer.vllmAuthorization": f"Bearer {internal_key}", "context.requestId": str(uuid.uuid4())}
    headers: dict[str, str] = {}
    for target, source in plan["parameters"].items():
        name = target.removeprefix("integration.request.header.")
        if source == "method.request.body.model":
            if "model" in body:
                headers[name] = str(body["model"])
        elif source.startswith("'"):
            headers[name] = source.strip("'")
        else:
            headers[name] = context[source]
    alb_path = f"/{plan['stage']}{method_path}"
    for _, conditions, transforms, model in plan["rules"]:
        if all(_condition_matches(condition, alb_path, headers) for condition in conditions):
            return EdgeDecision(model, None, alb_path, _rewritten(alb_path, transforms), headers)
    return EdgeDecision(None, plan["default"], alb_path, None, headers)


def _condition_matches(condition: dict, path: str, headers: dict[str, str]) -> bool:
    if "pathPattern" in condition:
        return any(fnmatch.fnmatchcase(path, pattern) for pattern in condition["pathPattern"]["values"])
    if "httpHeader" in condition:
        wanted = condition["httpHeader"]
        value = next((v for k, v in headers.items() if k.lower() == wanted["httpHeaderName"].lower()), None)
        return value is not None and any(fnmatch.fnmatch(value.lower(), p.lower()) for p in wanted["values"])
    raise AssertionError(f"the stand-in does not know the condition {condition}")


def _rewritten(path: str, transforms: list[dict]) -> str:
    for transform in transforms:
        if transform["type"] != "url-rewrite":
            raise AssertionError(f"the stand-in does not know the transform {transform['type']}")
        rewrite = transform["urlRewriteConfig"]["rewrite"]
        match = re.search(rewrite["regex"], path)
        if match:
            replacement = re.sub(r"\$(\d+)", lambda group: match.group(int(group.group(1))) or "", rewrite["replace"])
            path = path[: match.start()] + replacement + path[match.end():]
    return path
