"""Autoscaling as rendered for dev and prod: KEDA's Helm release, the ScaledObjects and the wake-up path."""

from __future__ import annotations

import json

import parliament
import pytest

from vllm_eks.autoscaling.autoscaling import (
    cloudwatch_read_policy,
    missing_wake_up_signals,
)
from vllm_eks.autoscaling.scaled_object import scaled_object
from vllm_eks.planning.catalog import KEDA_CHART, VLLM_REQUESTS_WAITING
from vllm_eks.iam.iam_documents import irsa_trust_policy
from preflight.render import read_stack_config
from stack_config import SECTIONS, load_stack_config
from k8s_schemas import CRDS_DIR, known_custom_resources, manifest, validate_core, validate_custom
from rendered import rendered

SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"
TRIGGER_AUTHENTICATION = "kubernetes:keda.sh/v1alpha1:TriggerAuthentication"
RELEASE = "kubernetes:helm.sh/v3:Release"
SYSTEM_NODES = {"vllm-eks/node-role": "system"}


def _of(snapshot: dict, type_token: str) -> list[dict]:
    return [resource for resource in snapshot["resources"] if resource["type"] == type_token]


def _config(stack: str):
    raw = read_stack_config(stack)
    return load_stack_config({section: raw.get(f"vllm-eks:{section}") for section in SECTIONS})


def _scaled_objects(stack: str) -> dict[str, dict]:
    """Model config name → rendered ScaledObject manifest."""
    objects = {}
    for resource in _of(rendered(stack), SCALED_OBJECT):
        model = resource["name"].removeprefix("autoscaling-").removesuffix("-scaled-object")
        objects[model] = manifest(resource)
    return objects


def _trigger(scaled_object: dict, trigger_type: str) -> dict | None:
    matches = [t for t in scaled_object["spec"]["triggers"] if t["type"] == trigger_type]
    assert len(matches) <= 1
    return matches[0] if matches else None


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_model_has_one_scaled_object_valid_against_the_keda_crd(stack):
    objects = _scaled_objects(stack)
    assert sorted(objects) == sorted(model.name for model in _config(stack).models)
    for obj in objects.values():
        validate_custom(obj)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_queue_depth_trigger_sums_waiting_requests_per_replica_and_never_reads_a_gap_as_zero(stack):
    config = _config(stack)
    for model in config.models:
        spec = _scaled_objects(stack)[model.name]["spec"]
        trigger = _trigger({"spec": spec}, "prometheus")
        metadata = trigger["metadata"]
        # AverageValue: the HPA divides the summed queue by the replica count itself.
        assert trigger["metricType"] == "AverageValue"
        assert metadata["query"] == (
            f'sum({VLLM_REQUESTS_WAITING}{{namespace="vllm-{model.name}",model_name="{model.served_name}"}})'
        )
        assert "avg" not in metadata["query"] and "vector(0)" not in metadata["query"]
        assert float(metadata["threshold"]) == config.autoscaling.queue_threshold_per_replica
        assert metadata["ignoreNullValues"] == "false"
        assert metadata["serverAddress"] == "http://prometheus-stack-prometheus.monitoring.svc.cluster.local:9090"
        assert "metricName" not in metadata  # removed from KEDA's Prometheus trigger
        # After 3 failed polls KEDA holds max(current, fallback.replicas): the configured 1, raised to the model's
        # floor (prod's minReplicas 2) and never above its ceiling (KEDA docs, "Scaling Deployments": fallback).
        assert spec["fallback"] == {"failureThreshold": 3, "replicas": {"dev": 1, "prod": 2}[stack],
                                    "behavior": "currentReplicasIfHigher"}


