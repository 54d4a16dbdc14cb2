"""Reliability pillar: multi-AZ cluster, vLLM startup budget, disruption budget, safe rollouts, retained weights."""

from __future__ import annotations

from typing import Mapping

from _aws import (
    EKS_CLUSTER, EKS_COMPONENT, MODEL_BUCKET_CONFIG, NODE_SUBNET_CONFIG, SUBNET, maybe_model_buckets, model_buckets,
    tags_of,
)
from _kubernetes import (
    judged_as_vllm, namespace_of, pod_labels, round_down_percent, same_namespace, selector_matches,
    undecided_vllm_deployments, vllm_containers, vllm_deployments,
)
from _stack import MANDATORY, StackView, describe, resource_policy, stack_policy
from _values import UNKNOWN, as_list, as_number, contains_unknown, fmt_number, get, is_unknown

PDB = "kubernetes:policy/v1:PodDisruptionBudget"


# ---------------------------------------------------------------------------------------------------------------
# cluster-multi-az
# ---------------------------------------------------------------------------------------------------------------

MULTI_AZ_CONFIG = {
    "minAvailabilityZones": {"type": "integer", "minimum": 1, "default": 2,
                             "description": "Fewest distinct availability zones the cluster's subnets must span."},
    "nodeSubnetTagKeys": NODE_SUBNET_CONFIG["nodeSubnetTagKeys"],
}


def _zones(view: StackView, subnets) -> tuple[set, bool]:
    zones, unknown = set(), False
    for subnet in subnets:
        props = view.p(subnet)
        zone = props.get("availabilityZone") or props.get("availabilityZoneId")
        if zone is None or is_unknown(zone):
            unknown = True
        else:
            zones.add(zone)
    return zones, unknown


def _check_multi_az(view: StackView, config, findings, args):
    minimum = int(config["minAvailabilityZones"])
    subnets = view.of_type(SUBNET)
    clusters = view.of_type(EKS_COMPONENT, EKS_CLUSTER)
    node_subnets = [s for s in subnets if any(k in tags_of(view.p(s)) for k in config["nodeSubnetTagKeys"])]
    judged = []
    for cluster in clusters:
        props = view.p(cluster)
        if cluster.resource_type == EKS_CLUSTER:
            refs = [(get(props, "vpcConfig", "subnetIds"), "vpcConfig")]
        else:
            refs = [(props.get(k), k) for k in ("subnetIds", "privateSubnetIds", "publicSubnetIds")
                    if props.get(k) is not None]
        resolved = []
        for value, prop in refs:
            if prop == "vpcConfig":
                # Property dependencies are tracked per top-level input.
                resolved.extend(view.related(cluster, "vpcConfig", subnets))
                for subnet in subnets:
                    ids = view.identity_strings(subnet)
                    if any(v in ids for v in as_list(value) if isinstance(v, str)) and subnet not in resolved:
                        resolved.append(subnet)
            else:
                resolved.extend(s for s in view.related(cluster, prop, subnets) if s not in resolved)
        source = resolved or node_subnets
        if not source:
            if refs and any(isinstance(v, list) and v and not contains_unknown(v) for v, _ in refs):
                # Subnets defined outside this program: count the distinct subnet ids as a floor of nothing.
                findings.cannot_judge(f"{cluster.name} subnets (not in this stack)")
            continue
        zones, unknown = _zones(view, source)
        judged.append(cluster)
        if len(zones) >= minimum:
            continue
        if unknown:
            findings.cannot_judge(f"{cluster.name} subnet availability zones")
            continue
        findings.fail(f"{describe(cluster)} spans {len(zones)} availability zone(s) {sorted(zones)}; at least "
                      f"{minimum} are required so one zone outage does not take the service down.", cluster.urn)
    if not clusters and node_subnets:
        zones, unknown = _zones(view, node_subnets)
        if len(zones) < minimum:
            if unknown:
                findings.cannot_judge("node subnet availability zones")
            else:
                findings.fail(f"Node subnets span {len(zones)} availability zone(s) {sorted(zones)}; at least "
                              f"{minimum} are required.", node_subnets[0].urn)


