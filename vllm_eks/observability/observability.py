"""Observability: Prometheus, Alertmanager and Grafana (kube-prometheus-stack), GPU metrics, alerts and a dashboard.

One choice, in-cluster kube-prometheus-stack rather than Amazon Managed Prometheus + Grafana: KEDA's queue-depth
trigger reads Prometheus over plain in-cluster HTTP with no SigV4 proxy, the PrometheusRule/PodMonitor objects
are the same ones the operator documents, and nothing leaves the VPC. The price is one Prometheus to size
(retention and volume come from the stack config) on the system nodes.

What gets scraped: each model's vLLM pods through a PodMonitor (container port `http`, path `/metrics`, which vLLM
serves without the API key; only Prometheus and the router may reach it in-cluster), the GPUs through NVIDIA's DCGM
exporter (a DaemonSet on GPU nodes only, with its own ServiceMonitor), and the cluster through kube-state-metrics.
Grafana (optional) has no ingress: reach it with `kubectl -n monitoring port-forward svc/kube-prometheus-stack-grafana
3000:80`; its admin password is random, kept in a Secret (and encrypted in Pulumi state).

Logs: vLLM writes JSON lines to stdout (VllmService), with the edge's X-Request-Id as the completion id; the
container runtime keeps them and `kubectl logs` reads them. Shipping them to CloudWatch Logs is not provisioned here.
"""

import json
from typing import TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from vllm_eks.observability.alert_rules import AlertThresholds, rule_groups
from vllm_eks.planning.catalog import DCGM_EXPORTER_CHART, KUBE_PROMETHEUS_STACK_CHART, HelmChart
from vllm_eks.observability.dashboard import dashboard
from vllm_eks.cluster.image_cache import with_chart_images
from vllm_eks.iam.irsa import irsa_trust_json

MONITORING_NAMESPACE = "monitoring"
STACK_RELEASE_NAME = "kube-prometheus-stack"
# Resource names inside the chart derive from this: the Prometheus Service is `<it>-prometheus`.
STACK_FULLNAME = "prometheus-stack"
PROMETHEUS_PORT = 9090
METRICS_PORT_NAME = "http"  # the vLLM container's named port (VllmService)
METRICS_PATH = "/metrics"
SCRAPE_INTERVAL = "15s"
GRAFANA_ADMIN_SECRET = "grafana-admin"
# kube-prometheus-stack's Grafana sidecar loads every ConfigMap carrying this label as a dashboard.
DASHBOARD_LABEL = {"grafana_dashboard": "1"}
# EKS runs the control plane: kube-controller-manager, kube-scheduler and etcd expose no scrape target, so the chart's
# default scrapes of them fail and their "down" alerts fire forever (kube-prometheus-stack values.yaml:
# kubeControllerManager / kubeScheduler / kubeEtcd, and defaultRules.rules for their rule groups).
UNREACHABLE_CONTROL_PLANE = ("kubeControllerManager", "kubeScheduler", "kubeEtcd")
UNREACHABLE_CONTROL_PLANE_RULES = ("kubeControllerManager", "kubeSchedulerAlerting", "kubeSchedulerRecording", "etcd")
# The chart's service account for Alertmanager is `<fullname>-alertmanager`; its IRSA role may publish to the topic.
ALERTMANAGER_SERVICE_ACCOUNT = f"{STACK_FULLNAME}-alertmanager"
# Alerts that only prove the pipeline works (Watchdog) or carry no page (InfoInhibitor) stay on the null receiver.
UNPAGED_ALERTS = ("Watchdog", "InfoInhibitor")
# Prometheus stops ingesting before the volume fills: keep 10 % headroom for the WAL and compaction.
_RETENTION_SHARE_OF_VOLUME = 0.9


class ScrapeTarget(TypedDict):
    """One model's vLLM pods (VllmService outputs)."""

    model: str
    """The model's short name."""
    namespace: pulumi.Input[str]
    """The model's namespace."""
    pod_labels: pulumi.Input[dict[str, str]]
    """Labels of the model's vLLM pods."""


