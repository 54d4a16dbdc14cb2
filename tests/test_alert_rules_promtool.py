"""The rendered alert rules and the KEDA query, checked and evaluated by the real promtool on synthetic series."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from k8s_schemas import manifest
from rendered import rendered

PROMTOOL = shutil.which("promtool")
assert PROMTOOL, "promtool is required: install the Debian package `prometheus` (./test.sh does)"
NS, MODEL = "vllm-qwen3-8b", "qwen3-8b"
SERIES = f'namespace="{NS}",model_name="{MODEL}",engine="0"'


def _rule_groups(stack: str) -> list[dict]:
    (rule,) = [r for r in rendered(stack)["resources"] if r["type"] == "kubernetes:monitoring.coreos.com/v1:PrometheusRule"]
    return manifest(rule)["spec"]["groups"]


def _rules(stack: str) -> dict[str, dict]:
    return {rule["alert"]: rule for group in _rule_groups(stack) for rule in group["rules"]}


def _keda_query(stack: str) -> str:
    (obj,) = [r for r in rendered(stack)["resources"] if r["type"] == "kubernetes:keda.sh/v1alpha1:ScaledObject"]
    (trigger,) = [t for t in manifest(obj)["spec"]["triggers"] if t["type"] == "prometheus"]
    return trigger["metadata"]["query"]


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def _write_rules(stack: str, directory: Path) -> str:
    (directory / "rules.yml").write_text(yaml.safe_dump({"groups": _rule_groups(stack)}, sort_keys=False))
    return "rules.yml"


# The severity each alert must carry (stated here, not read from the rule under test).
SEVERITY = {"VllmTimeToFirstTokenHigh": "warning", "VllmKvCacheNearlyFull": "warning",
            "VllmRequestsWaitingHigh": "critical", "VllmErrorRatioHigh": "critical"}


def _expected(rule: dict, labels: dict[str, str]) -> dict:
    """The alert promtool should report: its severity plus the series' labels, annotations with labels filled in."""
    fill = lambda text: re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], text)  # noqa: E731
    return {
        "exp_labels": {"severity": SEVERITY[rule["alert"]], **labels},
        "exp_annotations": {key: fill(value) for key, value in rule["annotations"].items()},
    }


def _histogram(per_minute: dict[str, int]) -> list[dict]:
    """TTFT bucket counters growing by `per_minute[le]` every minute (cumulative buckets, vLLM's bounds)."""
    return [
        {"series": f'vllm:time_to_first_token_seconds_bucket{{{SERIES},le="{le}"}}', "values": f"0+{count}x30"}
        for le, count in per_minute.items()
    ]


