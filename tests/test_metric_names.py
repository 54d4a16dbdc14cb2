"""Every metric KEDA, the alerts and the dashboard query is one the catalog lists (and tests/contract checks live)."""

from __future__ import annotations

import json
import re

import pytest

from vllm_eks.planning import catalog
from k8s_schemas import manifest
from rendered import rendered

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_LABEL_VALUES = re.compile(r"label_values\(\s*([^,()]+?)\s*,[^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.$:])([A-Za-z_:][A-Za-z0-9_:]*)(?![\w:])(?!\s*\()")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}
_HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression (or a Grafana `label_values(...)` query) reads."""
    text = _MATCHERS.sub("", _STRING.sub('""', expr))
    text = _LABEL_VALUES.sub(r"\1", text)
    text = _GROUPING.sub("", _RANGE.sub("", text))
    return {name for name in _IDENTIFIER.findall(text) if name.lower() not in _KEYWORDS}


def unknown_metric_names(expressions: list[str], known: tuple[str, ...]) -> set[str]:
    """Names not in `known`, a histogram's _bucket/_sum/_count series counting as its family."""
    unknown = set()
    for expr in expressions:
        for name in metric_names(expr):
            family = next((name.removesuffix(s) for s in _HISTOGRAM_SERIES if name.endswith(s)), name)
            if name not in known and family not in known:
                unknown.add(name)
    return unknown


def _queries(stack: str) -> dict[str, list[str]]:
    snapshot = rendered(stack)
    of = lambda token: [manifest(r) for r in snapshot["resources"] if r["type"] == token]  # noqa: E731
    keda = [t["metadata"]["query"] for so in of("kubernetes:keda.sh/v1alpha1:ScaledObject")
            for t in so["spec"]["triggers"] if t["type"] == "prometheus"]
    alerts = [rule["expr"] for pr in of("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
              for group in pr["spec"]["groups"] for rule in group["rules"]]
    dashboard = []
    for config_map in of("kubernetes:core/v1:ConfigMap"):
        if config_map["metadata"].get("labels", {}).get("grafana_dashboard") != "1":
            continue
        for board in config_map["data"].values():
            parsed = json.loads(board)
            dashboard += [target["expr"] for panel in parsed["panels"] for target in panel["targets"]]
            dashboard += [v["query"]["query"] for v in parsed["templating"]["list"] if v["type"] == "query"]
    return {"keda": keda, "alerts": alerts, "dashboard": dashboard}


KNOWN = catalog.VLLM_METRICS + catalog.EXPORTER_METRICS


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_keda_alerts_and_dashboard_query_only_catalogued_metrics(stack):
    queries = _queries(stack)
    assert all(queries.values()), {source: len(exprs) for source, exprs in queries.items()}
    for source, expressions in queries.items():
        assert unknown_metric_names(expressions, KNOWN) == set(), source
    vllm_names = {n for exprs in queries.values() for e in exprs for n in metric_names(e) if n.startswith("vllm:")}
    assert unknown_metric_names(sorted(vllm_names), catalog.VLLM_METRICS) == set()


def test_every_catalogued_vllm_metric_is_queried_somewhere():
    """The list the live-server contract checks holds only names the stack really uses."""
    queries = [e for stack in ("dev", "prod") for exprs in _queries(stack).values() for e in exprs]
    used = {n for e in queries for n in metric_names(e)}
    families = used | {n.removesuffix(s) for n in used for s in _HISTOGRAM_SERIES if n.endswith(s)}
    assert set(catalog.VLLM_METRICS) <= families, set(catalog.VLLM_METRICS) - families


def test_removing_a_queried_name_from_the_list_breaks_the_check():
    queries = _queries("prod")
    without_waiting = tuple(n for n in KNOWN if n != catalog.VLLM_REQUESTS_WAITING)
    assert unknown_metric_names(queries["keda"], without_waiting) == {catalog.VLLM_REQUESTS_WAITING}
    without_ttft = tuple(n for n in KNOWN if n != catalog.VLLM_TIME_TO_FIRST_TOKEN)
    assert unknown_metric_names(queries["alerts"], without_ttft) == {f"{catalog.VLLM_TIME_TO_FIRST_TOKEN}_bucket"}


def test_a_query_using_a_wrong_name_breaks_the_check():
    (alert,) = [e for e in _queries("prod")["alerts"] if "kv_cache" in e]
    misspelt = alert.replace(catalog.VLLM_KV_CACHE_USAGE, "vllm:gpu_cache_usage_perc")  # removed in vLLM v1
    assert unknown_metric_names([misspelt], KNOWN) == {"vllm:gpu_cache_usage_perc"}
    invented = _queries("prod")["keda"][0].replace("num_requests_waiting", "request_waiting_total")
    assert unknown_metric_names([invented], KNOWN) == {"vllm:request_waiting_total"}


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (namespace) (rate(a_total{x="y"}[5m])) / sum(b)', {"a_total", "b"}),
        ('label_replace(c, "signal", "engine", "", "") or d > 0.01', {"c", "d"}),
        ('histogram_quantile(0.95, sum by (le) (rate(h_bucket{n=~"$ns"}[$__rate_interval])))', {"h_bucket"}),
        ('label_values(vllm:num_requests_waiting{namespace=~"$namespace"}, model_name)', {"vllm:num_requests_waiting"}),
        ("count(k{resource=\"nvidia_com_gpu\"} > 0)", {"k"}),
    ],
)
def test_the_name_extractor_reads_promql(expr, names):
    assert metric_names(expr) == names