def test_prod_scales_two_to_eight_on_threshold_ten_with_five_calm_minutes_before_scale_down():
    spec = _scaled_objects("prod")["qwen3-8b"]["spec"]
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (2, 8)
    assert spec["pollingInterval"] == 15
    assert float(_trigger({"spec": spec}, "prometheus")["metadata"]["threshold"]) == 10
    # cooldownPeriod governs only the last step to zero; N→M is the HPA's stabilisation window: both 300 s.
    assert spec["cooldownPeriod"] == 300
    behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 300
    assert behavior["scaleUp"]["stabilizationWindowSeconds"] == 0
    # Kubernetes "Horizontal Pod Autoscaling", scaling policies: up by 100 % or 4 pods per 15 s, whichever is more
    # (selectPolicy Max, the default); down by one pod a minute.
    assert behavior["scaleUp"]["policies"] == [{"type": "Percent", "value": 100, "periodSeconds": 15},
                                               {"type": "Pods", "value": 4, "periodSeconds": 15}]
    assert behavior["scaleDown"]["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 60}]
    # Prod never sits at zero: no cron window, no wake-up trigger.
    assert [t["type"] for t in spec["triggers"]] == ["prometheus"]
    assert not _of(rendered("prod"), TRIGGER_AUTHENTICATION)


def test_dev_sleeps_outside_working_hours_in_its_time_zone_and_wakes_on_an_edge_request():
    config = _config("dev")
    hours = config.autoscaling.working_hours
    spec = _scaled_objects("dev")["qwen3-1-7b"]["spec"]
    assert spec["minReplicaCount"] == 0
    cron = _trigger({"spec": spec}, "cron")["metadata"]
    assert (cron["timezone"], cron["start"], cron["end"]) == ("Europe/Berlin", "0 8 * * 1-5", "0 19 * * 1-5")
    assert (cron["timezone"], cron["start"], cron["end"]) == (hours.timezone, hours.start, hours.end)
    assert int(cron["desiredReplicas"]) == 1

    wake_up = _trigger({"spec": spec}, "aws-cloudwatch")
    metadata = wake_up["metadata"]
    assert (metadata["namespace"], metadata["metricName"], metadata["metricStat"]) == (
        "AWS/ApplicationELB", "RequestCount", "Sum")
    names, values = metadata["dimensionName"].split(";"), metadata["dimensionValue"].split(";")
    assert len(names) == len(values) and "TargetGroup" in names
    # Any request activates; the target is out of reach, so queue depth alone sizes the fleet.
    assert float(metadata["activationTargetMetricValue"]) == 0
    # KEDA asks for ceil(requests a minute / target) replicas: a million a minute is beyond any model's traffic.
    assert float(metadata["targetMetricValue"]) == 1_000_000
    # Load-balancer metrics are absent in minutes without requests: empty is a real zero here.
    assert metadata["ignoreNullValues"] == "true"
    assert int(metadata["metricCollectionTime"]) % int(metadata["metricStatPeriod"]) == 0
    assert wake_up["authenticationRef"]["name"] == "keda-operator-aws"
    assert metadata["awsRegion"] == rendered("dev")["region"]


def test_dev_wake_up_authenticates_as_the_keda_operator_own_role():
    (resource,) = _of(rendered("dev"), TRIGGER_AUTHENTICATION)
    obj = manifest(resource)
    assert obj["metadata"] == {"name": "keda-operator-aws", "namespace": "vllm-qwen3-1-7b"}
    assert obj["spec"] == {"podIdentity": {"provider": "aws", "identityOwner": "keda"}}
    assert ("keda.sh/v1alpha1", "TriggerAuthentication") in known_custom_resources()
    validate_custom(obj)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_floor_stays_on_demand_and_only_burst_replicas_can_land_on_spot(stack):
    """Karpenter fills the heavier on-demand pool (GPU limit = baseline) first; replicas above it go to Spot."""
    for model in _config(stack).models:
        spec = _scaled_objects(stack)[model.name]["spec"]
        assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (model.min_replicas, model.max_replicas)
        # In the model's namespace, beside the Deployment it scales (a ScaledObject's target is namespace-local).
        assert _scaled_objects(stack)[model.name]["metadata"]["namespace"] == f"vllm-{model.name}"
        # KEDA scales the model's own Deployment (metadata.name vllm-<model>), nothing else.
        assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"vllm-{model.name}"}
        assert spec["minReplicaCount"] <= model.on_demand_replicas <= spec["maxReplicaCount"]
        cron = _trigger({"spec": spec}, "cron")
        if cron is not None:
            assert int(cron["metadata"]["desiredReplicas"]) == max(1, model.on_demand_replicas)
    prod = _config("prod").models[0]
    assert prod.max_replicas - prod.on_demand_replicas == 6  # burst replicas that may run on Spot


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_keda_release_is_pinned_to_the_crd_line_and_runs_on_system_nodes(stack):
    (release,) = [r for r in _of(rendered(stack), RELEASE) if r["name"] == "autoscaling-keda"]
    props = release["props"]
    assert (props["chart"], props["version"], props["repositoryOpts"]["repo"]) == (
        KEDA_CHART.chart, KEDA_CHART.version, KEDA_CHART.repository)
    assert props["namespace"] == "keda"
    assert props["values"]["nodeSelector"] == SYSTEM_NODES
    irsa = props["values"].get("podIdentity", {}).get("aws", {}).get("irsa")
    if stack == "dev":
        assert irsa["enabled"] is True and irsa["roleArn"].startswith("arn:aws:iam::")
    else:
        assert irsa is None  # nothing reads CloudWatch in prod: no role at all


