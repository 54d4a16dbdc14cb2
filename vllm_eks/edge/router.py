"""ModelRouter: one vllm-router per model, in the model's namespace, bound to the model's ALB target group.

Why one router per model (docs/request-path.md): vllm-router 0.1.17 in plain mode ignores `model`, and its IGW
mode needs an unauthenticated admin API and still misroutes a model with no worker. So the ALB picks the model
(listener rule on the `x-vllm-model` header API Gateway fills from the body) and each router only ever knows the
pods of its own model: it discovers them with `--service-discovery` (a Role to get/list/watch pods in this one
namespace) and balances with power-of-two-choices on its own in-flight counts. No worker registration API is
used; the router's admin routes are unreachable because the ALB forwards only the /v1 inference paths and the
NetworkPolicy admits only the ALB's subnets and the metrics scraper.

With no ready vLLM pod (dev at zero), the router answers 503 at once; nothing is held.
"""

from typing import Any, TypedDict, cast

import pulumi
import pulumi_kubernetes as k8s

from vllm_eks.planning.catalog import (
    POD_READINESS_GATE_LABEL,
    VLLM_ROUTER_HEALTH_CHECK_INTERVAL_SECONDS,
    VLLM_ROUTER_LIVENESS_PATH,
    VLLM_ROUTER_POLICY,
)
from vllm_eks.edge.edge_specs import TimeoutChain
from vllm_eks.network.network_policies import serving_namespace_policies
from vllm_eks.network.ports import ROUTER_METRICS_PORT, ROUTER_PORT, VLLM_PORT

ROUTER_NAME = "vllm-router"
ROUTER_RUN_AS_UID = 10001
ROUTER_REPLICAS = 2  # two pods on the system nodes, a PDB keeps one through drains
# Measured: about 80 MB RSS and a fraction of a core per router (FACTS, vllm-router 0.1.17); the limits bound a
# runaway without throttling a busy one.
ROUTER_RESOURCES = {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}
# Where in-cluster clients (kube-rs, client-go) read the service-account credentials.
SERVICE_ACCOUNT_DIRECTORY = "/var/run/secrets/kubernetes.io/serviceaccount"
# Kubelet's own automount rotates tokens of this lifetime (Kubernetes docs, "Managing Service Accounts":
# bound service account token volume, expirationSeconds 3607).
API_TOKEN_SECONDS = 3607
# The policies serving_namespace_policies returns, in order (resource names).
NETWORK_POLICY_ROLES = ("default-deny", "vllm-from-router", "router-from-alb")