class ObservabilityArgs(TypedDict):
    retention_days: int
    """Prometheus retention."""
    storage_gib: int
    """Prometheus volume size."""
    storage_class_name: pulumi.Input[str]
    """A class the stack creates (ClusterAddons): no class is default on EKS."""
    alert_sns_topic_arn: str | None
    """Alertmanager's receiver; None only where the config waives it."""
    oidc_provider_arn: pulumi.Input[str]
    """The cluster's IAM OIDC provider (Alertmanager's SNS role trusts it)."""
    oidc_issuer: pulumi.Input[str]
    """The OIDC issuer host/path, without https://."""
    region: str
    """The Region of the SNS topic."""
    grafana: bool
    """Whether Grafana (with the vLLM dashboard) is installed."""
    alerts: AlertThresholds
    """Thresholds of the four serving alerts."""
    scrape_targets: list[ScrapeTarget]
    """The vLLM pods to scrape, one entry per model."""
    system_node_selector: dict[str, str]
    """Controllers and monitoring run on the system node group."""
    gpu_taint_key: str
    """GPU nodes are tainted <key>=…:NoSchedule."""
    gpu_node_label: str
    """A label key only GPU nodes carry."""
    image_registry: str
    """The account's ECR registry (ImageCache): the chart's images are pulled through it."""


