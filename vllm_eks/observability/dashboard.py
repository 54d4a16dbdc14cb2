"""The Grafana dashboard for the vLLM fleet, as a plain dict (Grafana's dashboard JSON model).

Provisioned by kube-prometheus-stack's Grafana sidecar from a labelled ConfigMap. Every query reads a metric named
in the catalog (vLLM's, DCGM exporter's, kube-state-metrics'), so `tests/test_metric_names.py` can prove the panels
query series that exist.
"""

from __future__ import annotations

from typing import Any

from vllm_eks.planning.catalog import (
    DCGM_GPU_UTILIZATION,
    DCGM_MEMORY_FREE_MIB,
    DCGM_MEMORY_USED_MIB,
    KUBE_DEPLOYMENT_REPLICAS_AVAILABLE,
    KUBE_NODE_ALLOCATABLE,
    VLLM_E2E_LATENCY,
    VLLM_FINISHED_REASON_ERROR,
    VLLM_GENERATION_TOKENS,
    VLLM_HTTP_REQUESTS,
    VLLM_INTER_TOKEN_LATENCY,
    VLLM_KV_CACHE_USAGE,
    VLLM_PROMPT_TOKENS,
    VLLM_REQUESTS_FINISHED,
    VLLM_REQUESTS_RUNNING,
    VLLM_REQUESTS_WAITING,
    VLLM_TIME_TO_FIRST_TOKEN,
)

DASHBOARD_UID = "vllm-eks-serving"
_DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
_SELECTOR = 'namespace=~"$namespace",model_name=~"$model"'
_WINDOW = "$__rate_interval"
_PANEL_WIDTH, _PANEL_HEIGHT = 12, 8


def dashboard(title: str, serving_namespaces: list[str]) -> dict[str, Any]:
    """The dashboard: latency, cache, queue, throughput, errors, GPUs, replicas against nodes."""
    panels = [
        _panel("Time to first token (P50 / P95)", "s", [
            (_quantile(0.5, VLLM_TIME_TO_FIRST_TOKEN), "P50 {{model_name}}"),
            (_quantile(0.95, VLLM_TIME_TO_FIRST_TOKEN), "P95 {{model_name}}"),
        ]),
        _panel("Inter-token latency (P50 / P95)", "s", [
            (_quantile(0.5, VLLM_INTER_TOKEN_LATENCY), "P50 {{model_name}}"),
            (_quantile(0.95, VLLM_INTER_TOKEN_LATENCY), "P95 {{model_name}}"),
        ]),
        _panel("End-to-end request latency (P95)", "s", [
            (_quantile(0.95, VLLM_E2E_LATENCY), "P95 {{model_name}}"),
        ]),
        _panel("KV-cache usage", "percentunit", [
            (f"max by (model_name, pod) ({VLLM_KV_CACHE_USAGE}{{{_SELECTOR}}})", "{{pod}}"),
        ]),
        _panel("Requests running / waiting", "short", [
            (f"sum by (model_name) ({VLLM_REQUESTS_RUNNING}{{{_SELECTOR}}})", "running {{model_name}}"),
            (f"sum by (model_name) ({VLLM_REQUESTS_WAITING}{{{_SELECTOR}}})", "waiting {{model_name}}"),
        ]),
        _panel("Tokens per second", "short", [
            (f"sum by (model_name) (rate({VLLM_GENERATION_TOKENS}{{{_SELECTOR}}}[{_WINDOW}]))", "generated {{model_name}}"),
            (f"sum by (model_name) (rate({VLLM_PROMPT_TOKENS}{{{_SELECTOR}}}[{_WINDOW}]))", "prompt {{model_name}}"),
        ]),
        _panel("Error ratio", "percentunit", [
            (
                f'sum by (model_name) (rate({VLLM_REQUESTS_FINISHED}{{{_SELECTOR},finished_reason="{VLLM_FINISHED_REASON_ERROR}"}}[{_WINDOW}]))'
                f" / sum by (model_name) (rate({VLLM_REQUESTS_FINISHED}{{{_SELECTOR}}}[{_WINDOW}]))",
                "engine errors {{model_name}}",
            ),
            (
                f'sum by (namespace) (rate({VLLM_HTTP_REQUESTS}{{namespace=~"$namespace",handler=~"/v1/.*",status="5xx"}}[{_WINDOW}]))'
                f' / sum by (namespace) (rate({VLLM_HTTP_REQUESTS}{{namespace=~"$namespace",handler=~"/v1/.*"}}[{_WINDOW}]))',
                "HTTP 5xx {{namespace}}",
            ),
        ]),
        _panel("GPU utilisation", "percent", [
            (f"avg by (Hostname, gpu) ({DCGM_GPU_UTILIZATION})", "{{Hostname}} GPU {{gpu}}"),
        ]),
        _panel("GPU memory used", "percentunit", [
            (
                f"sum by (Hostname) ({DCGM_MEMORY_USED_MIB}) / "
                f"(sum by (Hostname) ({DCGM_MEMORY_USED_MIB}) + sum by (Hostname) ({DCGM_MEMORY_FREE_MIB}))",
                "{{Hostname}}",
            ),
        ]),
        _panel("Replicas vs GPU nodes", "short", [
            (f'sum by (namespace) ({KUBE_DEPLOYMENT_REPLICAS_AVAILABLE}{{namespace=~"$namespace"}})', "ready replicas {{namespace}}"),
            (f'count({KUBE_NODE_ALLOCATABLE}{{resource="nvidia_com_gpu"}} > 0)', "GPU nodes"),
            (f'sum({KUBE_NODE_ALLOCATABLE}{{resource="nvidia_com_gpu"}})', "GPUs"),
        ]),
    ]
    for index, panel in enumerate(panels):
        panel["id"] = index + 1
        panel["gridPos"] = {
            "x": (index % 2) * _PANEL_WIDTH,
            "y": (index // 2) * _PANEL_HEIGHT,
            "w": _PANEL_WIDTH,
            "h": _PANEL_HEIGHT,
        }
    return {
        "uid": DASHBOARD_UID,
        "title": title,
        "tags": ["vllm", "vllm-eks"],
        "timezone": "browser",
        "schemaVersion": 39,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": _variables(serving_namespaces)},
        "panels": panels,
    }


def _quantile(quantile: float, histogram: str) -> str:
    return (
        f"histogram_quantile({quantile}, sum by (model_name, le) "
        f"(rate({histogram}_bucket{{{_SELECTOR}}}[{_WINDOW}])))"
    )


def _panel(title: str, unit: str, queries: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "type": "timeseries",
        "title": title,
        "datasource": _DATASOURCE,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [
            {"refId": chr(ord("A") + position), "datasource": _DATASOURCE, "expr": expr, "legendFormat": legend}
            for position, (expr, legend) in enumerate(queries)
        ],
    }


def _variables(serving_namespaces: list[str]) -> list[dict[str, Any]]:
    return [
        {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source"},
        {
            "name": "namespace",
            "type": "custom",
            "label": "Namespace",
            "query": ",".join(serving_namespaces),
            "multi": True,
            "includeAll": True,
            "current": {"text": "All", "value": "$__all"},
        },
        {
            "name": "model",
            "type": "query",
            "label": "Model",
            "datasource": _DATASOURCE,
            "query": {"query": f'label_values({VLLM_REQUESTS_WAITING}{{namespace=~"$namespace"}}, model_name)', "refId": "models"},
            "refresh": 2,
            "multi": True,
            "includeAll": True,
            "current": {"text": "All", "value": "$__all"},
        },
    ]
