"""The KEDA ScaledObject of one model, as a plain dict: pure, so every scaling decision is testable without mocks.

What each trigger is for, and why it is built this way (FACTS.md, "Autoscaling"):
- `prometheus` sizes the fleet on queue depth: `sum(vllm:num_requests_waiting{...})` with `metricType: AverageValue`,
  so the HPA divides the sum by the replica count and compares it with the per-replica threshold (an `avg(...)` would
  divide twice). `ignoreNullValues: "false"` makes an empty result (Prometheus lost its targets) an error instead of a
  zero, and after `fallback.failureThreshold` errors KEDA holds `max(current, fallback.replicas)`: a broken metric
  pipeline never scales a live service down. No `or vector(0)`: it would turn that same empty result into a zero.
- `cron` (when the stack sets working hours) keeps the on-demand baseline warm from `start` to `end` in the stack's
  time zone; outside it the floor is `minReplicaCount` (0 in dev, the configured minimum in prod).
- `aws-cloudwatch` (when the model may sit at zero) is the wake-up call: with zero pods there is no vLLM series at all,
  so the signal must come from the edge, the request count of the model's load-balancer target group, read with the
  KEDA operator's own IRSA role. Its target is set so high that it only ever asks for one replica: it activates the
  workload, queue depth sizes it.
- `cooldownPeriod` governs only the last step to zero; N→M (M ≥ 1) is the HPA's scale-down stabilisation window.
  Both use the stack's scale-down window, so "a replica goes after that many calm seconds" holds at every size.
"""

import copy
from typing import Any, TypedDict

SCALED_OBJECT_API_VERSION = "keda.sh/v1alpha1"
# KEDA reads the wake-up metric's target as requests per minute per replica; no target group sees this many, so the
# trigger never asks for more than one replica (it only activates the scale target).
WAKE_UP_TARGET_REQUESTS_PER_MINUTE = 1_000_000
# CloudWatch publishes load-balancer metrics per minute, a minute or two late: read one-minute sums over five
# minutes, skip the still-filling current minute, take the newest datapoint.
_CLOUDWATCH_PERIOD_SECONDS = 60
_CLOUDWATCH_WINDOW_SECONDS = 300
_CLOUDWATCH_END_OFFSET_SECONDS = 60
# Failed polls (one per polling interval) before the fallback replica count applies.
_FALLBACK_FAILURE_THRESHOLD = 3
# Scale-up may double the fleet, or add four replicas, every 15 s (whichever is more): pending pods then wait for
# Karpenter nodes (3-5 min), so asking early matters more than asking precisely.
_SCALE_UP_POLICIES = [
    {"type": "Percent", "value": 100, "periodSeconds": 15},
    {"type": "Pods", "value": 4, "periodSeconds": 15},
]
# Scale-down removes at most one replica a minute, after the stabilisation window: GPU nodes are slow to come back.
_SCALE_DOWN_POLICIES = [{"type": "Pods", "value": 1, "periodSeconds": 60}]


class WorkingHours(TypedDict):
    timezone: str
    """IANA time zone of the cron expressions."""
    start: str
    """Five-field cron."""
    end: str
    """Five-field cron when working hours end."""


class WakeUpMetric(TypedDict):
    """A CloudWatch metric that counts the model's requests while it has no pod (the edge's, never vLLM's)."""

    namespace: str
    """E.g. AWS/ApplicationELB."""
    metric_name: str
    """E.g. RequestCount."""
    dimensions: dict[str, str]
    """E.g. {"LoadBalancer": "app/…", "TargetGroup": "targetgroup/…"}."""
    region: str
    """The metric's Region."""
    authentication_name: str
    """The TriggerAuthentication that uses the KEDA operator's role."""


class ScalingPolicy(TypedDict):
    queue_threshold_per_replica: int
    """Waiting requests per replica that add a replica (KEDA AverageValue)."""
    polling_interval_seconds: int
    """How often KEDA reads the queue."""
    scale_down_window_seconds: int
    """Calm time before a replica is removed (HPA stabilization and KEDA cooldown)."""
    scale_up_window_seconds: int
    """HPA stabilization window for adding replicas."""
    fallback_replicas: int
    """Replicas KEDA holds while the queue metric cannot be read."""


class ScaleTarget(TypedDict):
    name: str
    """The ScaledObject's name."""
    namespace: str
    """The Deployment's namespace."""
    deployment_name: str
    """The Deployment to scale."""
    served_model_name: str
    """The served name (vLLM's model_name label)."""
    min_replicas: int
    """Fewest replicas."""
    max_replicas: int
    """Most replicas."""
    on_demand_replicas: int
    """Replicas held during working hours."""
    prometheus_url: str
    """The Prometheus that answers the queue query."""


