"""Alerts reach someone: Alertmanager routes to the configured SNS topic (checked by the real amtool), a stack
without a receiver does not load unless it says so, and the control-plane scrapes EKS cannot serve are off."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess

import pytest
import yaml

from preflight.render import read_stack_config
from rendered import resource_named
from stack_config import StackConfigError, load_stack_config

AMTOOL = shutil.which("amtool")
assert AMTOOL, "amtool is required: install the Debian package `prometheus-alertmanager` (./test.sh does)"
RELEASE = ("kubernetes:helm.sh/v3:Release", "observability-kube-prometheus-stack")


def _sections(stack: str) -> dict:
    return {key.split(":", 1)[1]: value for key, value in read_stack_config(stack).items() if key.startswith("vllm-eks:")}


def test_a_stack_without_a_receiver_is_a_config_error_naming_the_key():
    """kube-prometheus-stack values.yaml (alertmanager.config): the default route's receiver is `null`, so alerts
    reach nobody unless a receiver is configured."""
    sections = copy.deepcopy(_sections("prod"))
    del sections["observability"]["alerting"]
    with pytest.raises(StackConfigError, match=r"observability\.alerting\.snsTopicArn: got None, expected an SNS topic ARN"):
        load_stack_config(sections)
    sections["observability"]["alerting"] = {"snsTopicArn": "arn:aws:s3:::not-a-topic"}
    with pytest.raises(StackConfigError, match="snsTopicArn: got 'arn:aws:s3:::not-a-topic'"):
        load_stack_config(sections)
    sections["observability"]["alerting"] = {"allowNoReceiver": True}
    assert load_stack_config(sections).observability.alerting.sns_topic_arn is None


def _values(snapshot) -> dict:
    return resource_named(snapshot, *RELEASE)["props"]["values"]


def _amtool_check(config: dict, tmp_path) -> subprocess.CompletedProcess:
    path = tmp_path / "alertmanager.yaml"
    path.write_text(yaml.safe_dump(config))
    return subprocess.run([AMTOOL, "check-config", str(path)], capture_output=True, text=True, timeout=60)


def test_prod_routes_every_alert_to_the_sns_topic(prod_snapshot, tmp_path):
    """Alertmanager "Configuration" (sns_config: topic_arn, sigv4.region, send_resolved); amtool check-config is
    Alertmanager's own parser. The route is tested with `amtool config routes test` like the upstream docs show."""
    config = _values(prod_snapshot)["alertmanager"]["config"]
    checked = _amtool_check(config, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    topic = read_stack_config("prod")["vllm-eks:observability"]["alerting"]["snsTopicArn"]
    (sns,) = [receiver for receiver in config["receivers"] if receiver["name"] == "sns"]
    assert sns["sns_configs"] == [{"topic_arn": topic, "sigv4": {"region": "us-east-1"}, "send_resolved": True}]
    path = tmp_path / "alertmanager.yaml"
    for labels, receiver in ((["alertname=VllmSlowFirstToken", "namespace=vllm-qwen3-8b"], "sns"),
                             (["alertname=KubePodCrashLooping"], "sns"), (["alertname=Watchdog"], "null"),
                             # kube-prometheus-stack's always-firing alerts (its Watchdog and InfoInhibitor rules)
                             (["alertname=InfoInhibitor"], "null")):
        routed = subprocess.run([AMTOOL, "config", "routes", "test", f"--config.file={path}", *labels],
                                capture_output=True, text=True, timeout=60)
        assert routed.stdout.strip() == receiver, (labels, routed.stdout, routed.stderr)


def test_alertmanager_may_publish_to_that_topic_only(prod_snapshot):
    """IRSA (AWS, "IAM roles for service accounts"): the chart's Alertmanager service account is
    `<fullname>-alertmanager` (kube-prometheus-stack templates/alertmanager/serviceaccount.yaml)."""
    values = _values(prod_snapshot)
    role_arn = values["alertmanager"]["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"]
    role = resource_named(prod_snapshot, "aws:iam/role:Role", "observability-alertmanager")
    assert role_arn.startswith("arn:aws:iam::123456789012:role/observability-alertmanager")
    trust = json.loads(role["props"]["assumeRolePolicy"])["Statement"][0]["Condition"]["StringEquals"]
    assert "system:serviceaccount:monitoring:prometheus-stack-alertmanager" in trust.values()
    policy = json.loads(resource_named(prod_snapshot, "aws:iam/rolePolicy:RolePolicy", "observability-alertmanager-publish")["props"]["policy"])
    topic = read_stack_config("prod")["vllm-eks:observability"]["alerting"]["snsTopicArn"]
    assert policy["Statement"] == [{"Effect": "Allow", "Action": "sns:Publish", "Resource": topic}]


def test_dev_without_receiver_keeps_a_valid_config(dev_snapshot, tmp_path):
    config = _values(dev_snapshot)["alertmanager"]["config"]
    assert _amtool_check(config, tmp_path).returncode == 0
    assert [receiver["name"] for receiver in config["receivers"]] == ["null"]


@pytest.mark.parametrize("stack", ["dev_snapshot", "prod_snapshot"])
def test_control_plane_scrapes_eks_cannot_serve_are_off(stack, request):
    """EKS runs kube-controller-manager, kube-scheduler and etcd; they expose no in-cluster target, so
    kube-prometheus-stack's default scrapes fail and KubeControllerManagerDown / KubeSchedulerDown fire forever
    (kube-prometheus-stack values.yaml kubeControllerManager/kubeScheduler/kubeEtcd.enabled; its rule templates
    kubernetes-system-controller-manager.yaml / -scheduler.yaml render only while those are enabled)."""
    values = _values(request.getfixturevalue(stack))
    for component in ("kubeControllerManager", "kubeScheduler", "kubeEtcd"):
        assert values[component]["enabled"] is False
    for group in ("kubeControllerManager", "kubeSchedulerAlerting", "kubeSchedulerRecording", "etcd"):
        assert values["defaultRules"]["rules"][group] is False


def test_rule_groups_whole():
    """The four alerts with every field, on two serving namespaces given out of order (the HTTP matcher lists them
    sorted). Prometheus "Alerting rules" (expr, for, labels, annotations); metric names as vLLM 0.32 exports them
    (tests/test_metric_names.py); TTFT buckets 1 and 2.5 s around the 2 s threshold (FACTS.md); the runbooks name the
    commands an operator runs."""
    from vllm_eks.observability.alert_rules import rule_groups

    thresholds = {"ttft_p95_seconds": 2, "kv_cache_usage_ratio": 0.95, "requests_waiting": 50, "error_ratio": 0.01}
    assert rule_groups(thresholds, ["vllm-b", "vllm-a"]) == EXPECTED_RULE_GROUPS


@pytest.mark.parametrize("threshold, bucket", [(2, (1.0, 2.5)), (2.5, (2.5, 5.0)), (0.0005, (0.0, 0.001)),
                                               (3000, (2560.0, float("inf")))])
def test_the_runbook_names_the_bucket_a_p95_above_the_threshold_falls_in(threshold, bucket):
    """Prometheus histogram buckets are cumulative `le` bounds ("Histograms and summaries"): a P95 above a
    threshold that sits on a bound lies in the next bucket, (2.5, 5]; vLLM 0.32's TTFT bounds
    (vllm/v1/metrics/buckets.py; FACTS.md: 1.0 then 2.5), with +Inf above the last."""
    from vllm_eks.observability.alert_rules import ttft_bucket_bounds

    assert ttft_bucket_bounds(threshold) == bucket


EXPECTED_RULE_GROUPS = [{'name': 'vllm-serving',
  'rules': [{'alert': 'VllmTimeToFirstTokenHigh',
             'expr': 'histogram_quantile(0.95, sum by (namespace, model_name, le) '
                     '(rate(vllm:time_to_first_token_seconds_bucket[5m]))) > 2',
             'for': '10m',
             'labels': {'severity': 'warning'},
             'annotations': {'summary': 'P95 time to first token above 2 s for {{ $labels.model_name }} in {{ '
                                        '$labels.namespace }}',
                             'runbook': "The P95 is interpolated inside vLLM's 1-2.5 s bucket: it means more than "
                                        '5 % of first tokens took over 1 s. Check requests waiting and KV-cache '
                                        'usage on the vLLM dashboard, then whether the ScaledObject is at '
                                        'maxReplicas or its pods are Pending on GPU nodes (kubectl -n {{ '
                                        '$labels.namespace }} get scaledobject,pods; kubectl get nodeclaims).'}},
            {'alert': 'VllmKvCacheNearlyFull',
             'expr': 'max by (namespace, model_name, pod) (vllm:kv_cache_usage_perc) > 0.95',
             'for': '5m',
             'labels': {'severity': 'warning'},
             'annotations': {'summary': 'KV cache above 95 % on {{ $labels.pod }} ({{ $labels.model_name }})',
                             'runbook': 'A full KV cache makes vLLM preempt and recompute running requests, so '
                                        'latency climbs. Add replicas (raise maxReplicas or lower the queue '
                                        'threshold), or lower maxModelLen for this model.'}},
            {'alert': 'VllmRequestsWaitingHigh',
             'expr': 'sum by (namespace, model_name) (vllm:num_requests_waiting) > 50',
             'for': '5m',
             'labels': {'severity': 'critical'},
             'annotations': {'summary': 'More than 50 requests waiting for {{ $labels.model_name }} in {{ '
                                        '$labels.namespace }}',
                             'runbook': "The queue outgrows the autoscaler: check the ScaledObject's conditions "
                                        "and the HPA's events (kubectl -n {{ $labels.namespace }} describe "
                                        'scaledobject,hpa), Pending pods, and whether the Karpenter NodePools hit '
                                        'their GPU limit (kubectl get nodepools).'}},
            {'alert': 'VllmErrorRatioHigh',
             'expr': '(label_replace(sum by (namespace) '
                     '(rate(vllm:request_success_total{finished_reason="error"}[5m])) / sum by (namespace) '
                     '(rate(vllm:request_success_total[5m])), "signal", "engine", "", "") or label_replace(sum by '
                     '(namespace) '
                     '(rate(http_requests_total{namespace=~"vllm-a|vllm-b",handler=~"/v1/.*",status="5xx"}[5m])) / '
                     'sum by (namespace) '
                     '(rate(http_requests_total{namespace=~"vllm-a|vllm-b",handler=~"/v1/.*"}[5m])), "signal", '
                     '"http", "", "")) > 0.01',
             'for': '5m',
             'labels': {'severity': 'critical'},
             'annotations': {'summary': 'More than 1 % of requests fail in {{ $labels.namespace }} (signal {{ '
                                        '$labels.signal }})',
                             'runbook': 'signal=engine: vLLM finished requests with an internal error (answered '
                                        '500); signal=http: its API server answered 5xx on /v1. Read the pod logs '
                                        'for the failing request ids (kubectl -n {{ $labels.namespace }} get pods; '
                                        'kubectl logs <pod>) and look for restarts and out-of-memory kills.'}}]}]