def test_keda_chart_matches_the_scaledobject_crd_release():
    readme = (CRDS_DIR / "README.md").read_text()
    (line,) = [row for row in readme.splitlines() if row.startswith("| keda.sh_scaledobjects.yaml")]
    assert f"| v{KEDA_CHART.version} |" in line


def test_keda_operator_role_trusts_only_its_service_account_and_reads_only_metrics():
    trust = irsa_trust_policy(
        "arn:aws:iam::123456789012:oidc-provider/oidc.example/id/X",
        "https://oidc.example/id/X",
        "keda",
        "keda-operator",
    )
    (statement,) = trust["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"]["StringEquals"] == {
        # the chart's operator service account (kedacore/charts keda/values.yaml, serviceAccount.operator.name)
        "oidc.example/id/X:sub": "system:serviceaccount:keda:keda-operator",
        "oidc.example/id/X:aud": "sts.amazonaws.com",
    }
    policy = cloudwatch_read_policy()
    assert [s["Action"] for s in policy["Statement"]] == [["cloudwatch:GetMetricData"]]
    (role,) = [r for r in _of(rendered("dev"), "aws:iam/role:Role") if r["name"] == "autoscaling-keda-operator"]
    assert json.loads(role["props"]["assumeRolePolicy"])["Statement"][0]["Principal"]["Federated"].startswith(
        "arn:aws:iam::")
    (inline,) = [r for r in _of(rendered("dev"), "aws:iam/rolePolicy:RolePolicy")
                 if r["name"] == "autoscaling-keda-operator-cloudwatch"]
    assert json.loads(inline["props"]["policy"]) == policy


def test_keda_operator_policy_has_no_iam_linter_findings():
    findings = parliament.analyze_policy_string(json.dumps(cloudwatch_read_policy())).findings
    # GetMetricData has no resource-level permissions: "*" is the only valid resource, which parliament knows.
    assert [f.issue for f in findings if f.issue != "RESOURCE_STAR"] == []


def test_a_model_that_may_sit_at_zero_without_a_wake_up_signal_is_refused():
    model = {"model": "m", "served_model_name": "m", "namespace": "vllm-m", "deployment_name": "vllm-m",
             "min_replicas": 0, "max_replicas": 2, "on_demand_replicas": 1, "wake_up": None}
    (problem,) = missing_wake_up_signals([model])
    assert problem.startswith("models[m].minReplicas: got 0, expected >= 1")
    assert missing_wake_up_signals([{**model, "min_replicas": 1}]) == []


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_keda_namespace_is_a_valid_core_object(stack):
    for resource in _of(rendered(stack), "kubernetes:core/v1:Namespace"):
        if resource["name"] == "autoscaling-namespace":
            validate_core(manifest(resource))


