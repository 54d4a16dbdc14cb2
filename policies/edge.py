"""Edge policies (the public request path): nothing internet-facing reaches the serving pods, the public entry has
a WAF and TLS 1.2+, every API method needs the authorizer, vLLM's unauthenticated routes are never routed, and no
hop times out before the longest allowed request.

Pillars: security (SECURITY_POLICIES) and reliability (RELIABILITY_POLICIES: the timeout chain); the pack's
__main__ registers each list under its pillar.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any, Iterable, Mapping

from _kubernetes import command_tokens, command_unknown, containers, is_vllm_deployment, namespace_of, pod_spec
from _stack import MANDATORY, StackView, describe, resource_policy, stack_policy
from _values import as_bool, as_list, as_number, contains_unknown, fmt_number, get, is_unknown

LOAD_BALANCER_TYPES = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
LISTENER_TYPES = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
LISTENER_RULE_TYPES = ("aws:lb/listenerRule:ListenerRule", "aws:alb/listenerRule:ListenerRule")
TARGET_GROUP_TYPES = ("aws:lb/targetGroup:TargetGroup", "aws:alb/targetGroup:TargetGroup")
TARGET_GROUP_BINDING = "kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding"
K8S_SERVICE = "kubernetes:core/v1:Service"
K8S_INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
REST_API = "aws:apigateway/restApi:RestApi"
DOMAIN_NAME = "aws:apigateway/domainName:DomainName"
STAGE = "aws:apigateway/stage:Stage"
METHOD = "aws:apigateway/method:Method"
API_RESOURCE = "aws:apigateway/resource:Resource"
INTEGRATION = "aws:apigateway/integration:Integration"
HTTP_API_ROUTE = "aws:apigatewayv2/route:Route"
WAF_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"

SERVING_CONFIG = {
    "servingNamespacePrefixes": {
        "type": "array", "items": {"type": "string"}, "default": ["vllm-"],
        "description": "Namespaces with these prefixes serve models (besides any namespace running a vLLM Deployment).",
    },
}


def _referenced(value: Any, candidates: Iterable[Any], view: StackView, source: Any = None, prop: str = "") -> list[Any]:
    """Candidates a reference (id/ARN string) points at: property dependencies, exact ids, or the resource name
    inside an ARN built from the physical name. When names nest (m, m-b), the longest match wins."""
    candidates = list(candidates)
    if source is not None and prop:
        deps = getattr(source, "property_dependencies", None) or {}
        found = [c for c in candidates if any(d.urn == c.urn for d in deps.get(prop, []))]
        if found:
            return found
    texts = [v for v in as_list(value) if isinstance(v, str) and not is_unknown(v)]
    found = []
    for candidate in candidates:
        for text in texts:
            if text in view.identity_strings(candidate) or re.search(
                rf"(^|[/:]){re.escape(candidate.name)}([-/]|$)", text
            ):
                found.append(candidate)
                break
    if len(found) > 1:
        longest = max(len(c.name) for c in found)
        found = [c for c in found if len(c.name) == longest]
    return found


def _serving_namespaces(view: StackView, config: Mapping) -> set[str]:
    namespaces = {namespace_of(view.p(d)) for d in view.of_type(DEPLOYMENT) if is_vllm_deployment(d.resource_type, view.p(d))}
    for resource in view.resources:
        if resource.resource_type.startswith("kubernetes:"):
            namespace = namespace_of(view.p(resource))
            if isinstance(namespace, str) and any(namespace.startswith(p) for p in config["servingNamespacePrefixes"]):
                namespaces.add(namespace)
    return {n for n in namespaces if isinstance(n, str)}


# ---------------------------------------------------------------------------------------------------------------
# edge-no-public-lb-to-serving
# ---------------------------------------------------------------------------------------------------------------

def _forward_targets(view: StackView, load_balancer: Any) -> list[Any]:
    """Target groups an ALB forwards to, through its listeners' default actions and rules."""
    listeners = [l for l in view.of_type(*LISTENER_TYPES)
                 if load_balancer in _referenced(view.p(l).get("loadBalancerArn"), [load_balancer], view, l, "loadBalancerArn")]
    groups = view.of_type(*TARGET_GROUP_TYPES)
    actions = [a for l in listeners for a in as_list(view.p(l).get("defaultActions"))]
    for rule in view.of_type(*LISTENER_RULE_TYPES):
        if _referenced(view.p(rule).get("listenerArn"), listeners, view, rule, "listenerArn"):
            actions += as_list(view.p(rule).get("actions"))
    targets = []
    for action in actions:
        arns = [get(action, "targetGroupArn")] + [get(t, "arn") for t in as_list(get(action, "forward", "targetGroups"))]
        for arn in arns:
            targets += _referenced(arn, groups, view)
    return targets


