"""Observability as rendered for dev and prod: Helm releases, PodMonitors, the PrometheusRule and the dashboard."""

from __future__ import annotations

import json
import re

import pytest
from pulumi.runtime.rpc import _special_secret_sig, _special_sig_key

from vllm_eks.planning.catalog import DCGM_EXPORTER_CHART, KUBE_PROMETHEUS_STACK_CHART, PROMETHEUS_OPERATOR_VERSION
from preflight.render import read_stack_config
from stack_config import SECTIONS, load_stack_config
from k8s_schemas import CRDS_DIR, manifest, validate_core, validate_custom
from rendered import rendered

RELEASE = "kubernetes:helm.sh/v3:Release"
POD_MONITOR = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
SYSTEM_NODES = {"vllm-eks/node-role": "system"}
STACKS = ["dev", "prod"]


def _of(snapshot: dict, type_token: str) -> list[dict]:
    return [resource for resource in snapshot["resources"] if resource["type"] == type_token]


def _named(stack: str, type_token: str, name: str) -> dict:
    (resource,) = [r for r in _of(rendered(stack), type_token) if r["name"] == name]
    return resource


def _config(stack: str):
    raw = read_stack_config(stack)
    return load_stack_config({section: raw.get(f"vllm-eks:{section}") for section in SECTIONS})


@pytest.mark.parametrize("stack", STACKS)
def test_kube_prometheus_stack_is_pinned_sized_from_config_and_on_system_nodes(stack):
    config = _config(stack).observability
    props = _named(stack, RELEASE, "observability-kube-prometheus-stack")["props"]
    assert (props["chart"], props["version"], props["repositoryOpts"]["repo"]) == (
        KUBE_PROMETHEUS_STACK_CHART.chart, KUBE_PROMETHEUS_STACK_CHART.version, KUBE_PROMETHEUS_STACK_CHART.repository)
    values = props["values"]
    spec = values["prometheus"]["prometheusSpec"]
    assert spec["retention"] == f"{config.prometheus_retention_days}d"
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["resources"]["requests"]["storage"] == f"{config.prometheus_storage_gib}Gi"
    # Prometheus stops ingesting at retentionSize: 90 % of the volume, the rest for the WAL and compaction (dev 20 GiB
    # -> 18 GB, prod 100 GiB -> 90 GB; Prometheus docs, "Storage: Operational aspects").
    assert spec["retentionSize"] == {20: "18GB", 100: "90GB"}[config.prometheus_storage_gib]
    for selector in ("podMonitor", "serviceMonitor", "rule"):
        assert spec[f"{selector}SelectorNilUsesHelmValues"] is False
    for component in (spec, values["prometheusOperator"], values["alertmanager"]["alertmanagerSpec"],
                      values["kube-state-metrics"], values["grafana"]):
        assert component["nodeSelector"] == SYSTEM_NODES
    grafana = values["grafana"]
    assert "adminPassword" not in grafana
    # The Grafana chart's values.yaml `admin`: the Secret and the keys in it that hold the user and the password
    assert grafana["admin"] == {"existingSecret": "grafana-admin", "userKey": "admin-user", "passwordKey": "admin-password"}
    assert grafana["sidecar"]["dashboards"] == {"enabled": True, "label": "grafana_dashboard", "labelValue": "1"}


def test_stack_chart_ships_the_operator_whose_crds_we_validate_against():
    path = CRDS_DIR / "monitoring.coreos.com_prometheusrules.yaml"
    assert f"operator.prometheus.io/version: {PROMETHEUS_OPERATOR_VERSION}" in path.read_text()


@pytest.mark.parametrize("stack", STACKS)
def test_grafana_admin_password_is_random_and_kept_in_a_secret(stack):
    secret = _named(stack, "kubernetes:core/v1:Secret", "observability-grafana-admin")["props"]
    assert secret["metadata"]["name"] == "grafana-admin"
    # The whole stringData is a Pulumi secret (encrypted in state) because the password is.
    wrapped = secret["stringData"]
    assert wrapped[_special_sig_key] == _special_secret_sig
    assert set(wrapped["value"]) == {"admin-user", "admin-password"}
    assert _named(stack, "random:index/randomPassword:RandomPassword", "observability-grafana-admin-password")