def test_dev_scaled_object_whole():
    """dev's one ScaledObject, every field (KEDA docs "Scaling Deployments" (ScaledObject spec, fallback,
    advanced.horizontalPodAutoscalerConfig), the "Prometheus", "Cron" and "AWS CloudWatch" scalers: metricStat,
    metricStatPeriod, metricCollectionTime, metricEndTimeOffset, minMetricValue, targetMetricValue,
    activationTargetMetricValue, ignoreNullValues, awsRegion; CloudWatch "Application Load Balancer metrics":
    RequestCount per LoadBalancer and TargetGroup, `app/<name>/<id>` and `targetgroup/<name>/<id>`)."""
    scaled = _scaled_objects("dev")["qwen3-1-7b"]
    wake_up = _trigger(scaled, "aws-cloudwatch")["metadata"]
    load_balancer, target_group = wake_up["dimensionValue"].split(";")
    assert load_balancer.startswith("app/edge-alb-") and target_group.startswith("targetgroup/edge-qwen3-1-7b-")
    assert scaled == {
        "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
        "metadata": {"name": "vllm-qwen3-1-7b", "namespace": "vllm-qwen3-1-7b"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "vllm-qwen3-1-7b"},
            "minReplicaCount": 0, "maxReplicaCount": 2, "pollingInterval": 15, "cooldownPeriod": 300,
            "fallback": {"failureThreshold": 3, "replicas": 1, "behavior": "currentReplicasIfHigher"},
            "advanced": {"horizontalPodAutoscalerConfig": {"behavior": {
                "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
                    {"type": "Percent", "value": 100, "periodSeconds": 15}, {"type": "Pods", "value": 4, "periodSeconds": 15}]},
                "scaleDown": {"stabilizationWindowSeconds": 300, "selectPolicy": "Max", "policies": [
                    {"type": "Pods", "value": 1, "periodSeconds": 60}]}}}},
            "triggers": [
                {"type": "prometheus", "name": "queue-depth", "metricType": "AverageValue", "metadata": {
                    "serverAddress": "http://prometheus-stack-prometheus.monitoring.svc.cluster.local:9090",
                    "query": 'sum(vllm:num_requests_waiting{namespace="vllm-qwen3-1-7b",model_name="qwen3-1.7b"})',
                    "threshold": "10", "activationThreshold": "0", "ignoreNullValues": "false"}},
                {"type": "cron", "name": "working-hours", "metadata": {
                    "timezone": "Europe/Berlin", "start": "0 8 * * 1-5", "end": "0 19 * * 1-5", "desiredReplicas": "1"}},
                {"type": "aws-cloudwatch", "name": "wake-up", "metricType": "AverageValue",
                 "authenticationRef": {"name": "keda-operator-aws"}, "metadata": {
                     "namespace": "AWS/ApplicationELB", "metricName": "RequestCount",
                     "dimensionName": "LoadBalancer;TargetGroup", "dimensionValue": f"{load_balancer};{target_group}",
                     "metricStat": "Sum", "metricStatPeriod": "60", "metricCollectionTime": "300",
                     "metricEndTimeOffset": "60", "targetMetricValue": "1000000", "activationTargetMetricValue": "0",
                     "minMetricValue": "0", "ignoreNullValues": "true", "awsRegion": "us-east-1"}},
            ],
        },
    }