class Observability(pulumi.ComponentResource):
    """kube-prometheus-stack (no scrapes of the control plane EKS hides; Alertmanager to the SNS topic in
    `observability.alerting`), DCGM exporter, PodMonitors, the four alerts, the Grafana dashboard.
    """

    namespace: pulumi.Output[str]
    """The monitoring namespace."""
    prometheus_url: pulumi.Output[str]
    """Prometheus inside the cluster (KEDA queries it)."""
    prometheus_pod_labels: pulumi.Output[dict[str, str]]
    """Labels of the Prometheus pods (NetworkPolicies admit them)."""
    prometheus_operator: k8s.helm.v3.Release
    """The kube-prometheus-stack release: resources using its CRDs wait for it."""

    def __init__(self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("vllm-eks:index:Observability", name, None, opts)
        k8s_child = pulumi.ResourceOptions(parent=self)

        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            # node-exporter (host network/PID) and the DCGM exporter (CAP_SYS_ADMIN) need the privileged profile.
            metadata={"name": MONITORING_NAMESPACE, "labels": {"pod-security.kubernetes.io/enforce": "privileged"}},
            opts=k8s_child,
        )
        namespace_name = namespace.metadata.apply(lambda metadata: metadata["name"])
        in_namespace = k8s_child.merge(pulumi.ResourceOptions(depends_on=[namespace]))

        grafana_secret = self._grafana_admin(name, namespace_name, in_namespace) if args["grafana"] else None
        alertmanager_role_arn = self._alertmanager_role(name, args) if args["alert_sns_topic_arn"] else None
        stack = k8s.helm.v3.Release(
            f"{name}-kube-prometheus-stack",
            name=STACK_RELEASE_NAME,
            namespace=namespace_name,
            **_chart(KUBE_PROMETHEUS_STACK_CHART),
            values=pulumi.Output.all(args["storage_class_name"], alertmanager_role_arn).apply(
                lambda values: with_chart_images(
                    stack_values(args, values[0], values[1]), KUBE_PROMETHEUS_STACK_CHART, args["image_registry"]
                )
            ),
            opts=in_namespace.merge(pulumi.ResourceOptions(depends_on=[grafana_secret] if grafana_secret else [])),
        )
        after_stack = in_namespace.merge(pulumi.ResourceOptions(depends_on=[stack]))

        k8s.helm.v3.Release(
            f"{name}-dcgm-exporter",
            name="dcgm-exporter",
            namespace=namespace_name,
            **_chart(DCGM_EXPORTER_CHART),
            values=dcgm_exporter_values(args["gpu_taint_key"], args["gpu_node_label"]),
            opts=after_stack,
        )

        k8s.apiextensions.CustomResource(
            f"{name}-alert-rules",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata={"name": "vllm-serving", "namespace": namespace_name},
            spec=pulumi.Output.all(*[target["namespace"] for target in args["scrape_targets"]]).apply(
                lambda namespaces: {"groups": rule_groups(args["alerts"], list(namespaces))}
            ),
            opts=after_stack,
        )

        for target in args["scrape_targets"]:
            k8s.apiextensions.CustomResource(
                f"{name}-{target['model']}-pod-monitor",
                api_version="monitoring.coreos.com/v1",
                kind="PodMonitor",
                metadata={"name": "vllm", "namespace": target["namespace"]},
                spec=pulumi.Output.from_input(target["pod_labels"]).apply(pod_monitor_spec),
                opts=after_stack,
            )

        if args["grafana"]:
            serving_namespaces = pulumi.Output.all(*[target["namespace"] for target in args["scrape_targets"]])
            k8s.core.v1.ConfigMap(
                f"{name}-dashboard",
                metadata={"name": "vllm-serving-dashboard", "namespace": namespace_name, "labels": dict(DASHBOARD_LABEL)},
                data=serving_namespaces.apply(
                    lambda namespaces: {"vllm-serving.json": json.dumps(dashboard("vLLM serving", list(namespaces)), indent=1)}
                ),
                opts=in_namespace,
            )

        self.namespace = namespace_name
        self.prometheus_operator = stack
        self.prometheus_url = namespace_name.apply(
            lambda ns: f"http://{STACK_FULLNAME}-prometheus.{ns}.svc.cluster.local:{PROMETHEUS_PORT}"
        )
        self.prometheus_pod_labels = pulumi.Output.from_input(
            {"app.kubernetes.io/name": "prometheus", "prometheus": f"{STACK_FULLNAME}-prometheus"}
        )
        self.register_outputs(
            {
                "namespace": self.namespace,
                "prometheus_url": self.prometheus_url,
                "prometheus_pod_labels": self.prometheus_pod_labels,
            }
        )

    def _alertmanager_role(self, name: str, args: ObservabilityArgs) -> pulumi.Output[str]:
        """IRSA role of Alertmanager's service account: sns:Publish on the one configured topic."""
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-alertmanager",
            assume_role_policy=irsa_trust_json(
                args["oidc_provider_arn"], args["oidc_issuer"], MONITORING_NAMESPACE, ALERTMANAGER_SERVICE_ACCOUNT
            ),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-alertmanager-publish",
            role=role.id,
            policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "sns:Publish", "Resource": args["alert_sns_topic_arn"]}],
                }
            ),
            opts=child,
        )
        return role.arn

    def _grafana_admin(
        self, name: str, namespace_name: pulumi.Output[str], opts: pulumi.ResourceOptions
    ) -> k8s.core.v1.Secret:
        # The chart's default admin password is a published constant; ours is random and never in values or argv.
        password = random.RandomPassword(
            f"{name}-grafana-admin-password", length=32, special=False, opts=pulumi.ResourceOptions(parent=self)
        )
        return k8s.core.v1.Secret(
            f"{name}-grafana-admin",
            metadata={"name": GRAFANA_ADMIN_SECRET, "namespace": namespace_name},
            type="Opaque",
            string_data={"admin-user": "admin", "admin-password": password.result},
            opts=opts,
        )


def _chart(chart: HelmChart) -> dict:
    return {
        "chart": chart.chart,
        "version": chart.version,
        "repository_opts": k8s.helm.v3.RepositoryOptsArgs(repo=chart.repository),
    }