cluster_multi_az = stack_policy(
    name="cluster-multi-az",
    description="The cluster's subnets span at least two availability zones.",
    enforcement_level=MANDATORY,
    check=_check_multi_az,
    config=MULTI_AZ_CONFIG,
)


# ---------------------------------------------------------------------------------------------------------------
# vllm-startup-probe-budget
# ---------------------------------------------------------------------------------------------------------------

STARTUP_CONFIG = {
    "minStartupSeconds": {"type": "number", "minimum": 0, "default": 300,
                          "description": "Least failureThreshold x periodSeconds a vLLM startup probe must allow "
                                         "(weights download + load + CUDA graph capture)."},
}


def _check_startup_probe(resource_type, props, config, findings, args):
    if not judged_as_vllm(resource_type, props, findings):
        return
    minimum = float(config["minStartupSeconds"])
    for container in vllm_containers(resource_type, props):
        probe = container.get("startupProbe")
        if is_unknown(probe):
            findings.cannot_judge("startupProbe")
            continue
        name = container.get("name", "?")
        if not isinstance(probe, Mapping):
            findings.fail(f"vLLM container '{name}' has no startupProbe; loading a model takes minutes and the "
                          f"liveness probe would kill it first (need failureThreshold x periodSeconds >= "
                          f"{fmt_number(minimum)} s).")
            continue
        threshold = as_number(probe.get("failureThreshold", 3))  # Kubernetes defaults
        period = as_number(probe.get("periodSeconds", 10))
        if is_unknown(threshold) or is_unknown(period):
            findings.cannot_judge("startupProbe timing")
            continue
        if threshold is None or period is None:
            findings.fail(f"vLLM container '{name}' startupProbe has non-numeric failureThreshold/periodSeconds.")
            continue
        budget = threshold * period
        if budget < minimum:
            findings.fail(f"vLLM container '{name}' startupProbe allows {fmt_number(budget)} s "
                          f"(failureThreshold {fmt_number(threshold)} x periodSeconds {fmt_number(period)}); "
                          f"at least {fmt_number(minimum)} s is needed to download and load the model.")


vllm_startup_probe_budget = resource_policy(
    name="vllm-startup-probe-budget",
    description="Every vLLM container has a startup probe allowing at least 300 s to load the model.",
    enforcement_level=MANDATORY,
    check=_check_startup_probe,
    config=STARTUP_CONFIG,
)


# ---------------------------------------------------------------------------------------------------------------
# vllm-pod-disruption-budget
# ---------------------------------------------------------------------------------------------------------------

PDB_CONFIG = {
    "minAvailable": {"type": "integer", "minimum": 1, "default": 1,
                     "description": "Least minAvailable the PodDisruptionBudget must keep."},
}


def _check_pdb(view: StackView, config, findings, args):
    minimum = float(config["minAvailable"])
    budgets = view.of_type(PDB)
    undecided_vllm_deployments(view, findings)
    for deployment in vllm_deployments(view):
        props = view.p(deployment)
        labels = pod_labels(deployment.resource_type, props)
        namespace = namespace_of(props)
        covered, unknown = False, False
        for budget in budgets:
            budget_props = view.p(budget)
            same = same_namespace(namespace, namespace_of(budget_props))
            matches = selector_matches(get(budget_props, "spec", "selector"), labels or {})
            if same is UNKNOWN or matches is UNKNOWN:
                unknown = True
                continue
            if not same or not matches:
                continue
            value = get(budget_props, "spec", "minAvailable")
            if is_unknown(value):
                unknown = True
                continue
            if isinstance(value, str) and value.strip().endswith("%"):
                number = as_number(value.strip()[:-1])
                ok = number is not None and number > 0
            else:
                number = as_number(value)
                ok = number is not None and number >= minimum
            if ok:
                covered = True
                break
        if covered:
            continue
        if unknown:
            findings.cannot_judge(f"{deployment.name} PodDisruptionBudget")
            continue
        findings.fail(f"vLLM Deployment '{deployment.name}' has no PodDisruptionBudget with minAvailable >= "
                      f"{fmt_number(minimum)} selecting its pod labels {dict(labels or {})} in namespace "
                      f"{namespace or 'default'!r}; node drains could evict every replica at once.", deployment.urn)


