"""Reliability pillar, cluster: router health checks that judge only the router, volume claims that can bind."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from _aws import cluster_outside_stack
from _kubernetes import container_label, namespace_of, pod_labels, same_namespace, selector_matches
from _router import ROUTER_CONFIG, router_workloads
from _stack import MANDATORY, StackView, describe, stack_policy
from _values import UNKNOWN, as_list, contains_unknown, get, is_unknown

TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
TARGET_GROUP_BINDING = "kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding"
SERVICE = "kubernetes:core/v1:Service"
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")

# ---------------------------------------------------------------------------------------------------------------
# router-health-check-process-only
# ---------------------------------------------------------------------------------------------------------------

ROUTER_HEALTH_CONFIG = {
    **ROUTER_CONFIG,
    "forbiddenPaths": {
        "type": "array", "items": {"type": "string"}, "default": ["/health"],
        "description": "Router paths whose answer depends on its workers (vllm-router 0.1.17: /health is 503 once "
                       "any worker is unhealthy); probes and target-group checks must not use them.",
    },
}


def _router_target_groups(view: StackView, deployment, props: Mapping, forbidden: set, findings) -> list:
    """Target groups bound (TargetGroupBinding -> Service selecting the router's pods) to a router Deployment; a
    Service or binding whose link is unknown yet is 'cannot judge yet'."""
    labels = pod_labels(deployment.resource_type, props)
    services = []
    for service in view.of_type(SERVICE):
        service_props = view.p(service)
        selector = get(service_props, "spec", "selector")
        in_namespace = same_namespace(namespace_of(service_props), namespace_of(props))
        selects = selector_matches({"matchLabels": selector}, labels) if isinstance(selector, Mapping) and selector \
            else UNKNOWN if is_unknown(selector) else False
        name = get(service_props, "metadata", "name")
        if is_unknown(in_namespace) or is_unknown(selects) or (in_namespace is True and selects is True
                                                               and is_unknown(name)):
            findings.cannot_judge(f"{describe(service)} selector/namespace/name")
        elif in_namespace is True and selects is True:
            services.append((service, name))
    groups = []
    for binding in view.of_type(TARGET_GROUP_BINDING):
        binding_props = view.p(binding)
        service_name = get(binding_props, "spec", "serviceRef", "name")
        in_namespace = same_namespace(namespace_of(binding_props), namespace_of(props))
        # A Service's generated name is unknown on a first preview; the engine's dependency still links them.
        bound = service_name in [name for _, name in services] or (
            is_unknown(service_name) and view.resolve(binding, "spec", [service for service, _ in services]))
        if is_unknown(in_namespace) or (is_unknown(service_name) and not bound):
            # Which Service it binds is not known yet: only a target group it may bind that checks a forbidden
            # (or unknown) path leaves the verdict open.
            linked = view.resolve(binding, "spec", view.of_type(TARGET_GROUP))
            paths = [get(view.p(group), "healthCheck", "path") for group in linked]
            if not linked or any(contains_unknown(path) or path in forbidden for path in paths):
                findings.cannot_judge(f"{describe(binding)} serviceRef/namespace")
        elif bound and in_namespace is True:
            groups += view.resolve(binding, "spec", view.of_type(TARGET_GROUP))
    return groups


def _check_router_health(view: StackView, config, findings, args):
    """vllm-router 0.1.17 (measured, ../shared/FACTS.md): /health turns 503 when one worker fails; a probe or ALB
    check on it restarts or drains every router of a model for one bad vLLM replica."""
    forbidden = set(config["forbiddenPaths"])
    for deployment, props, routers in router_workloads(view, config):
        for container in routers:
            for probe in PROBES:
                path = get(container, probe, "httpGet", "path")
                if is_unknown(path):
                    findings.cannot_judge(f"{describe(deployment)} {probe}")
                elif path in forbidden:
                    findings.fail(f"{describe(deployment)} {container_label(container)} {probe} asks for {path}, which "
                                  "fails as soon as any one worker is unhealthy; use the router's own /liveness.",
                                  deployment.urn)
        for group in _router_target_groups(view, deployment, props, forbidden, findings):
            path = get(view.p(group), "healthCheck", "path")
            if contains_unknown(path):
                findings.cannot_judge(f"{describe(group)} healthCheck.path")
            elif path in forbidden:
                findings.fail(f"{describe(group)} checks the router of {describe(deployment)} on {path}, which fails "
                              "as soon as any one worker is unhealthy and would take every router of the model out of "
                              "the target group; check /liveness.", group.urn)


# ---------------------------------------------------------------------------------------------------------------
# volume-claims-name-a-stack-storage-class
# ---------------------------------------------------------------------------------------------------------------

STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
CLAIM_TEMPLATE_KEYS = ("volumeClaimTemplate", "volumeClaimTemplates")


def _claim_specs(resource_type: str, props: Mapping) -> list[tuple[str, Any]]:
    """(where, claim spec) of every PersistentVolumeClaim a resource creates or templates: PVCs, StatefulSet
    volumeClaimTemplates, and any `volumeClaimTemplate(s)` inside custom resources (Prometheus, Alertmanager) or
    Helm values (kube-prometheus-stack's prometheus.prometheusSpec.storageSpec)."""
    if resource_type == "kubernetes:core/v1:PersistentVolumeClaim":
        return [("spec", get(props, "spec"))]
    found: list[tuple[str, Any]] = []

    def walk(value: Any, where: str) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                path = f"{where}.{key}" if where else str(key)
                if key in CLAIM_TEMPLATE_KEYS:
                    if is_unknown(item):
                        found.append((path, UNKNOWN))
                    for index, template in enumerate(as_list(item)):
                        found.append((f"{path}[{index}]" if key.endswith("s") else path, get(template, "spec")))
                else:
                    walk(item, path)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{where}[{index}]")

    walk(props, "")
    return found


def _check_claims_name_a_class(view: StackView, config, findings, args):
    """AWS, "Amazon EKS Kubernetes versions" (1.30): no StorageClass is default any more, and EBS volumes need the
    EBS CSI driver (AWS, "Store Kubernetes volumes with Amazon EBS"): a claim that names no class, or a class the
    stack does not create, stays Pending and its pod never starts."""
    classes = set()
    for storage_class in view.of_type(STORAGE_CLASS):
        name = get(view.p(storage_class), "metadata", "name")
        if is_unknown(name):
            findings.cannot_judge(f"{describe(storage_class)} metadata.name")
            return
        classes.add(name)
    for resource in view.resources:
        if resource.resource_type == STORAGE_CLASS:
            continue
        for where, spec in _claim_specs(resource.resource_type, view.p(resource)):
            name = get(spec, "storageClassName") if isinstance(spec, Mapping) else None
            if is_unknown(spec) or is_unknown(name):
                findings.cannot_judge(f"{describe(resource)} {where}")
            elif not name:
                findings.fail(f"{describe(resource)} {where} names no storageClassName: no class is default on EKS "
                              "(1.30 and later), so the claim stays Pending. Name a StorageClass the stack creates"
                              f"{' (' + ', '.join(sorted(classes)) + ')' if classes else ''}.", resource.urn)
            elif name not in classes and cluster_outside_stack(view):
                findings.outside_stack(f"StorageClass {name!r} of the existing cluster ({describe(resource)} {where})")
            elif name not in classes:
                findings.fail(f"{describe(resource)} {where} names storageClassName {name!r}, which the stack does not "
                              f"create (it creates: {', '.join(sorted(classes)) or 'none'}); the claim would stay "
                              "Pending.", resource.urn)


POLICIES = [
    stack_policy(
        name="router-health-check-process-only",
        description="Router probes and target-group health checks ask for the router process (/liveness), never "
                    "a path that fails with one worker (/health).",
        enforcement_level=MANDATORY,
        check=_check_router_health,
        config=ROUTER_HEALTH_CONFIG,
    ),
    stack_policy(
        name="volume-claims-name-a-stack-storage-class",
        description="Every PersistentVolumeClaim and claim template (StatefulSets, operator CRs, Helm values) names a "
                    "StorageClass the stack creates; EKS has no default class.",
        enforcement_level=MANDATORY,
        check=_check_claims_name_a_class,
    ),
]