def _run_tests(stack: str, tests: list[dict], tmp_path: Path) -> None:
    rule_file = _write_rules(stack, tmp_path)
    (tmp_path / "tests.yml").write_text(
        yaml.safe_dump({"rule_files": [rule_file], "evaluation_interval": "1m", "tests": tests}, sort_keys=False)
    )
    result = _promtool("test", "rules", "tests.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_promtool_accepts_the_rendered_rule_groups(stack, tmp_path):
    result = _promtool("check", "rules", _write_rules(stack, tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 rules found" in result.stdout


SERVING_CHAT = f'namespace="{NS}",handler="/v1/chat/completions",method="POST"'


def _http_series(labels: str, status: str, values: str) -> dict:
    """prometheus-fastapi-instrumentator's request counter, as vLLM's API server exports it."""
    return {"series": f'http_requests_total{{{labels},status="{status}"}}', "values": values}


def test_each_alert_fires_on_its_symptom(tmp_path):
    rules = _rules("prod")
    model_labels = {"namespace": NS, "model_name": MODEL}
    tests = [
        {   # 80 % of first tokens under 1 s, the rest in (1, 2.5]: P95 = 1 + 1.5 × 15/20 = 2.125 s > 2 s.
            "interval": "1m",
            "input_series": _histogram({"0.5": 50, "1.0": 80, "2.5": 100, "+Inf": 100}),
            "alert_rule_test": [
                {"eval_time": "5m", "alertname": "VllmTimeToFirstTokenHigh", "exp_alerts": []},  # still pending
                {"eval_time": "15m", "alertname": "VllmTimeToFirstTokenHigh",
                 "exp_alerts": [_expected(rules["VllmTimeToFirstTokenHigh"], model_labels)]},
            ],
        },
        {
            "interval": "1m",
            "input_series": [{"series": f'vllm:kv_cache_usage_perc{{{SERIES},pod="p1"}}', "values": "0.97x20"},
                             {"series": f'vllm:kv_cache_usage_perc{{{SERIES},pod="p2"}}', "values": "0.40x20"}],
            "alert_rule_test": [{"eval_time": "10m", "alertname": "VllmKvCacheNearlyFull",
                                 "exp_alerts": [_expected(rules["VllmKvCacheNearlyFull"], {**model_labels, "pod": "p1"})]}],
        },
        {   # 30 + 25 waiting across two pods.
            "interval": "1m",
            "input_series": [{"series": f'vllm:num_requests_waiting{{{SERIES},pod="p1"}}', "values": "30x20"},
                             {"series": f'vllm:num_requests_waiting{{{SERIES},pod="p2"}}', "values": "25x20"}],
            "alert_rule_test": [{"eval_time": "10m", "alertname": "VllmRequestsWaitingHigh",
                                 "exp_alerts": [_expected(rules["VllmRequestsWaitingHigh"], model_labels)]}],
        },
        {   # 2 engine errors per 100 finished requests (2 %), HTTP 5xx at 3 %: both signals fire.
            "interval": "1m",
            "input_series": [
                {"series": f'vllm:request_success_total{{{SERIES},finished_reason="stop"}}', "values": "0+98x20"},
                {"series": f'vllm:request_success_total{{{SERIES},finished_reason="error"}}', "values": "0+2x20"},
                _http_series(SERVING_CHAT, "2xx", "0+97x20"),
                _http_series(SERVING_CHAT, "5xx", "0+3x20"),
            ],
            "alert_rule_test": [{"eval_time": "12m", "alertname": "VllmErrorRatioHigh", "exp_alerts": [
                _expected(rules["VllmErrorRatioHigh"], {"namespace": NS, "signal": "engine"}),
                _expected(rules["VllmErrorRatioHigh"], {"namespace": NS, "signal": "http"}),
            ]}],
        },
    ]
    _run_tests("prod", tests, tmp_path)


def test_http_errors_outside_the_serving_namespaces_raise_no_alert(tmp_path):
    """prometheus-fastapi-instrumentator (vLLM's API server) exports the generic `http_requests_total`, like many
    other services; only the serving namespaces' series may count as vLLM errors."""
    rules = _rules("prod")
    other = 'namespace="monitoring",handler="/v1/query",method="GET"'
    tests = [{
        "interval": "1m",
        "input_series": [
            _http_series(other, "2xx", "0+50x20"),
            _http_series(other, "5xx", "0+50x20"),
            _http_series(SERVING_CHAT, "5xx", "0+5x20"),
            _http_series(SERVING_CHAT, "2xx", "0+95x20"),
        ],
        "alert_rule_test": [{"eval_time": "12m", "alertname": "VllmErrorRatioHigh", "exp_alerts": [
            _expected(rules["VllmErrorRatioHigh"], {"namespace": NS, "signal": "http"}),
        ]}],
    }]
    _run_tests("prod", tests, tmp_path)


def test_no_alert_fires_on_a_healthy_fleet(tmp_path):
    healthy = [
        # 95 % of first tokens under 1 s: P95 = 1 s.
        *_histogram({"0.5": 60, "1.0": 95, "2.5": 100, "+Inf": 100}),
        {"series": f'vllm:kv_cache_usage_perc{{{SERIES},pod="p1"}}', "values": "0.90x30"},
        {"series": f'vllm:num_requests_waiting{{{SERIES},pod="p1"}}', "values": "20x30"},
        {"series": f'vllm:num_requests_waiting{{{SERIES},pod="p2"}}', "values": "20x30"},
        {"series": f'vllm:request_success_total{{{SERIES},finished_reason="stop"}}', "values": "0+200x30"},
        {"series": f'vllm:request_success_total{{{SERIES},finished_reason="abort"}}', "values": "0+20x30"},
        {"series": f'vllm:request_success_total{{{SERIES},finished_reason="error"}}', "values": "0+1x30"},
        {"series": f'http_requests_total{{namespace="{NS}",handler="/v1/chat/completions",method="POST",status="2xx"}}',
         "values": "0+200x30"},
        {"series": f'http_requests_total{{namespace="{NS}",handler="/metrics",method="GET",status="5xx"}}',
         "values": "0+50x30"},  # not client traffic: excluded by the handler filter
    ]
    tests = [{"interval": "1m", "input_series": healthy, "alert_rule_test": [
        {"eval_time": "25m", "alertname": alert, "exp_alerts": []} for alert in _rules("prod")
    ]}]
    _run_tests("prod", tests, tmp_path)


def test_keda_query_reads_the_queue_while_pods_run_and_nothing_once_they_are_gone_or_unscraped(tmp_path):
    """Empty, never 0, without pods or scrapes: KEDA then errors and holds its fallback (ignoreNullValues false)."""
    query = _keda_query("prod")
    trap = f"{query} or vector(0)"
    tests = [
        {   # pods present: 12 + 9 waiting → the HPA wants ceil(21 / 10) = 3 replicas.
            "interval": "15s",
            "input_series": [{"series": f'vllm:num_requests_waiting{{{SERIES},pod="p1"}}', "values": "12x10"},
                             {"series": f'vllm:num_requests_waiting{{{SERIES},pod="p2"}}', "values": "9x10"},
                             {"series": 'vllm:num_requests_waiting{namespace="vllm-other",model_name="other",engine="0",pod="o1"}',
                              "values": "50x10"}],
            "promql_expr_test": [{"expr": query, "eval_time": "1m", "exp_samples": [{"labels": "{}", "value": 21}]}],
        },
        {   # pods gone (scaled to zero): their series end with staleness markers.
            "interval": "15s",
            "input_series": [{"series": f'vllm:num_requests_waiting{{{SERIES},pod="p1"}}', "values": "0 0 0 stale"}],
            "promql_expr_test": [{"expr": query, "eval_time": "2m", "exp_samples": []}],
        },
        {   # target down: `up` drops to 0 and the scrape loop marks the target's series stale.
            "interval": "15s",
            "input_series": [
                {"series": f'up{{namespace="{NS}",pod="p1",job="vllm"}}', "values": "1 1 0 0 0 0 0 0"},
                {"series": f'vllm:num_requests_waiting{{{SERIES},pod="p1"}}', "values": "7 7 stale"},
            ],
            "promql_expr_test": [
                {"expr": query, "eval_time": "1m", "exp_samples": []},
                # The trap FACTS.md warns about: `or vector(0)` reads the lost target as an empty queue.
                {"expr": trap, "eval_time": "1m", "exp_samples": [{"labels": "{}", "value": 0}]},
            ],
        },
    ]
    (tmp_path / "empty.yml").write_text("groups: []\n")
    (tmp_path / "tests.yml").write_text(
        yaml.safe_dump({"rule_files": ["empty.yml"], "evaluation_interval": "15s", "tests": tests}, sort_keys=False)
    )
    result = _promtool("test", "rules", "tests.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