def router_labels(model_name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": ROUTER_NAME, "app.kubernetes.io/instance": model_name}


def router_args(namespace: str, vllm_pod_labels: dict[str, str], timeouts: TimeoutChain) -> list[str]:
    """vllm-router's command line: plain mode, workers = this namespace's ready vLLM pods, request id passthrough."""
    selector = [f"{key}={value}" for key, value in sorted(vllm_pod_labels.items())]
    return [
        "--host", "0.0.0.0",
        "--port", str(ROUTER_PORT),
        "--policy", VLLM_ROUTER_POLICY,
        "--service-discovery",
        "--selector", *selector,
        "--service-discovery-port", str(VLLM_PORT),
        "--service-discovery-namespace", namespace,
        "--request-id-headers", "x-request-id",
        "--request-timeout-secs", str(timeouts.router_request_seconds),
        "--health-check-interval-secs", str(VLLM_ROUTER_HEALTH_CHECK_INTERVAL_SECONDS),
        "--prometheus-host", "0.0.0.0",
        "--prometheus-port", str(ROUTER_METRICS_PORT),
        "--log-level", "info",
    ]  # fmt: skip


def deployment_spec(
    model_name: str,
    image: str,
    namespace: str,
    vllm_pod_labels: dict[str, str],
    timeouts: TimeoutChain,
    system_node_selector: dict[str, str],
) -> dict[str, Any]:
    labels = router_labels(model_name)
    # Both probes ask for the router process alone (/liveness). Not /health: it fails when any one worker does, and
    # would restart every router of the model at once. Not /readiness either: it fails with zero workers, and a
    # model at zero must keep a Ready router behind the ALB (it answers 503 at once, and the ALB's request count
    # is what wakes the model up); a rollout at zero would never finish.
    probe = {"httpGet": {"path": VLLM_ROUTER_LIVENESS_PATH, "port": "http"}, "periodSeconds": 5, "timeoutSeconds": 2}
    return {
        "replicas": ROUTER_REPLICAS,
        "selector": {"matchLabels": labels},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "serviceAccountName": ROUTER_NAME,
                # Only the router container talks to the Kubernetes API (service discovery): it gets the token
                # through the projected volume below, nothing else in the pod does.
                "automountServiceAccountToken": False,
                "nodeSelector": dict(system_node_selector),
                "topologySpreadConstraints": [
                    {
                        "maxSkew": 1,
                        "topologyKey": "topology.kubernetes.io/zone",
                        "whenUnsatisfiable": "ScheduleAnyway",
                        "labelSelector": {"matchLabels": labels},
                    }
                ],
                # The ALB keeps streaming through a deregistering pod for the deregistration delay.
                "terminationGracePeriodSeconds": timeouts.router_termination_grace_seconds,
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": ROUTER_RUN_AS_UID,
                    "runAsGroup": ROUTER_RUN_AS_UID,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "containers": [
                    {
                        "name": "router",
                        "image": image,
                        "imagePullPolicy": "IfNotPresent",
                        "command": ["vllm-router"],
                        "args": router_args(namespace, vllm_pod_labels, timeouts),
                        "ports": [
                            {"name": "http", "containerPort": ROUTER_PORT, "protocol": "TCP"},
                            {"name": "metrics", "containerPort": ROUTER_METRICS_PORT, "protocol": "TCP"},
                        ],
                        "readinessProbe": probe,
                        "livenessProbe": {**probe, "failureThreshold": 6},
                        "lifecycle": {"preStop": {"sleep": {"seconds": 15}}},
                        "resources": ROUTER_RESOURCES,
                        "securityContext": {
                            "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]},
                        },
                        "volumeMounts": [
                            {"name": "tmp", "mountPath": "/tmp"},
                            {"name": "kube-api-access", "mountPath": SERVICE_ACCOUNT_DIRECTORY, "readOnly": True},
                        ],
                    }
                ],
                "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}, kube_api_access_volume()],
            },
        },
    }