@pytest.mark.parametrize("stack", STACKS)
def test_dcgm_exporter_runs_on_gpu_nodes_only(stack):
    props = _named(stack, RELEASE, "observability-dcgm-exporter")["props"]
    assert (props["chart"], props["version"], props["repositoryOpts"]["repo"]) == (
        DCGM_EXPORTER_CHART.chart, DCGM_EXPORTER_CHART.version, DCGM_EXPORTER_CHART.repository)
    values = props["values"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in values["tolerations"]
    terms = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{"matchExpressions": [{"key": "karpenter.k8s.aws/instance-gpu-count", "operator": "Exists"}]}]
    assert values["serviceMonitor"]["enabled"] is True


@pytest.mark.parametrize("stack", STACKS)
def test_every_model_is_scraped_on_the_vllm_container_port(stack):
    for model in _config(stack).models:
        obj = manifest(_named(stack, POD_MONITOR, f"observability-{model.name}-pod-monitor"))
        validate_custom(obj)
        assert obj["metadata"]["namespace"] == f"vllm-{model.name}"
        labels = {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": model.name}
        assert obj["spec"]["selector"] == {"matchLabels": labels}
        (endpoint,) = obj["spec"]["podMetricsEndpoints"]
        assert endpoint["path"] == "/metrics"
        # The monitor selects the model's pods and scrapes the port their vLLM container names "http": 8000, where
        # vLLM serves /metrics beside the API (vLLM docs, "Production Metrics").
        template = _named(stack, "kubernetes:apps/v1:Deployment", f"vllm-{model.name}-deployment")["props"]["spec"][
            "template"]
        assert labels.items() <= template["metadata"]["labels"].items()
        (vllm,) = [c for c in template["spec"]["containers"] if c["name"] == "vllm"]
        assert endpoint["port"] == "http" and {"name": "http", "containerPort": 8000, "protocol": "TCP"} in vllm["ports"]


@pytest.mark.parametrize("stack", STACKS)
def test_prometheus_rule_has_the_four_alerts_with_thresholds_from_config(stack):
    thresholds = _config(stack).observability.alerts
    obj = manifest(_named(stack, PROMETHEUS_RULE, "observability-alert-rules"))
    validate_custom(obj)
    assert obj["metadata"]["namespace"] == "monitoring"
    (group,) = obj["spec"]["groups"]
    rules = {rule["alert"]: rule for rule in group["rules"]}
    assert sorted(rules) == ["VllmErrorRatioHigh", "VllmKvCacheNearlyFull", "VllmRequestsWaitingHigh",
                             "VllmTimeToFirstTokenHigh"]
    # (for, severity) as the runbook promises: latency and KV-cache pressure warn, a queue and errors page.
    assert {name: (rule["for"], rule["labels"]) for name, rule in rules.items()} == {
        "VllmTimeToFirstTokenHigh": ("10m", {"severity": "warning"}),
        "VllmKvCacheNearlyFull": ("5m", {"severity": "warning"}),
        "VllmRequestsWaitingHigh": ("5m", {"severity": "critical"}),
        "VllmErrorRatioHigh": ("5m", {"severity": "critical"}),
    }
    for rule in rules.values():
        assert rule["annotations"]["summary"] and rule["annotations"]["runbook"]
    # The summaries say the configured thresholds in the units people read: seconds, per cent, requests.
    assert (thresholds.ttft_p95_seconds, thresholds.kv_cache_usage_ratio, thresholds.requests_waiting,
            thresholds.error_ratio) == (2, 0.95, 50, 0.01)
    assert {name: rule["annotations"]["summary"] for name, rule in rules.items()} == {
        "VllmTimeToFirstTokenHigh": "P95 time to first token above 2 s for {{ $labels.model_name }} in {{ $labels.namespace }}",
        "VllmKvCacheNearlyFull": "KV cache above 95 % on {{ $labels.pod }} ({{ $labels.model_name }})",
        "VllmRequestsWaitingHigh": "More than 50 requests waiting for {{ $labels.model_name }} in {{ $labels.namespace }}",
        "VllmErrorRatioHigh": "More than 1 % of requests fail in {{ $labels.namespace }} (signal {{ $labels.signal }})",
    }
    assert rules["VllmTimeToFirstTokenHigh"]["expr"].endswith(f"> {thresholds.ttft_p95_seconds:g}")
    assert "1-2.5 s bucket" in rules["VllmTimeToFirstTokenHigh"]["annotations"]["runbook"]
    assert rules["VllmKvCacheNearlyFull"]["expr"].endswith(f"> {thresholds.kv_cache_usage_ratio:g}")
    assert rules["VllmRequestsWaitingHigh"]["expr"].endswith(f"> {thresholds.requests_waiting}")
    assert rules["VllmErrorRatioHigh"]["expr"].endswith(f"> {thresholds.error_ratio:g}")
    assert 'finished_reason="error"' in rules["VllmErrorRatioHigh"]["expr"]
    assert 'status="5xx"' in rules["VllmErrorRatioHigh"]["expr"]
    # The error runbook explains each value of the `signal` label the expression sets, one clause each.
    signals = re.findall(r'"signal", "(\w+)"', rules["VllmErrorRatioHigh"]["expr"])
    clauses = rules["VllmErrorRatioHigh"]["annotations"]["runbook"].split("; ")
    assert signals == ["engine", "http"] and [c.split(":")[0] for c in clauses[:2]] == ["signal=engine", "signal=http"]


@pytest.mark.parametrize("stack", STACKS)
def test_dashboard_is_provisioned_through_the_grafana_sidecar(stack):
    config_map = manifest(_named(stack, "kubernetes:core/v1:ConfigMap", "observability-dashboard"))
    validate_core(config_map)
    assert config_map["metadata"]["namespace"] == "monitoring"
    assert config_map["metadata"]["labels"] == {"grafana_dashboard": "1"}
    board = json.loads(config_map["data"]["vllm-serving.json"])
    # Each panel with its Grafana unit ("Standard options", Grafana docs): seconds for latencies, percentunit for
    # 0-1 ratios, percent for DCGM's 0-100 DCGM_FI_DEV_GPU_UTIL, short for counts.
    assert [(panel["title"], panel["fieldConfig"]["defaults"]["unit"]) for panel in board["panels"]] == [
        ("Time to first token (P50 / P95)", "s"), ("Inter-token latency (P50 / P95)", "s"),
        ("End-to-end request latency (P95)", "s"), ("KV-cache usage", "percentunit"),
        ("Requests running / waiting", "short"), ("Tokens per second", "short"), ("Error ratio", "percentunit"),
        ("GPU utilisation", "percent"), ("GPU memory used", "percentunit"), ("Replicas vs GPU nodes", "short")]
    assert len({panel["id"] for panel in board["panels"]}) == len(board["panels"])
    (namespaces,) = [v for v in board["templating"]["list"] if v["name"] == "namespace"]
    # A custom multi-value variable of the serving namespaces that opens on "All" (Grafana docs, "Add variables":
    # custom variables take comma-separated values; "Include All option"; the JSON model's `current` is the
    # selection a dashboard opens with, `$__all` for All).
    assert namespaces == {"name": "namespace", "type": "custom", "label": "Namespace",
                          "query": ",".join(f"vllm-{m.name}" for m in _config(stack).models), "multi": True,
                          "includeAll": True, "current": {"text": "All", "value": "$__all"}}


# What each panel plots, written out. Metric names: vLLM docs "Production Metrics" (vllm: prefix, histograms with
# _bucket series and model_name labels), DCGM exporter's default counters, kube-state-metrics; `$__rate_interval` and
# the `$namespace`/`$model` variables: Grafana docs, "Prometheus template variables".
_SEL = 'namespace=~"$namespace",model_name=~"$model"'
_RATE = "[$__rate_interval]"
DASHBOARD_QUERIES = [
    ("Time to first token (P50 / P95)", [
        (f"histogram_quantile(0.5, sum by (model_name, le) (rate(vllm:time_to_first_token_seconds_bucket{{{_SEL}}}{_RATE})))",
         "P50 {{model_name}}"),
        (f"histogram_quantile(0.95, sum by (model_name, le) (rate(vllm:time_to_first_token_seconds_bucket{{{_SEL}}}{_RATE})))",
         "P95 {{model_name}}")]),
    ("Inter-token latency (P50 / P95)", [
        (f"histogram_quantile(0.5, sum by (model_name, le) (rate(vllm:inter_token_latency_seconds_bucket{{{_SEL}}}{_RATE})))",
         "P50 {{model_name}}"),
        (f"histogram_quantile(0.95, sum by (model_name, le) (rate(vllm:inter_token_latency_seconds_bucket{{{_SEL}}}{_RATE})))",
         "P95 {{model_name}}")]),
    ("End-to-end request latency (P95)", [
        (f"histogram_quantile(0.95, sum by (model_name, le) (rate(vllm:e2e_request_latency_seconds_bucket{{{_SEL}}}{_RATE})))",
         "P95 {{model_name}}")]),
    ("KV-cache usage", [(f"max by (model_name, pod) (vllm:kv_cache_usage_perc{{{_SEL}}})", "{{pod}}")]),
    ("Requests running / waiting", [
        (f"sum by (model_name) (vllm:num_requests_running{{{_SEL}}})", "running {{model_name}}"),
        (f"sum by (model_name) (vllm:num_requests_waiting{{{_SEL}}})", "waiting {{model_name}}")]),
    ("Tokens per second", [
        (f"sum by (model_name) (rate(vllm:generation_tokens_total{{{_SEL}}}{_RATE}))", "generated {{model_name}}"),
        (f"sum by (model_name) (rate(vllm:prompt_tokens_total{{{_SEL}}}{_RATE}))", "prompt {{model_name}}")]),
    ("Error ratio", [
        (f'sum by (model_name) (rate(vllm:request_success_total{{{_SEL},finished_reason="error"}}{_RATE}))'
         f" / sum by (model_name) (rate(vllm:request_success_total{{{_SEL}}}{_RATE}))", "engine errors {{model_name}}"),
        (f'sum by (namespace) (rate(http_requests_total{{namespace=~"$namespace",handler=~"/v1/.*",status="5xx"}}{_RATE}))'
         f' / sum by (namespace) (rate(http_requests_total{{namespace=~"$namespace",handler=~"/v1/.*"}}{_RATE}))',
         "HTTP 5xx {{namespace}}")]),
    ("GPU utilisation", [("avg by (Hostname, gpu) (DCGM_FI_DEV_GPU_UTIL)", "{{Hostname}} GPU {{gpu}}")]),
    ("GPU memory used", [
        ("sum by (Hostname) (DCGM_FI_DEV_FB_USED) / (sum by (Hostname) (DCGM_FI_DEV_FB_USED) + "
         "sum by (Hostname) (DCGM_FI_DEV_FB_FREE))", "{{Hostname}}")]),
    ("Replicas vs GPU nodes", [
        ('sum by (namespace) (kube_deployment_status_replicas_available{namespace=~"$namespace"})',
         "ready replicas {{namespace}}"),
        ('count(kube_node_status_allocatable{resource="nvidia_com_gpu"} > 0)', "GPU nodes"),
        ('sum(kube_node_status_allocatable{resource="nvidia_com_gpu"})', "GPUs")]),
]


@pytest.mark.parametrize("stack", STACKS)
def test_each_dashboard_panel_plots_what_its_title_says(stack):
    config_map = manifest(_named(stack, "kubernetes:core/v1:ConfigMap", "observability-dashboard"))
    board = json.loads(config_map["data"]["vllm-serving.json"])
    assert [(panel["title"], [(t["expr"], t["legendFormat"]) for t in panel["targets"]])
            for panel in board["panels"]] == DASHBOARD_QUERIES
    assert [[t["refId"] for t in panel["targets"]] for panel in board["panels"]] == [
        ["A", "B"], ["A", "B"], ["A"], ["A"], ["A", "B"], ["A", "B"], ["A", "B"], ["A"], ["A"], ["A", "B", "C"]]
    # two panels a row, 12 of Grafana's 24 grid columns each, 8 rows high
    assert [panel["gridPos"] for panel in board["panels"]] == [
        {"x": 12 * (index % 2), "y": 8 * (index // 2), "w": 12, "h": 8} for index in range(10)]
    assert [panel["id"] for panel in board["panels"]] == list(range(1, 11))
    # Time series panels with the legend as a list under the graph (Grafana's timeseries panel model, VizLegendOptions:
    # displayMode list|table|hidden, placement bottom|right), all reading the board's data-source variable.
    assert {(panel["type"], json.dumps(panel["options"], sort_keys=True), panel["datasource"]["uid"])
            for panel in board["panels"]} == {
        ("timeseries", '{"legend": {"displayMode": "list", "placement": "bottom"}}', "${datasource}")}
    assert {key: board[key] for key in ("uid", "tags", "refresh", "time")} == {
        "uid": "vllm-eks-serving", "tags": ["vllm", "vllm-eks"], "refresh": "30s", "time": {"from": "now-6h", "to": "now"}}
    (model,) = [v for v in board["templating"]["list"] if v["name"] == "model"]
    assert model["query"]["query"] == 'label_values(vllm:num_requests_waiting{namespace=~"$namespace"}, model_name)'


@pytest.mark.parametrize("stack", STACKS)
def test_monitoring_core_objects_are_valid(stack):
    for type_token, name in (("kubernetes:core/v1:Namespace", "observability-namespace"),
                             ("kubernetes:core/v1:Secret", "observability-grafana-admin")):
        validate_core(manifest(_named(stack, type_token, name)))


@pytest.mark.parametrize("stack", STACKS)
def test_custom_resources_wait_for_the_charts_that_install_their_crds(stack):
    snapshot = rendered(stack)
    stack_release = _named(stack, RELEASE, "observability-kube-prometheus-stack")["urn"]
    for resource in _of(snapshot, POD_MONITOR) + _of(snapshot, PROMETHEUS_RULE):
        assert stack_release in resource["options"]["dependsOn"], resource["name"]
    keda = _named(stack, RELEASE, "autoscaling-keda")["urn"]
    for resource in _of(snapshot, "kubernetes:keda.sh/v1alpha1:ScaledObject"):
        assert keda in resource["options"]["dependsOn"], resource["name"]


def test_without_grafana_the_chart_installs_no_grafana_and_no_dashboard():
    """kube-prometheus-stack installs Grafana unless `grafana.enabled` is false (the chart's values.yaml:
    `grafana: enabled: true`), so turning it off must say so; the dashboard and Grafana's admin Secret go with it."""
    import copy

    from preflight.render import render_config

    config = copy.deepcopy(read_stack_config("dev"))
    config["vllm-eks:observability"] = {**config.get("vllm-eks:observability", {}), "grafana": False}
    snapshot = render_config("dev-no-grafana", config)
    (release,) = [r for r in _of(snapshot, RELEASE) if r["name"] == "observability-kube-prometheus-stack"]
    assert release["props"]["values"]["grafana"]["enabled"] is False
    names = {r["name"] for r in snapshot["resources"]}
    assert not names & {"observability-dashboard", "observability-grafana-admin"}


def test_the_namespace_variable_lists_every_serving_namespace_comma_separated():
    """Grafana docs, "Add variables", custom variables: "Values separated by comma" (both stack files serve one model,
    so their rendered dashboards cannot show the separator)."""
    from vllm_eks.observability.dashboard import dashboard

    (variable,) = [v for v in dashboard("vLLM", ["vllm-a", "vllm-b"])["templating"]["list"] if v["name"] == "namespace"]
    assert variable["query"] == "vllm-a,vllm-b"


def _without_images(value):
    """The chart values with the pull-through-cache image registries left out (tests/test_image_cache.py states them)."""
    if isinstance(value, dict):
        kept = {key: _without_images(item) for key, item in value.items() if key != "image"}
        return {key: item for key, item in kept.items() if item != {}}
    return value


def test_prod_monitoring_stack_whole():
    """prod's monitoring objects with every value, as kube-prometheus-stack 88 and dcgm-exporter read them.

    kube-prometheus-stack values.yaml: fullnameOverride names every object (`prometheus-stack-prometheus` is the
    Service KEDA queries), prometheusSpec.scrapeInterval/retention/retentionSize/storageSpec, the three
    *SelectorNilUsesHelmValues false select monitors and rules of any release, alertmanager.config is Alertmanager's
    own configuration (group by alert and namespace; the chart's always-firing Watchdog and InfoInhibitor go to the
    `null` receiver). Pod Security Standards: node-exporter (host namespaces) and DCGM need `privileged`.
    dcgm-exporter chart values.yaml: tolerations, affinity, serviceMonitor.interval. Grafana chart: admin.existingSecret
    with userKey/passwordKey; sidecar.dashboards.label/labelValue pick the dashboard ConfigMaps."""
    system = {"nodeSelector": SYSTEM_NODES}
    stack = _named("prod", RELEASE, "observability-kube-prometheus-stack")["props"]
    role_arn = stack["values"]["alertmanager"]["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert role_arn.startswith("arn:aws:iam::123456789012:role/observability-alertmanager")
    assert (stack["name"], stack["namespace"]) == ("kube-prometheus-stack", "monitoring")
    assert _without_images(stack["values"]) == {
        "fullnameOverride": "prometheus-stack",
        "prometheusOperator": {**system, "admissionWebhooks": {"patch": system}},
        "prometheus": {"prometheusSpec": {
            **system, "scrapeInterval": "15s", "retention": "30d", "retentionSize": "90GB",
            "storageSpec": {"volumeClaimTemplate": {"spec": {
                "storageClassName": "gp3-encrypted", "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "100Gi"}}}}},
            "podMonitorSelectorNilUsesHelmValues": False, "serviceMonitorSelectorNilUsesHelmValues": False,
            "ruleSelectorNilUsesHelmValues": False}},
        "alertmanager": {
            "alertmanagerSpec": system,
            "config": {
                "route": {"group_by": ["alertname", "namespace"], "receiver": "sns", "routes": [
                    {"matchers": ['alertname = "Watchdog"'], "receiver": "null"},
                    {"matchers": ['alertname = "InfoInhibitor"'], "receiver": "null"}]},
                "receivers": [{"name": "null"}, {"name": "sns", "sns_configs": [{
                    "topic_arn": "arn:aws:sns:us-east-1:123456789012:vllm-eks-prod-alerts",
                    "sigv4": {"region": "us-east-1"}, "send_resolved": True}]}]},
            "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": role_arn}}},
        "kubeControllerManager": {"enabled": False}, "kubeScheduler": {"enabled": False}, "kubeEtcd": {"enabled": False},
        "defaultRules": {"rules": {"kubeControllerManager": False, "kubeSchedulerAlerting": False,
                                   "kubeSchedulerRecording": False, "etcd": False}},
        "kube-state-metrics": system,
        "grafana": {"enabled": True, **system,
                    "admin": {"existingSecret": "grafana-admin", "userKey": "admin-user", "passwordKey": "admin-password"},
                    "sidecar": {"dashboards": {"enabled": True, "label": "grafana_dashboard", "labelValue": "1"}}},
    }
    dcgm = _named("prod", RELEASE, "observability-dcgm-exporter")["props"]
    assert (dcgm["name"], dcgm["namespace"]) == ("dcgm-exporter", "monitoring")
    assert dcgm["values"] == {
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "karpenter.k8s.aws/instance-gpu-count", "operator": "Exists"}]}]}}},
        "serviceMonitor": {"enabled": True, "interval": "15s"},
    }
    assert _named("prod", "kubernetes:core/v1:Namespace", "observability-namespace")["props"]["metadata"] == {
        "name": "monitoring", "labels": {"pod-security.kubernetes.io/enforce": "privileged"}}
    assert _named("prod", "random:index/randomPassword:RandomPassword", "observability-grafana-admin-password")["props"] == {
        "length": 32, "special": False}
    secret = _named("prod", "kubernetes:core/v1:Secret", "observability-grafana-admin")["props"]
    assert (secret["type"], secret["metadata"], secret["stringData"]["value"]["admin-user"]) == (
        "Opaque", {"name": "grafana-admin", "namespace": "monitoring"}, "admin")
    assert _named("prod", "kubernetes:core/v1:ConfigMap", "observability-dashboard")["props"]["metadata"] == {
        "name": "vllm-serving-dashboard", "namespace": "monitoring", "labels": {"grafana_dashboard": "1"}}
    assert _named("prod", PROMETHEUS_RULE, "observability-alert-rules")["props"]["metadata"] == {
        "name": "vllm-serving", "namespace": "monitoring"}
    monitor = _named("prod", POD_MONITOR, "observability-qwen3-8b-pod-monitor")["props"]
    assert (monitor["metadata"], monitor["spec"]) == ({"name": "vllm", "namespace": "vllm-qwen3-8b"}, {
        "selector": {"matchLabels": {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": "qwen3-8b"}},
        "podMetricsEndpoints": [{"port": "http", "path": "/metrics", "interval": "15s"}]})


@pytest.mark.parametrize("stack", STACKS)
def test_prometheus_is_reached_at_its_service_and_admitted_by_its_pod_labels(stack):
    """What Observability hands to other components, as they render it. prometheus-operator labels each Prometheus pod
    `app.kubernetes.io/name: prometheus` and `prometheus: <Prometheus name>` (pkg/prometheus/statefulset.go), and
    kube-prometheus-stack names the Prometheus object and its Service `<fullname>-prometheus` on port 9090
    (templates/prometheus/prometheus.yaml, service.yaml); KEDA's prometheus trigger reads `serverAddress`."""
    snapshot = rendered(stack)
    scraper = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
               "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus", "prometheus": "prometheus-stack-prometheus"}}}
    policies = [r["props"] for r in _of(snapshot, "kubernetes:networking.k8s.io/v1:NetworkPolicy")
                if r["props"]["metadata"]["name"] in ("vllm-from-router", "router-from-alb")]
    assert policies and all(any(scraper in rule["from"] for rule in policy["spec"]["ingress"]) for policy in policies)
    triggers = [trigger for r in _of(snapshot, "kubernetes:keda.sh/v1alpha1:ScaledObject")
                for trigger in r["props"]["spec"]["triggers"] if trigger["type"] == "prometheus"]
    assert triggers and all(trigger["metadata"]["serverAddress"] == "http://prometheus-stack-prometheus.monitoring.svc.cluster.local:9090"
                            for trigger in triggers)