def _check_no_public_lb_to_serving(view: StackView, config, findings, args):
    serving = _serving_namespaces(view, config)
    bindings = [b for b in view.of_type(TARGET_GROUP_BINDING) if namespace_of(view.p(b)) in serving]
    for load_balancer in view.of_type(*LOAD_BALANCER_TYPES):
        internal = as_bool(view.p(load_balancer).get("internal"))
        if internal is True:
            continue
        if is_unknown(internal):
            findings.cannot_judge(f"{load_balancer.name}.internal")
            continue
        for group in _forward_targets(view, load_balancer):
            for binding in bindings:
                if _referenced(get(view.p(binding), "spec", "targetGroupARN"), [group], view):
                    findings.fail(
                        f"{describe(load_balancer)} is internet-facing (internal is not true) and forwards to target "
                        f"group '{group.name}', which TargetGroupBinding '{binding.name}' fills with pods of serving "
                        f"namespace '{namespace_of(view.p(binding))}'. Make the load balancer internal and reach it "
                        "through the edge (API Gateway VPC link or CloudFront VPC origin).", load_balancer.urn)
    for service in view.of_type(K8S_SERVICE):
        props = view.p(service)
        if namespace_of(props) in serving and get(props, "spec", "type") == "LoadBalancer":
            annotations = get(props, "metadata", "annotations")
            scheme = get(annotations, "service.beta.kubernetes.io/aws-load-balancer-scheme")
            internal_flag = get(annotations, "service.beta.kubernetes.io/aws-load-balancer-internal")
            if is_unknown(scheme) or is_unknown(internal_flag):
                findings.cannot_judge(f"{service.name} load balancer annotations")
            elif not (scheme == "internal" or internal_flag in ("true", True)):
                findings.fail(f"{describe(service)} in serving namespace '{namespace_of(props)}' is a LoadBalancer "
                              "Service without the internal scheme annotation: it would expose pods to the internet.",
                              service.urn)
    for ingress in view.of_type(K8S_INGRESS):
        props = view.p(ingress)
        scheme = get(props, "metadata", "annotations", "alb.ingress.kubernetes.io/scheme")
        if namespace_of(props) in serving and is_unknown(scheme):
            findings.cannot_judge(f"{ingress.name} alb.ingress.kubernetes.io/scheme")
        elif namespace_of(props) in serving and scheme == "internet-facing":
            findings.fail(f"{describe(ingress)} in serving namespace '{namespace_of(props)}' asks for an "
                          "internet-facing ALB.", ingress.urn)


no_public_lb_to_serving = stack_policy(
    name="edge-no-public-lb-to-serving",
    description="Security: no internet-facing load balancer (ALB/NLB, LoadBalancer Service, Ingress) targets pods of a "
                "serving namespace; the only way in is the edge.",
    enforcement_level=MANDATORY,
    check=_check_no_public_lb_to_serving,
    config=SERVING_CONFIG,
)


# ---------------------------------------------------------------------------------------------------------------
# edge-waf-on-public-entry
# ---------------------------------------------------------------------------------------------------------------

def _stage_origin_of(view: StackView, stage: Any) -> list[Any]:
    """CloudFront distributions whose origin is this stage's REST API (the stage is then not the public entry)."""
    api_id = view.p(stage).get("restApi")
    # At preview the API id and origin domain are unknown; the engine's property dependencies still link them.
    api_urns = {d.urn for d in (getattr(stage, "property_dependencies", None) or {}).get("restApi", [])}
    fronting = []
    for distribution in view.of_type(DISTRIBUTION):
        origin_deps = {d.urn for d in (getattr(distribution, "property_dependencies", None) or {}).get("origins", [])}
        for origin in as_list(view.p(distribution).get("origins")):
            domain = get(origin, "domainName")
            if isinstance(domain, str) and isinstance(api_id, str) and domain.startswith(f"{api_id}.execute-api."):
                fronting.append(distribution)
            elif is_unknown(domain) and api_urns & origin_deps:
                fronting.append(distribution)
    return fronting


