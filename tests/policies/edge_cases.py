"""The rendered dev stack's edge resources and one-change mutations of it, shared by the edge policy branch tests
(test_edge_unknowns.py, test_edge_branches.py). A check enables only the edge policies and analyzes only the
resources a case changed or added; AnalyzeStack sees the whole stack.
"""

from __future__ import annotations

from tests.rendered import resource_named

from .branch_cases import checked_alone
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


def _both(*mutations):
    def mutate(s):
        for mutation in mutations:
            mutation(s)
    return mutate


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
    """The edge policies' answer on the `base` fixture's stack with one change (branch_cases.checked_alone)."""
    return checked_alone(pack, request.getfixturevalue(base), mutation, POLICIES, config)