@pytest.mark.parametrize("fallback, min_replicas, max_replicas, on_demand, held, working_hours", [
    (9, 0, 4, 0, 4, 1),   # the fallback never exceeds the ceiling; the cron window holds at least one replica
    (1, 3, 6, 3, 3, 3),   # nor goes below the floor; the cron window holds the on-demand baseline
    (2, 1, 5, 2, 2, 2),   # in between, the configured value
])
def test_fallback_is_clamped_to_the_model_and_working_hours_hold_the_baseline(
        fallback, min_replicas, max_replicas, on_demand, held, working_hours):
    """KEDA "Scaling Deployments", fallback: `replicas` is what KEDA holds after failureThreshold failed polls; the
    model's min/max bound it. KEDA "Cron" scaler: desiredReplicas between start and end."""
    target = {"name": "s", "namespace": "n", "deployment_name": "d", "served_model_name": "m", "min_replicas": min_replicas,
              "max_replicas": max_replicas, "on_demand_replicas": on_demand, "prometheus_url": "http://p:9090"}
    policy = {"queue_threshold_per_replica": 5, "polling_interval_seconds": 30, "scale_down_window_seconds": 120,
              "scale_up_window_seconds": 10, "fallback_replicas": fallback}
    hours = {"timezone": "UTC", "start": "0 9 * * *", "end": "0 17 * * *"}
    spec = scaled_object(target, policy, "vllm:num_requests_waiting", hours)["spec"]
    assert spec["fallback"]["replicas"] == held
    assert spec["triggers"][1]["metadata"]["desiredReplicas"] == str(working_hours)
    assert (spec["pollingInterval"], spec["cooldownPeriod"]) == (30, 120)
    behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert (behavior["scaleUp"]["stabilizationWindowSeconds"], behavior["scaleDown"]["stabilizationWindowSeconds"]) == (10, 120)


def test_the_component_refuses_a_model_at_zero_without_a_wake_up_signal():
    """Autoscaling built directly (a library user, not the stack's config, which refuses this first): a model that may
    sit at zero with no edge metric would never get its first pod, so the component stops the program, naming it."""
    import pulumi

    from component_run import run_component
    from vllm_eks.autoscaling.autoscaling import Autoscaling

    model = {"model": "m", "served_model_name": "m", "namespace": "vllm-m", "deployment_name": "vllm-m",
             "min_replicas": 0, "max_replicas": 2, "on_demand_replicas": 1, "wake_up": None}
    args = {"region": "us-east-1", "oidc_provider_arn": "arn:aws:iam::123456789012:oidc-provider/o", "oidc_issuer": "o",
            "prometheus_url": "http://p:9090", "working_hours": None, "models": [model], "system_node_selector": {},
            "image_registry": "r.example",
            "policy": {"queue_threshold_per_replica": 10, "polling_interval_seconds": 15, "scale_down_window_seconds": 300,
                       "scale_up_window_seconds": 0, "fallback_replicas": 1}}
    with pytest.raises(pulumi.RunError) as raised:
        run_component(lambda: Autoscaling("autoscaling", args))
    assert str(raised.value) == ("models[m].minReplicas: got 0, expected >= 1 unless the edge provides a wake-up metric "
                                 "(vLLM has no series while no pod runs, so nothing else could start the first one)")


def test_dev_keda_release_values_and_operator_role_whole():
    """kedacore/charts keda values.yaml: nodeSelector, image.pullPolicy (the chart's default Always would ask the registry
    on every restart), podIdentity.aws.irsa.enabled/roleArn (the operator's service account annotated with the role
    that reads CloudWatch); image.<component>.registry points at the pull-through cache (tests/test_image_cache.py)."""
    snapshot = rendered("dev")
    (release,) = [r["props"] for r in _of(snapshot, RELEASE) if r["name"] == "autoscaling-keda"]
    (role,) = [r for r in _of(snapshot, "aws:iam/role:Role") if r["name"] == "autoscaling-keda-operator"]
    role_arn = release["values"]["podIdentity"]["aws"]["irsa"]["roleArn"]
    assert role_arn.startswith("arn:aws:iam::123456789012:role/autoscaling-keda-operator-")
    cache = {"registry": "123456789012.dkr.ecr.us-east-1.amazonaws.com/github"}
    assert (release["name"], release["namespace"], release["values"]) == ("keda", "keda", {
        "nodeSelector": SYSTEM_NODES,
        "image": {"pullPolicy": "IfNotPresent", "keda": cache, "webhooks": cache, "metricsApiServer": cache},
        "podIdentity": {"aws": {"irsa": {"enabled": True, "roleArn": role_arn}}}})
    assert role["props"]["description"] == (
        "KEDA operator (IRSA): reads the edge's CloudWatch request counts to wake models from zero")
    (namespace,) = [r for r in _of(snapshot, "kubernetes:core/v1:Namespace") if r["name"] == "autoscaling-namespace"]
    assert namespace["props"]["metadata"] == {"name": "keda"}