def _depends_on_web_acl(resource: Any, prop: str) -> bool:
    """The input was computed from a WAF web ACL (the engine's property dependencies are known at preview)."""
    deps = getattr(resource, "property_dependencies", None) or {}
    return any(d.resource_type == WEB_ACL for d in deps.get(prop, []))


def _check_waf_on_public_entry(view: StackView, config, findings, args):
    for distribution in view.of_type(DISTRIBUTION):
        acl = view.p(distribution).get("webAclId")
        if is_unknown(acl) and _depends_on_web_acl(distribution, "webAclId"):
            continue  # the ARN is unknown until the ACL exists, but the engine already says it is this stack's ACL
        if is_unknown(acl):
            findings.cannot_judge(f"{distribution.name}.webAclId")
        elif not acl:
            findings.fail(f"{describe(distribution)} has no webAclId: the public entry must sit behind AWS WAF.",
                          distribution.urn)
    associations = view.of_type(WAF_ASSOCIATION)
    for stage in view.of_type(STAGE):
        if _stage_origin_of(view, stage):
            continue  # CloudFront is the public entry; its WAF is checked above
        props = view.p(stage)
        stage_name, api_id = props.get("stageName"), props.get("restApi")
        if contains_unknown([stage_name, api_id]):
            findings.cannot_judge(f"{stage.name}.restApi/stageName")
            continue
        covered = any(
            isinstance(arn, str) and f"/stages/{stage_name}" in arn and str(api_id) in arn
            for arn in (view.p(a).get("resourceArn") for a in associations)
        ) or any(_referenced(view.p(a).get("resourceArn"), [stage], view, a, "resourceArn") for a in associations)
        if not covered and not props.get("webAclArn"):
            findings.fail(f"{describe(stage)} is a public entry (no CloudFront in front) without a WAF web ACL "
                          "association.", stage.urn)


waf_on_public_entry = stack_policy(
    name="edge-waf-on-public-entry",
    description="Security: the public entry has AWS WAF: every CloudFront distribution names a web ACL, and an API "
                "Gateway stage that is not behind CloudFront has a web ACL association.",
    enforcement_level=MANDATORY,
    check=_check_waf_on_public_entry,
)


# ---------------------------------------------------------------------------------------------------------------
# edge-tls-1-2
# ---------------------------------------------------------------------------------------------------------------

TLS_CONFIG = {
    "allowDefaultCertificate": {
        "type": "boolean", "default": False,
        "description": "Accept CloudFront's default *.cloudfront.net certificate, with which CloudFront negotiates "
                       "TLS 1.0+ whatever minimumProtocolVersion says.",
    },
}
_MODERN_CLOUDFRONT = re.compile(r"^TLSv1\.[23]_\d{4}$")
_MODERN_API_GATEWAY = re.compile(r"^(TLS_1_2|SecurityPolicy_TLS1[23]_.*)$")
_OLD_ORIGIN_PROTOCOLS = {"SSLv3", "TLSv1", "TLSv1.1"}


