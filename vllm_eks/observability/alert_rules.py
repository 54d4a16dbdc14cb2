"""Prometheus alert rules for the vLLM fleet, as plain rule groups (the `spec.groups` of a PrometheusRule).

Four alerts, one per number that matters: time to first token, KV-cache pressure, queue depth and errors. Each
has a `for` (a blip is not an incident), a severity, a summary and a runbook line. Annotations template only labels,
so `promtool test rules` can state the exact text it expects. Series are grouped by `namespace` (one model per
namespace) and `model_name` (vLLM's served name) where the metric has it.
"""

from typing import Any, TypedDict

from vllm_eks.planning.catalog import (
    VLLM_FINISHED_REASON_ERROR,
    VLLM_HTTP_REQUESTS,
    VLLM_KV_CACHE_USAGE,
    VLLM_REQUESTS_FINISHED,
    VLLM_REQUESTS_WAITING,
    VLLM_TIME_TO_FIRST_TOKEN,
    VLLM_TTFT_BUCKETS_SECONDS,
)

RULE_GROUP_NAME = "vllm-serving"
RATE_WINDOW = "5m"
# The OpenAI routes the edge exposes; other handlers (/metrics, /health) are excluded by vLLM or not client traffic.
_CLIENT_HANDLERS = '/v1/.*'


class AlertThresholds(TypedDict):
    """Thresholds of the four serving alerts."""

    ttft_p95_seconds: float
    """Time to first token, 95th percentile, that fires the latency alert."""
    kv_cache_usage_ratio: float
    """KV-cache usage that fires the saturation alert."""
    requests_waiting: int
    """Waiting requests that fire the queue alert."""
    error_ratio: float
    """Share of 5xx answers that fires the error alert."""


def rule_groups(thresholds: AlertThresholds, serving_namespaces: list[str]) -> list[dict[str, Any]]:
    """The PrometheusRule's groups: the four serving alerts (HTTP series only from the serving namespaces)."""
    return [
        {
            "name": RULE_GROUP_NAME,
            "rules": [
                _time_to_first_token(thresholds["ttft_p95_seconds"]),
                _kv_cache_nearly_full(thresholds["kv_cache_usage_ratio"]),
                _requests_waiting(thresholds["requests_waiting"]),
                _error_ratio(thresholds["error_ratio"], serving_namespaces),
            ],
        }
    ]


def ttft_bucket_bounds(threshold_seconds: float) -> tuple[float, float]:
    """The TTFT histogram bucket a P95 above the threshold first falls in, (lower, upper]: the estimate inside it is
    a linear interpolation. A threshold on a bucket bound opens the next bucket (Prometheus buckets are `le`)."""
    lower = max((bound for bound in VLLM_TTFT_BUCKETS_SECONDS if bound <= threshold_seconds), default=0.0)
    upper = min((bound for bound in VLLM_TTFT_BUCKETS_SECONDS if bound > threshold_seconds), default=float("inf"))
    return lower, upper


def _number(value: float) -> str:
    return f"{value:g}"


def _rule(alert: str, *, expr: str, duration: str, severity: str, summary: str, runbook: str) -> dict[str, Any]:
    """One Prometheus alerting rule; `runbook` says what to check first when it fires."""
    return {
        "alert": alert,
        "expr": expr,
        "for": duration,
        "labels": {"severity": severity},
        "annotations": {"summary": summary, "runbook": runbook},
    }


