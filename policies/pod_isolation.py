"""Security pillar, access between pods: every namespace that serves a model denies pod traffic by default.

Kubernetes NetworkPolicy semantics (kubernetes.io, "Network Policies", Default policies): a policy whose
`podSelector` is `{}` and whose `policyTypes` list a direction, with no rule for that direction, isolates every pod of
the namespace in that direction; other policies then allow only what they name. Without it, any pod of the cluster
reaches vLLM's unauthenticated paths (/metrics, /tokenize, ...). Enforced on EKS by the VPC CNI when its
`enableNetworkPolicy` is on (whether it is, is another policy's business).
"""

from __future__ import annotations

from typing import Any

from _kubernetes import namespace_of, vllm_deployments
from _stack import MANDATORY, StackView, describe, stack_policy
from _values import UNKNOWN, as_list, contains_unknown, get, is_unknown

NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
DIRECTIONS = ("Ingress", "Egress")


def _denies_by_default(props: Any) -> Any:
    """The directions a NetworkPolicy isolates for every pod of its namespace; UNKNOWN when a value is not known."""
    spec = get(props, "spec", default={})
    selector = get(spec, "podSelector", default={})
    if is_unknown(spec) or contains_unknown(selector):
        return UNKNOWN
    if as_list(get(selector, "matchLabels", default={}) or None) or as_list(get(selector, "matchExpressions")):
        return set()  # selects some pods only
    types = get(spec, "policyTypes")
    if contains_unknown(types):
        return UNKNOWN
    denied = set()
    for direction in [t for t in as_list(types) if t in DIRECTIONS] or ["Ingress"]:  # the API's default
        rules = get(spec, direction.lower())
        if contains_unknown(rules):
            return UNKNOWN
        if not as_list(rules):
            denied.add(direction)
    return denied


def _check_default_deny(view: StackView, config, findings, args):
    namespaces: dict[str, Any] = {}
    for deployment in vllm_deployments(view):
        namespace = namespace_of(view.p(deployment))
        if is_unknown(namespace):
            findings.cannot_judge(f"{deployment.name}.metadata.namespace")
            continue
        namespaces.setdefault(namespace or "default", deployment)
    isolated: dict[str, set[str]] = {}
    unknown: set[str] = set()
    for policy in view.of_type(NETWORK_POLICY):
        props = view.p(policy)
        namespace = namespace_of(props)
        directions = _denies_by_default(props)
        if is_unknown(namespace) or is_unknown(directions):
            unknown.add(policy.name)
            continue
        if directions:
            isolated.setdefault(namespace or "default", set()).update(directions)
    required = [t for t in DIRECTIONS if t in config["requiredDirections"]]
    for namespace, deployment in sorted(namespaces.items()):
        missing = [t for t in required if t not in isolated.get(namespace, set())]
        if not missing:
            continue
        if unknown:
            findings.cannot_judge(", ".join(sorted(unknown)))
            continue
        findings.fail(f"Namespace '{namespace}' runs {describe(deployment)} but no NetworkPolicy with podSelector {{}} "
                      f"denies {' and '.join(missing)} by default: any pod of the cluster can reach vLLM's "
                      "unauthenticated paths.", deployment.urn)


DEFAULT_DENY_CONFIG = {
    "requiredDirections": {"type": "array", "items": {"type": "string", "enum": list(DIRECTIONS)},
                           "default": list(DIRECTIONS),
                           "description": "Directions a namespace serving a model must deny by default."},
}

serving_namespace_default_deny = stack_policy(
    name="serving-namespace-default-deny",
    description="Every namespace running vLLM has a default-deny NetworkPolicy (podSelector {}), so pods reach it "
                "only where another NetworkPolicy allows.",
    enforcement_level=MANDATORY,
    check=_check_default_deny,
    config=DEFAULT_DENY_CONFIG,
)

POLICIES = [serving_namespace_default_deny]