vllm_pod_disruption_budget = stack_policy(
    name="vllm-pod-disruption-budget",
    description="Every vLLM Deployment has a PodDisruptionBudget in its namespace with minAvailable >= 1.",
    enforcement_level=MANDATORY,
    check=_check_pdb,
    config=PDB_CONFIG,
)


# ---------------------------------------------------------------------------------------------------------------
# vllm-rolling-update-keeps-ready-pod
# ---------------------------------------------------------------------------------------------------------------

def _check_rolling_update(resource_type, props, config, findings, args):
    if not judged_as_vllm(resource_type, props, findings):
        return
    strategy = get(props, "spec", "strategy", default={})
    replicas = as_number(get(props, "spec", "replicas", default=1))
    if is_unknown(strategy) or is_unknown(replicas):
        findings.cannot_judge("spec.strategy/spec.replicas")
        return
    strategy = strategy or {}
    replicas = replicas if replicas is not None else 1.0
    kind = strategy.get("type", "RollingUpdate")
    if is_unknown(kind):
        findings.cannot_judge("spec.strategy.type")
        return
    if kind != "RollingUpdate":
        findings.fail(f"spec.strategy.type is {kind}; use RollingUpdate with maxUnavailable: 0 so a new pod is ready "
                      "before an old one goes (vLLM takes minutes to start).")
        return
    raw = get(strategy, "rollingUpdate", "maxUnavailable", default="25%")
    unavailable = round_down_percent(raw, max(replicas, 1.0))
    if is_unknown(unavailable):
        findings.cannot_judge("spec.strategy.rollingUpdate.maxUnavailable")
        return
    if unavailable is None or unavailable > 0:
        shown = "unset (Kubernetes defaults to 25%)" if get(strategy, "rollingUpdate", "maxUnavailable") is None \
            else repr(raw)
        findings.fail(f"spec.strategy.rollingUpdate.maxUnavailable is {shown}, which lets a rollout take "
                      f"{fmt_number(unavailable) if unavailable is not None else '?'} of {fmt_number(replicas)} "
                      "ready pod(s) away; set maxUnavailable: 0 (and maxSurge: 1).")


vllm_rolling_update_keeps_ready_pod = resource_policy(
    name="vllm-rolling-update-keeps-ready-pod",
    description="vLLM Deployments roll out with maxUnavailable 0, so an update never removes the last ready pod.",
    enforcement_level=MANDATORY,
    check=_check_rolling_update,
)


# ---------------------------------------------------------------------------------------------------------------
# model-bucket-retained
# ---------------------------------------------------------------------------------------------------------------

def _check_retained(view: StackView, config, findings, args):
    # The Analyzer protocol carries `protect` but no `retainOnDelete`, so a pack cannot see retention. What it can
    # see: forceDestroy (true lets a delete wipe every object; false makes S3 refuse to delete a bucket that still
    # holds objects, "DeleteBucket": BucketNotEmpty) and protect. `protect` alone would make `pulumi destroy` fail.
    for bucket in maybe_model_buckets(view, config):
        if view.p(bucket).get("forceDestroy") is True and not bucket.opts.protect:
            findings.cannot_judge(f"{bucket.name} tags (is it the model bucket?)")
    for bucket in model_buckets(view, config):
        if view.p(bucket).get("forceDestroy") is not True or bucket.opts.protect:
            continue
        findings.fail(f"Model bucket '{bucket.name}' sets forceDestroy: a delete or replacement would erase the weights. "
                      "Keep forceDestroy false and set the resource option retain_on_delete=True, so `pulumi destroy` "
                      "completes and leaves the bucket. (Policy packs cannot see retainOnDelete: the Analyzer protocol "
                      "does not carry it.)", bucket.urn)


model_bucket_retained = stack_policy(
    name="model-bucket-retained",
    description="The model-weights bucket never sets forceDestroy (S3 then refuses to delete it while it holds "
                "weights); keep it with retain_on_delete.",
    enforcement_level=MANDATORY,
    check=_check_retained,
    config=MODEL_BUCKET_CONFIG,
)


POLICIES = [
    cluster_multi_az,
    vllm_startup_probe_budget,
    vllm_pod_disruption_budget,
    vllm_rolling_update_keeps_ready_pod,
    model_bucket_retained,
]