def test_dashboard_whole():
    """The dashboard model with every field (Grafana "JSON model": uid, schemaVersion, refresh, time, templating;
    a `datasource` variable of type prometheus that every panel and query uses; the namespace variable lists the
    serving namespaces; the model variable reads label_values of a vLLM series). Panels: timeseries two a row, 12 x 8
    grid units each, ids from 1, refIds A, B, C; each panel's unit and queries, the metric names as vLLM 0.32, DCGM
    exporter and kube-state-metrics export them (tests/test_metric_names.py)."""
    from vllm_eks.observability.dashboard import dashboard

    board = dashboard("vLLM serving", ["vllm-a", "vllm-b"])
    assert {key: value for key, value in board.items() if key != "panels"} == EXPECTED_DASHBOARD
    source = {"type": "prometheus", "uid": "${datasource}"}
    assert [(p["title"], p["fieldConfig"]["defaults"]["unit"], [(t["expr"], t["legendFormat"]) for t in p["targets"]])
            for p in board["panels"]] == EXPECTED_PANELS
    for index, panel in enumerate(board["panels"]):
        assert panel == {
            "type": "timeseries", "title": panel["title"], "datasource": source,
            "fieldConfig": {"defaults": {"unit": panel["fieldConfig"]["defaults"]["unit"]}, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
            "targets": [{"refId": "ABC"[position], "datasource": source, "expr": target["expr"],
                         "legendFormat": target["legendFormat"]} for position, target in enumerate(panel["targets"])],
            "id": index + 1, "gridPos": {"x": 12 * (index % 2), "y": 8 * (index // 2), "w": 12, "h": 8}}


EXPECTED_DASHBOARD = {'uid': 'vllm-eks-serving',
 'title': 'vLLM serving',
 'tags': ['vllm', 'vllm-eks'],
 'timezone': 'browser',
 'schemaVersion': 39,
 'refresh': '30s',
 'time': {'from': 'now-6h', 'to': 'now'},
 'templating': {'list': [{'name': 'datasource',
                          'type': 'datasource',
                          'query': 'prometheus',
                          'label': 'Data source'},
                         {'name': 'namespace',
                          'type': 'custom',
                          'label': 'Namespace',
                          'query': 'vllm-a,vllm-b',
                          'multi': True,
                          'includeAll': True,
                          'current': {'text': 'All', 'value': '$__all'}},
                         {'name': 'model',
                          'type': 'query',
                          'label': 'Model',
                          'datasource': {'type': 'prometheus', 'uid': '${datasource}'},
                          'query': {'query': 'label_values(vllm:num_requests_waiting{namespace=~"$namespace"}, '
                                             'model_name)',
                                    'refId': 'models'},
                          'refresh': 2,
                          'multi': True,
                          'includeAll': True,
                          'current': {'text': 'All', 'value': '$__all'}}]}}

EXPECTED_PANELS = [('Time to first token (P50 / P95)',
  's',
  [('histogram_quantile(0.5, sum by (model_name, le) '
    '(rate(vllm:time_to_first_token_seconds_bucket{namespace=~"$namespace",model_name=~"$model"}[$__rate_interval])))',
    'P50 {{model_name}}'),
   ('histogram_quantile(0.95, sum by (model_name, le) '
    '(rate(vllm:time_to_first_token_seconds_bucket{namespace=~"$namespace",model_name=~"$model"}[$__rate_interval])))',
    'P95 {{model_name}}')]),
 ('Inter-token latency (P50 / P95)',
  's',
  [('histogram_quantile(0.5, sum by (model_name, le) '
    '(rate(vllm:inter_token_latency_seconds_bucket{namespace=~"$namespace",model_name=~"$model"}[$__rate_interval])))',
    'P50 {{model_name}}'),
   ('histogram_quantile(0.95, sum by (model_name, le) '
    '(rate(vllm:inter_token_latency_seconds_bucket{namespace=~"$namespace",model_name=~"$model"}[$__rate_interval])))',
    'P95 {{model_name}}')]),
 ('End-to-end request latency (P95)',
  's',
  [('histogram_quantile(0.95, sum by (model_name, le) '
    '(rate(vllm:e2e_request_latency_seconds_bucket{namespace=~"$namespace",model_name=~"$model"}[$__rate_interval])))',
    'P95 {{model_name}}')]),
 ('KV-cache usage',
  'percentunit',
  [('max by (model_name, pod) (vllm:kv_cache_usage_perc{namespace=~"$namespace",model_name=~"$model"})',
    '{{pod}}')]),
 ('Requests running / waiting',
  'short',
  [('sum by (model_name) (vllm:num_requests_running{namespace=~"$namespace",model_name=~"$model"})',
    'running {{model_name}}'),
   ('sum by (model_name) (vllm:num_requests_waiting{namespace=~"$namespace",model_name=~"$model"})',
    'waiting {{model_name}}')]),
 ('Tokens per second',
  'short',
  [('sum by (model_name) '
    '(rate(vllm:generation_tokens_total{namespace=~"$namespace",model_name=~"$model"}[$__rate_interval]))',
    'generated {{model_name}}'),
   ('sum by (model_name) '
    '(rate(vllm:prompt_tokens_total{namespace=~"$namespace",model_name=~"$model"}[$__rate_interval]))',
    'prompt {{model_name}}')]),
 ('Error ratio',
  'percentunit',
  [('sum by (model_name) '
    '(rate(vllm:request_success_total{namespace=~"$namespace",model_name=~"$model",finished_reason="error"}[$__rate_interval])) '
    '/ sum by (model_name) '
    '(rate(vllm:request_success_total{namespace=~"$namespace",model_name=~"$model"}[$__rate_interval]))',
    'engine errors {{model_name}}'),
   ('sum by (namespace) '
    '(rate(http_requests_total{namespace=~"$namespace",handler=~"/v1/.*",status="5xx"}[$__rate_interval])) / sum '
    'by (namespace) (rate(http_requests_total{namespace=~"$namespace",handler=~"/v1/.*"}[$__rate_interval]))',
    'HTTP 5xx {{namespace}}')]),
 ('GPU utilisation', 'percent', [('avg by (Hostname, gpu) (DCGM_FI_DEV_GPU_UTIL)', '{{Hostname}} GPU {{gpu}}')]),
 ('GPU memory used',
  'percentunit',
  [('sum by (Hostname) (DCGM_FI_DEV_FB_USED) / (sum by (Hostname) (DCGM_FI_DEV_FB_USED) + sum by (Hostname) '
    '(DCGM_FI_DEV_FB_FREE))',
    '{{Hostname}}')]),
 ('Replicas vs GPU nodes',
  'short',
  [('sum by (namespace) (kube_deployment_status_replicas_available{namespace=~"$namespace"})',
    'ready replicas {{namespace}}'),
   ('count(kube_node_status_allocatable{resource="nvidia_com_gpu"} > 0)', 'GPU nodes'),
   ('sum(kube_node_status_allocatable{resource="nvidia_com_gpu"})', 'GPUs')])]