def _check_tls(resource_type, props, config, findings, args):
    if resource_type == DISTRIBUTION:
        certificate = props.get("viewerCertificate") or {}
        if as_bool(get(certificate, "cloudfrontDefaultCertificate")) is True and not config["allowDefaultCertificate"]:
            findings.fail("viewerCertificate uses CloudFront's default certificate, which accepts TLS 1.0: name a "
                          "domain with an ACM certificate and minimumProtocolVersion TLSv1.2_2021 or later.")
        version = get(certificate, "minimumProtocolVersion")
        if is_unknown(version):
            findings.cannot_judge("viewerCertificate.minimumProtocolVersion")
        elif not (isinstance(version, str) and _MODERN_CLOUDFRONT.match(version)):
            findings.fail(f"viewerCertificate.minimumProtocolVersion is {version!r}; require TLSv1.2_2021 or later.")
        behaviors = [props.get("defaultCacheBehavior") or {}] + as_list(props.get("orderedCacheBehaviors"))
        for behavior in behaviors:
            if get(behavior, "viewerProtocolPolicy") == "allow-all":
                findings.fail("a cache behavior allows plain HTTP (viewerProtocolPolicy allow-all); use https-only "
                              "or redirect-to-https.")
        for origin in as_list(props.get("origins")):
            old = _OLD_ORIGIN_PROTOCOLS & set(as_list(get(origin, "customOriginConfig", "originSslProtocols")))
            if old:
                findings.fail(f"origin '{get(origin, 'originId')}' allows {sorted(old)} to the origin; use TLSv1.2.")
    elif resource_type in (REST_API, DOMAIN_NAME):
        policy = props.get("securityPolicy")
        if is_unknown(policy):
            findings.cannot_judge("securityPolicy")
        elif not (isinstance(policy, str) and _MODERN_API_GATEWAY.match(policy)):
            findings.fail(f"securityPolicy is {policy!r} (unset means TLS_1_0); set TLS_1_2 or an enhanced "
                          "SecurityPolicy_TLS13_* policy.")


tls_1_2_at_the_edge = resource_policy(
    name="edge-tls-1-2",
    description="Security: TLS 1.2 or later at the edge: CloudFront viewer certificate and origins, API Gateway REST "
                "APIs and custom domains.",
    enforcement_level=MANDATORY,
    check=_check_tls,
    config=TLS_CONFIG,
)


# ---------------------------------------------------------------------------------------------------------------
# edge-methods-require-authorizer
# ---------------------------------------------------------------------------------------------------------------

AUTH_CONFIG = {
    "allowedAuthorizationTypes": {
        "type": "array", "items": {"type": "string"}, "default": ["CUSTOM", "COGNITO_USER_POOLS"],
        "description": "API Gateway method authorization types that count as requiring the authorizer.",
    },
}


def _check_methods_require_authorizer(resource_type, props, config, findings, args):
    if resource_type != METHOD:
        return
    authorization = props.get("authorization")
    if is_unknown(authorization):
        findings.cannot_judge("authorization")
        return
    if authorization not in config["allowedAuthorizationTypes"]:
        findings.fail(f"{props.get('httpMethod')} method has authorization {authorization!r}; every edge method must "
                      f"use the authorizer ({' or '.join(config['allowedAuthorizationTypes'])}).")
    elif authorization in ("CUSTOM", "COGNITO_USER_POOLS") and not props.get("authorizerId"):
        findings.fail(f"{props.get('httpMethod')} method is {authorization} but names no authorizerId.")


methods_require_authorizer = resource_policy(
    name="edge-methods-require-authorizer",
    description="Security: every API Gateway REST method requires the authorizer (no authorization NONE).",
    enforcement_level=MANDATORY,
    check=_check_methods_require_authorizer,
    config=AUTH_CONFIG,
)


# ---------------------------------------------------------------------------------------------------------------
# edge-no-unauthenticated-routes
# ---------------------------------------------------------------------------------------------------------------

ROUTES_CONFIG = {
    "forbiddenPaths": {
        "type": "array", "items": {"type": "string"},
        # vLLM 0.32 answers these without its API key (FACTS.md; tests/contract KNOWN_UNAUTHENTICATED_PATHS).
        "default": ["/metrics", "/health", "/ping", "/version", "/tokenize", "/detokenize", "/invocations", "/pooling"],
        "description": "Paths the edge must never route (unauthenticated vLLM and router endpoints).",
    },
}


def _action_types_unknown(actions: Any) -> bool:
    return is_unknown(actions) or contains_unknown([get(a, "type") for a in as_list(actions)])


