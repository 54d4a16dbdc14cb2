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