def kube_api_access_volume() -> dict[str, Any]:
    """What automountServiceAccountToken would mount (token, cluster CA, namespace), as an explicit projected volume
    (Kubernetes docs, "Managing Service Accounts", bound service account token volume)."""
    return {
        "name": "kube-api-access",
        "projected": {
            "defaultMode": 0o444,
            "sources": [
                {"serviceAccountToken": {"path": "token", "expirationSeconds": API_TOKEN_SECONDS}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
            ],
        },
    }


def discovery_role_rules() -> list[k8s.rbac.v1.PolicyRuleArgsDict]:
    """Read-only access to pods, in the model's namespace only (a Role, not a ClusterRole)."""
    return [{"api_groups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]


def target_group_binding_spec(service_name: str, target_group_arn: str) -> dict[str, Any]:
    return {
        "serviceRef": {"name": service_name, "port": ROUTER_PORT},
        "targetGroupARN": target_group_arn,
        "targetType": "ip",
    }


class ModelRouterArgs(TypedDict):
    """One model's router: where the model's pods are and which target group the ALB sends its requests to."""

    model_name: str
    image: str  # vllm-router, from the account's ECR (ImageCache)
    namespace: pulumi.Input[str]  # the model's namespace (VllmService)
    vllm_pod_labels: pulumi.Input[dict[str, str]]
    target_group_arn: pulumi.Input[str]
    timeouts: TimeoutChain
    system_node_selector: dict[str, str]
    alb_subnet_cidrs: list[str]
    vpc_cidr: str
    kubernetes_api_address: str
    s3_cidrs: pulumi.Input[list[str]]  # the region's S3 prefix list: vLLM's weights come from there
    scraper_namespace: pulumi.Input[str]
    scraper_pod_labels: pulumi.Input[dict[str, str]]
    controller: pulumi.Resource  # the AWS Load Balancer Controller release (TargetGroupBinding CRD, webhooks)
    prometheus_operator: k8s.helm.v3.Release  # kube-prometheus-stack (the PodMonitor CRD)


class ModelRouter(pulumi.ComponentResource):
    service_name: pulumi.Output[str]

    def __init__(self, name: str, args: ModelRouterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("vllm-eks:index:ModelRouter", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        after_controller = child.merge(pulumi.ResourceOptions(depends_on=[args["controller"]]))
        model_name = args["model_name"]
        labels = router_labels(model_name)
        namespace = pulumi.Output.from_input(args["namespace"])
        vllm_labels = pulumi.Output.from_input(args["vllm_pod_labels"])

        # New router pods get the ALB readiness gate: a rollout waits until the ALB sees them healthy.
        gate_key, gate_value = POD_READINESS_GATE_LABEL
        readiness_gate = k8s.core.v1.NamespacePatch(
            f"{name}-readiness-gate",
            metadata={"name": namespace, "labels": {gate_key: gate_value}},
            opts=after_controller,
        )
        account = k8s.core.v1.ServiceAccount(
            f"{name}-account", metadata={"name": ROUTER_NAME, "namespace": namespace, "labels": labels}, opts=child
        )
        role = k8s.rbac.v1.Role(
            f"{name}-discovery",
            metadata={"name": f"{ROUTER_NAME}-discovery", "namespace": namespace, "labels": labels},
            rules=discovery_role_rules(),
            opts=child,
        )
        k8s.rbac.v1.RoleBinding(
            f"{name}-discovery",
            metadata={"name": f"{ROUTER_NAME}-discovery", "namespace": namespace, "labels": labels},
            role_ref={"api_group": "rbac.authorization.k8s.io", "kind": "Role", "name": f"{ROUTER_NAME}-discovery"},
            subjects=[{"kind": "ServiceAccount", "name": ROUTER_NAME, "namespace": namespace}],
            opts=child.merge(pulumi.ResourceOptions(depends_on=[role, account])),
        )
        policies = pulumi.Output.all(
            namespace, vllm_labels, args["scraper_namespace"], args["scraper_pod_labels"], args["s3_cidrs"]
        ).apply(
            lambda values: serving_namespace_policies(
                values[0],
                values[1],
                labels,
                args["alb_subnet_cidrs"],
                args["vpc_cidr"],
                args["kubernetes_api_address"],
                values[4],
                values[2],
                values[3],
            )
        )
        for index, role_name in enumerate(NETWORK_POLICY_ROLES):
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{role_name}", metadata=policies[index]["metadata"], spec=policies[index]["spec"], opts=child
            )
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={"name": ROUTER_NAME, "namespace": namespace, "labels": labels},
            # A camelCase manifest (checked against the Kubernetes schema by kubernetes-validate in the tests), which the
            # SDK's snake_case DeploymentSpecArgsDict cannot describe.
            spec=cast(
                pulumi.Output[k8s.apps.v1.DeploymentSpecArgsDict],
                pulumi.Output.all(namespace, vllm_labels).apply(
                    lambda values: deployment_spec(
                        model_name, args["image"], values[0], values[1], args["timeouts"], args["system_node_selector"]
                    )
                ),
            ),
            opts=after_controller.merge(pulumi.ResourceOptions(depends_on=[readiness_gate, account])),
        )
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": ROUTER_NAME, "namespace": namespace, "labels": labels},
            spec={
                "type": "ClusterIP",
                "selector": labels,
                "ports": [{"name": "http", "port": ROUTER_PORT, "target_port": "http", "protocol": "TCP"}],
            },
            opts=child,
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata={"name": ROUTER_NAME, "namespace": namespace, "labels": labels},
            spec={"min_available": 1, "selector": {"match_labels": labels}},
            opts=child,
        )
        k8s.apiextensions.CustomResource(
            f"{name}-target-group-binding",
            api_version="elbv2.k8s.aws/v1beta1",
            kind="TargetGroupBinding",
            metadata={"name": ROUTER_NAME, "namespace": namespace, "labels": labels},
            spec=pulumi.Output.from_input(args["target_group_arn"]).apply(
                lambda arn: target_group_binding_spec(ROUTER_NAME, arn)
            ),
            opts=after_controller.merge(pulumi.ResourceOptions(depends_on=[service, deployment])),
        )
        k8s.apiextensions.CustomResource(
            f"{name}-pod-monitor",
            api_version="monitoring.coreos.com/v1",
            kind="PodMonitor",
            metadata={"name": ROUTER_NAME, "namespace": namespace, "labels": labels},
            spec={
                "selector": {"matchLabels": labels},
                "podMetricsEndpoints": [{"port": "metrics", "path": "/metrics"}],
            },
            opts=child.merge(pulumi.ResourceOptions(depends_on=[args["prometheus_operator"]])),
        )
        self.service_name = service.metadata.apply(lambda metadata: metadata["name"])
        self.register_outputs({"service_name": self.service_name})