def _check_no_unauthenticated_routes(view: StackView, config, findings, args):
    forbidden = [p.strip("/") for p in config["forbiddenPaths"]]
    for resource in view.of_type(API_RESOURCE):
        part = view.p(resource).get("pathPart")
        if is_unknown(part):
            findings.cannot_judge(f"{resource.name}.pathPart")
        elif isinstance(part, str) and (part in forbidden or part.startswith("{")):
            what = "a greedy/variable path that forwards any route" if part.startswith("{") else f"the route /{part}"
            findings.fail(f"{describe(resource)} creates {what} at the edge; expose only the /v1 routes a model "
                          "serves.", resource.urn)
    for route in view.of_type(HTTP_API_ROUTE):
        key = view.p(route).get("routeKey")
        if is_unknown(key):
            findings.cannot_judge(f"{route.name}.routeKey")
        elif isinstance(key, str) and (key == "$default" or "{proxy+}" in key or any(f"/{p}" in key for p in forbidden)):
            findings.fail(f"{describe(route)} routeKey {key!r} would reach unauthenticated routes.", route.urn)
    for listener in view.of_type(*LISTENER_TYPES):
        if _action_types_unknown(view.p(listener).get("defaultActions")):
            findings.cannot_judge(f"{listener.name}.defaultActions")
            continue
        for action in as_list(view.p(listener).get("defaultActions")):
            if get(action, "type") == "forward":
                findings.fail(f"{describe(listener)} forwards every path by default (including "
                              f"{', '.join(config['forbiddenPaths'][:2])}); answer unknown paths with a fixed "
                              "response and forward only the inference routes in listener rules.", listener.urn)
    for rule in view.of_type(*LISTENER_RULE_TYPES):
        rule_props = view.p(rule)
        conditions = rule_props.get("conditions")
        # Only the action types and path patterns matter: a target group ARN unknown at preview does not.
        if _action_types_unknown(rule_props.get("actions")) or is_unknown(conditions) or contains_unknown(
                [get(c, "pathPattern", "values") for c in as_list(conditions)]):
            findings.cannot_judge(f"{rule.name}.actions/conditions")
            continue
        if not any(get(a, "type") == "forward" for a in as_list(rule_props.get("actions"))):
            continue
        patterns = [v for c in as_list(rule_props.get("conditions")) for v in as_list(get(c, "pathPattern", "values"))]
        if not patterns:
            findings.fail(f"{describe(rule)} forwards without a path condition: every path, /metrics included, "
                          "reaches its targets.", rule.urn)
        for path in config["forbiddenPaths"]:
            if any(isinstance(p, str) and fnmatch.fnmatchcase(path, p) for p in patterns):
                findings.fail(f"{describe(rule)} forwards {path} (path patterns {patterns}).", rule.urn)


no_unauthenticated_routes = stack_policy(
    name="edge-no-unauthenticated-routes",
    description="Security: no edge route (API Gateway resource or route, ALB listener default or rule) reaches "
                "/metrics, /health or another unauthenticated vLLM path; no greedy {proxy+}.",
    enforcement_level=MANDATORY,
    check=_check_no_unauthenticated_routes,
    config=ROUTES_CONFIG,
)


# ---------------------------------------------------------------------------------------------------------------
# edge-timeouts-cover-max-request
# ---------------------------------------------------------------------------------------------------------------

TIMEOUT_CONFIG = {
    "maxRequestSeconds": {
        "type": "number", "default": 0,
        "description": "The longest request the edge allows; 0 = take the longest API Gateway integration timeout.",
    },
}
ROUTER_TIMEOUT_FLAG = "--request-timeout-secs"