def queue_depth_query(namespace: str, served_model_name: str, waiting_metric: str) -> str:
    """Requests waiting across the model's pods; empty (not 0) when no pod is scraped."""
    return f'sum({waiting_metric}{{namespace="{namespace}",model_name="{served_model_name}"}})'


def working_hours_replicas(on_demand_replicas: int) -> int:
    """Replicas the cron window holds: the on-demand baseline, at least one."""
    return max(1, on_demand_replicas)


def scaled_object(
    target: ScaleTarget,
    policy: ScalingPolicy,
    waiting_metric: str,
    working_hours: WorkingHours | None = None,
    wake_up: WakeUpMetric | None = None,
) -> dict[str, Any]:
    """The ScaledObject manifest for one model's Deployment (a model that may sit at zero needs `wake_up`)."""
    triggers = [_queue_depth_trigger(target, policy, waiting_metric)]
    if working_hours is not None:
        triggers.append(_working_hours_trigger(target, working_hours))
    if wake_up is not None:
        triggers.append(_wake_up_trigger(wake_up))
    return {
        "apiVersion": SCALED_OBJECT_API_VERSION,
        "kind": "ScaledObject",
        "metadata": {"name": target["name"], "namespace": target["namespace"]},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target["deployment_name"]},
            "minReplicaCount": target["min_replicas"],
            "maxReplicaCount": target["max_replicas"],
            "pollingInterval": policy["polling_interval_seconds"],
            "cooldownPeriod": policy["scale_down_window_seconds"],
            "fallback": {
                "failureThreshold": _FALLBACK_FAILURE_THRESHOLD,
                "replicas": min(max(policy["fallback_replicas"], target["min_replicas"]), target["max_replicas"]),
                "behavior": "currentReplicasIfHigher",
            },
            "advanced": {"horizontalPodAutoscalerConfig": {"behavior": _hpa_behavior(policy)}},
            "triggers": triggers,
        },
    }


def trigger_authentication(name: str, namespace: str) -> dict[str, Any]:
    """KEDA's AWS pod identity with `identityOwner: keda`: the operator's own IRSA role reads CloudWatch."""
    return {
        "apiVersion": SCALED_OBJECT_API_VERSION,
        "kind": "TriggerAuthentication",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"podIdentity": {"provider": "aws", "identityOwner": "keda"}},
    }


def _queue_depth_trigger(target: ScaleTarget, policy: ScalingPolicy, waiting_metric: str) -> dict[str, Any]:
    return {
        "type": "prometheus",
        "name": "queue-depth",
        "metricType": "AverageValue",
        "metadata": {
            "serverAddress": target["prometheus_url"],
            "query": queue_depth_query(target["namespace"], target["served_model_name"], waiting_metric),
            "threshold": str(policy["queue_threshold_per_replica"]),
            "activationThreshold": "0",
            "ignoreNullValues": "false",
        },
    }


def _working_hours_trigger(target: ScaleTarget, hours: WorkingHours) -> dict[str, Any]:
    return {
        "type": "cron",
        "name": "working-hours",
        "metadata": {
            "timezone": hours["timezone"],
            "start": hours["start"],
            "end": hours["end"],
            "desiredReplicas": str(working_hours_replicas(target["on_demand_replicas"])),
        },
    }


def _wake_up_trigger(metric: WakeUpMetric) -> dict[str, Any]:
    names = list(metric["dimensions"])
    return {
        "type": "aws-cloudwatch",
        "name": "wake-up",
        "metricType": "AverageValue",
        "authenticationRef": {"name": metric["authentication_name"]},
        "metadata": {
            "namespace": metric["namespace"],
            "metricName": metric["metric_name"],
            "dimensionName": ";".join(names),
            "dimensionValue": ";".join(metric["dimensions"][name] for name in names),
            "metricStat": "Sum",
            "metricStatPeriod": str(_CLOUDWATCH_PERIOD_SECONDS),
            "metricCollectionTime": str(_CLOUDWATCH_WINDOW_SECONDS),
            "metricEndTimeOffset": str(_CLOUDWATCH_END_OFFSET_SECONDS),
            "targetMetricValue": str(WAKE_UP_TARGET_REQUESTS_PER_MINUTE),
            "activationTargetMetricValue": "0",
            "minMetricValue": "0",
            # Load-balancer metrics exist only for minutes with requests: here an empty result IS zero requests.
            "ignoreNullValues": "true",
            "awsRegion": metric["region"],
        },
    }


def _hpa_behavior(policy: ScalingPolicy) -> dict[str, Any]:
    return {
        "scaleUp": {
            "stabilizationWindowSeconds": policy["scale_up_window_seconds"],
            "selectPolicy": "Max",
            "policies": copy.deepcopy(_SCALE_UP_POLICIES),
        },
        "scaleDown": {
            "stabilizationWindowSeconds": policy["scale_down_window_seconds"],
            "selectPolicy": "Max",
            "policies": copy.deepcopy(_SCALE_DOWN_POLICIES),
        },
    }