def pod_monitor_spec(pod_labels: dict[str, str]) -> dict:
    """Scrape every vLLM pod of one model, Ready or not: a loading pod shows up as a down target."""
    return {
        "selector": {"matchLabels": dict(pod_labels)},
        "podMetricsEndpoints": [{"port": METRICS_PORT_NAME, "path": METRICS_PATH, "interval": SCRAPE_INTERVAL}],
    }


def alertmanager_config(sns_topic_arn: str | None, region: str) -> dict:
    """Alertmanager's routing: every alert to the SNS topic (resolutions too), pipeline heartbeats to `null`.

    Alertmanager "Configuration" (sns_config: topic_arn, sigv4.region; credentials from the AWS SDK chain, here IRSA).
    """
    null_routes = [{"matchers": [f'alertname = "{alert}"'], "receiver": "null"} for alert in UNPAGED_ALERTS]
    receivers: list[dict] = [{"name": "null"}]
    route: dict = {"group_by": ["alertname", "namespace"], "receiver": "null", "routes": null_routes}
    if sns_topic_arn:
        receivers.append(
            {"name": "sns", "sns_configs": [{"topic_arn": sns_topic_arn, "sigv4": {"region": region}, "send_resolved": True}]}
        )
        route["receiver"] = "sns"
    return {"route": route, "receivers": receivers}


def stack_values(args: ObservabilityArgs, storage_class_name: str, alertmanager_role_arn: str | None = None) -> dict:
    """kube-prometheus-stack values: everything on the system nodes, our rules and monitors selected."""
    on_system = {"nodeSelector": dict(args["system_node_selector"])}
    retention_gib = int(args["storage_gib"] * _RETENTION_SHARE_OF_VOLUME)
    values = {
        "fullnameOverride": STACK_FULLNAME,
        "prometheusOperator": {**on_system, "admissionWebhooks": {"patch": on_system}},
        "prometheus": {
            "prometheusSpec": {
                **on_system,
                "scrapeInterval": SCRAPE_INTERVAL,
                "retention": f"{args['retention_days']}d",
                "retentionSize": f"{retention_gib}GB",
                "storageSpec": {
                    "volumeClaimTemplate": {
                        "spec": {
                            "storageClassName": storage_class_name,
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": f"{args['storage_gib']}Gi"}},
                        }
                    }
                },
                # Select every PodMonitor/ServiceMonitor/PrometheusRule, not only those labelled with this release.
                "podMonitorSelectorNilUsesHelmValues": False,
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "ruleSelectorNilUsesHelmValues": False,
            }
        },
        "alertmanager": {
            "alertmanagerSpec": on_system,
            "config": alertmanager_config(args["alert_sns_topic_arn"], args["region"]),
            "serviceAccount": {
                "annotations": {"eks.amazonaws.com/role-arn": alertmanager_role_arn} if alertmanager_role_arn else {}
            },
        },
        **{component: {"enabled": False} for component in UNREACHABLE_CONTROL_PLANE},
        "defaultRules": {"rules": {group: False for group in UNREACHABLE_CONTROL_PLANE_RULES}},
        "kube-state-metrics": on_system,
        "grafana": {"enabled": args["grafana"]},
    }
    if args["grafana"]:
        values["grafana"] = {
            "enabled": True,
            **on_system,
            "admin": {"existingSecret": GRAFANA_ADMIN_SECRET, "userKey": "admin-user", "passwordKey": "admin-password"},
            "sidecar": {"dashboards": {"enabled": True, "label": next(iter(DASHBOARD_LABEL)), "labelValue": "1"}},
        }
    return values


def dcgm_exporter_values(gpu_taint_key: str, gpu_node_label: str) -> dict:
    """DCGM exporter on GPU nodes only: tolerate their taint, require their label."""
    return {
        "tolerations": [{"key": gpu_taint_key, "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [{"key": gpu_node_label, "operator": "Exists"}]}]
                }
            }
        },
        "serviceMonitor": {"enabled": True, "interval": SCRAPE_INTERVAL},
    }