def _check_timeouts(view: StackView, config, findings, args):
    integrations = [i for i in view.of_type(INTEGRATION) if view.p(i).get("type") in ("HTTP_PROXY", "HTTP", "AWS_PROXY")]
    seconds, some_unknown = [], False
    for integration in integrations:
        props = view.p(integration)
        timeout = as_number(props.get("timeoutMilliseconds"))
        if is_unknown(timeout):
            findings.cannot_judge(f"{integration.name}.timeoutMilliseconds")
            some_unknown = True
            continue
        timeout = 29.0 if timeout is None else timeout / 1000
        if timeout > 29 and props.get("responseTransferMode") != "STREAM":
            findings.fail(f"{describe(integration)} waits {fmt_number(timeout)} s without responseTransferMode STREAM; "
                          "buffered integrations stop at 29 s.", integration.urn)
        seconds.append((timeout, integration))
    if some_unknown and not config["maxRequestSeconds"]:
        return  # the longest request is not known yet, so neither is what every other hop must cover
    budget = float(config["maxRequestSeconds"] or 0) or max((s for s, _ in seconds), default=0.0)
    if not budget:
        return
    shown = fmt_number(budget)
    for timeout, integration in seconds:
        if timeout < budget:
            findings.fail(f"{describe(integration)} times out after {fmt_number(timeout)} s, below the maximum request "
                          f"duration {shown} s.", integration.urn)
    for distribution in view.of_type(DISTRIBUTION):
        for origin in as_list(view.p(distribution).get("origins")):
            read = as_number(get(origin, "customOriginConfig", "originReadTimeout"))
            completion = as_number(get(origin, "responseCompletionTimeout"))
            if is_unknown(read) or is_unknown(completion):
                findings.cannot_judge(f"{distribution.name} origin timeouts")
            if read is not None and not is_unknown(read) and read < budget:
                findings.fail(f"{describe(distribution)} origin '{get(origin, 'originId')}' originReadTimeout "
                              f"{fmt_number(read)} s < {shown} s: a non-streamed answer would be cut.", distribution.urn)
            if completion and not is_unknown(completion) and completion < budget:
                findings.fail(f"{describe(distribution)} origin '{get(origin, 'originId')}' responseCompletionTimeout "
                              f"{fmt_number(completion)} s < {shown} s.", distribution.urn)
    targets = {lb.urn: lb for i in integrations
               for lb in _referenced(view.p(i).get("integrationTarget"), view.of_type(*LOAD_BALANCER_TYPES), view, i,
                                     "integrationTarget")}
    for load_balancer in targets.values():
        props = view.p(load_balancer)
        if props.get("loadBalancerType", "application") != "application":
            continue
        idle = as_number(props.get("idleTimeout"))
        idle = 60.0 if idle is None else idle
        if is_unknown(idle):
            findings.cannot_judge(f"{load_balancer.name}.idleTimeout")
        if not is_unknown(idle) and idle < budget:
            findings.fail(f"{describe(load_balancer)} idle timeout {fmt_number(idle)} s < {shown} s: the ALB would cut "
                          "a quiet request.", load_balancer.urn)
        for group in _forward_targets(view, load_balancer):
            delay = as_number(view.p(group).get("deregistrationDelay"))
            delay = 300.0 if delay is None else delay
            if is_unknown(delay):
                findings.cannot_judge(f"{group.name}.deregistrationDelay")
            if not is_unknown(delay) and delay < budget:
                findings.fail(f"{describe(group)} deregistrationDelay {fmt_number(delay)} s < {shown} s: a draining "
                              "target would drop streams still running.", group.urn)
    for deployment in view.of_type(DEPLOYMENT):
        for container in containers(pod_spec(deployment.resource_type, view.p(deployment)), include_init=False):
            if command_unknown(container):
                findings.cannot_judge(f"{deployment.name} command/args")
                continue
            tokens = command_tokens(container)
            if "vllm-router" not in " ".join(tokens) or ROUTER_TIMEOUT_FLAG not in tokens:
                continue
            value = as_number(tokens[tokens.index(ROUTER_TIMEOUT_FLAG) + 1])
            if value is not None and not is_unknown(value) and value < budget:
                findings.fail(f"{describe(deployment)} vllm-router {ROUTER_TIMEOUT_FLAG} {fmt_number(value)} < {shown} s.",
                              deployment.urn)


timeouts_cover_max_request = stack_policy(
    name="edge-timeouts-cover-max-request",
    description="Reliability: every hop (API Gateway integration, CloudFront origin, ALB idle timeout and target "
                "deregistration, router request timeout) lasts at least the maximum request duration.",
    enforcement_level=MANDATORY,
    check=_check_timeouts,
    config=TIMEOUT_CONFIG,
)


SECURITY_POLICIES = [
    no_public_lb_to_serving,
    waf_on_public_entry,
    tls_1_2_at_the_edge,
    methods_require_authorizer,
    no_unauthenticated_routes,
]
RELIABILITY_POLICIES = [timeouts_cover_max_request]