def _time_to_first_token(threshold: float) -> dict[str, Any]:
    lower, upper = ttft_bucket_bounds(threshold)
    quantile = (
        f"histogram_quantile(0.95, sum by (namespace, model_name, le) "
        f"(rate({VLLM_TIME_TO_FIRST_TOKEN}_bucket[{RATE_WINDOW}])))"
    )
    return _rule(
        "VllmTimeToFirstTokenHigh",
        expr=f"{quantile} > {_number(threshold)}",
        duration="10m",
        severity="warning",
        summary=f"P95 time to first token above {_number(threshold)} s for {{{{ $labels.model_name }}}} "
        "in {{ $labels.namespace }}",
        runbook=(
            f"The P95 is interpolated inside vLLM's {_number(lower)}-{_number(upper)} s bucket: it means more "
            f"than 5 % of first tokens took over {_number(lower)} s. Check requests waiting and KV-cache usage "
            "on the vLLM dashboard, then whether the ScaledObject is at maxReplicas or its pods are Pending "
            "on GPU nodes (kubectl -n {{ $labels.namespace }} get scaledobject,pods; kubectl get nodeclaims)."
        ),
    )


def _kv_cache_nearly_full(threshold: float) -> dict[str, Any]:
    return _rule(
        "VllmKvCacheNearlyFull",
        expr=f"max by (namespace, model_name, pod) ({VLLM_KV_CACHE_USAGE}) > {_number(threshold)}",
        duration="5m",
        severity="warning",
        summary=f"KV cache above {_number(threshold * 100)} % on {{{{ $labels.pod }}}} "
        "({{ $labels.model_name }})",
        runbook=(
            "A full KV cache makes vLLM preempt and recompute running requests, so latency climbs. Add "
            "replicas (raise maxReplicas or lower the queue threshold), or lower maxModelLen for this model."
        ),
    )


def _requests_waiting(threshold: int) -> dict[str, Any]:
    return _rule(
        "VllmRequestsWaitingHigh",
        expr=f"sum by (namespace, model_name) ({VLLM_REQUESTS_WAITING}) > {threshold}",
        duration="5m",
        severity="critical",
        summary=f"More than {threshold} requests waiting for {{{{ $labels.model_name }}}} "
        "in {{ $labels.namespace }}",
        runbook=(
            "The queue outgrows the autoscaler: check the ScaledObject's conditions and the HPA's events "
            "(kubectl -n {{ $labels.namespace }} describe scaledobject,hpa), Pending pods, and whether the "
            "Karpenter NodePools hit their GPU limit (kubectl get nodepools)."
        ),
    )


def _error_ratio(threshold: float, serving_namespaces: list[str]) -> dict[str, Any]:
    # `http_requests_total` is the generic name of prometheus-fastapi-instrumentator (and of many other exporters):
    # only the serving namespaces' series are vLLM's.
    namespaces = "|".join(sorted(serving_namespaces))
    engine = (
        f'sum by (namespace) (rate({VLLM_REQUESTS_FINISHED}{{finished_reason="{VLLM_FINISHED_REASON_ERROR}"}}'
        f"[{RATE_WINDOW}])) / sum by (namespace) (rate({VLLM_REQUESTS_FINISHED}[{RATE_WINDOW}]))"
    )
    http = (
        f'sum by (namespace) (rate({VLLM_HTTP_REQUESTS}{{namespace=~"{namespaces}",handler=~"{_CLIENT_HANDLERS}",'
        f'status="5xx"}}[{RATE_WINDOW}])) / sum by (namespace) (rate({VLLM_HTTP_REQUESTS}{{namespace=~"{namespaces}",'
        f'handler=~"{_CLIENT_HANDLERS}"}}[{RATE_WINDOW}]))'
    )
    return _rule(
        "VllmErrorRatioHigh",
        expr=(
            f'(label_replace({engine}, "signal", "engine", "", "") '
            f'or label_replace({http}, "signal", "http", "", "")) > {_number(threshold)}'
        ),
        duration="5m",
        severity="critical",
        summary=f"More than {_number(threshold * 100)} % of requests fail in {{{{ $labels.namespace }}}} "
        "(signal {{ $labels.signal }})",
        runbook=(
            "signal=engine: vLLM finished requests with an internal error (answered 500); signal=http: its API "
            "server answered 5xx on /v1. Read the pod logs for the failing request ids "
            "(kubectl -n {{ $labels.namespace }} get pods; kubectl logs <pod>) and look for restarts and "
            "out-of-memory kills."
        ),
    )
