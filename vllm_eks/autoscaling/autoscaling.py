"""Autoscaling: KEDA scales each model's Deployment on queue depth; Karpenter turns Pending pods into GPU nodes.

The chain an operator reasons about, with the stack's default numbers:
  requests queue in vLLM (`vllm:num_requests_waiting`, scraped every 15 s)
  → KEDA polls Prometheus every `pollingIntervalSeconds` (15 s) and the HPA asks for ceil(waiting / threshold)
    replicas (threshold 10 per replica), scaling up at once (window 0 s, up to doubling every 15 s)
  → new pods are Pending until Karpenter launches a GPU node (3-5 min: EC2 start, Bottlerocket boot, image pull)
  → vLLM loads the weights (within the model's startup budget, 300 s by default) and turns Ready.
  Down: after 300 s of calm the HPA removes one replica a minute (stabilisation window); the last step to zero
  (dev) waits the same 300 s (`cooldownPeriod`). Karpenter then removes the emptied node.

On-demand baseline, Spot burst: the cluster's Karpenter pools are `gpu-on-demand` (higher weight, its GPU limit is
the on-demand baseline) and `gpu-spot` (lower weight). Karpenter fills the heavier pool first, so the first
`onDemandReplicas` replicas land on on-demand nodes and only replicas above that (up to `maxReplicas`) land on Spot,
where an interruption costs burst capacity, never the floor. The ScaledObject keeps `minReplicaCount` at or below
the baseline and `maxReplicaCount` at the configured maximum; a scale-down may remove an on-demand replica first,
whose emptied node Karpenter then removes, and the next scale-up refills the on-demand pool before Spot.

Scale from zero (dev): vLLM has no series while no pod runs, so the first request of the day must come from the
edge. The `aws-cloudwatch` trigger reads the model's target-group request count with the KEDA operator's own IRSA
role; any request activates the Deployment. During that cold start (CloudWatch delay 1-2 min, node 3-5 min, model
load) the client gets the router's prompt 503 (no `Retry-After`, see docs/request-path.md), nothing is held; the
working-hours cron trigger keeps the baseline warm on workdays so this is the exception, not the rule.
"""

import json
from typing import Any, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from vllm_eks.planning.catalog import KEDA_CHART, VLLM_REQUESTS_WAITING
from vllm_eks.cluster.image_cache import with_chart_images
from vllm_eks.iam.irsa import irsa_trust_json
from vllm_eks.autoscaling.scaled_object import (
    SCALED_OBJECT_API_VERSION,
    ScaleTarget,
    ScalingPolicy,
    WakeUpMetric,
    WorkingHours,
    scaled_object,
    trigger_authentication,
)

KEDA_NAMESPACE = "keda"
KEDA_OPERATOR_SERVICE_ACCOUNT = "keda-operator"
WAKE_UP_AUTHENTICATION = "keda-operator-aws"


class WakeUpSource(TypedDict):
    """The edge's CloudWatch metric that counts one model's requests (e.g. ALB RequestCount per target group)."""

    namespace: str
    """CloudWatch namespace, e.g. AWS/ApplicationELB."""
    metric_name: str
    """CloudWatch metric, e.g. RequestCount."""
    dimensions: dict[str, pulumi.Input[str]]
    """The metric's dimensions, e.g. LoadBalancer and TargetGroup."""


class ScaledModel(TypedDict):
    model: str
    """The model's config name, for resource names."""
    served_model_name: str
    """The served name (vLLM's model_name label)."""
    namespace: pulumi.Input[str]
    """The model's namespace (VllmService output)."""
    deployment_name: pulumi.Input[str]
    """The vLLM Deployment to scale (VllmService output)."""
    min_replicas: int
    """Fewest replicas; 0 lets the model sleep outside working hours."""
    max_replicas: int
    """Most replicas."""
    on_demand_replicas: int
    """Replicas kept on on-demand capacity during working hours."""
    wake_up: WakeUpSource | None
    """The edge metric that wakes the model; required when min_replicas is 0."""


class AutoscalingArgs(TypedDict):
    region: str
    """The Region of the wake-up metrics."""
    oidc_provider_arn: pulumi.Input[str]
    """The cluster's IAM OIDC provider (IRSA for the KEDA operator)."""
    oidc_issuer: pulumi.Input[str]
    """The OIDC issuer host/path, without https://."""
    prometheus_url: pulumi.Input[str]
    """Prometheus inside the cluster (Observability output)."""
    policy: ScalingPolicy
    """Queue threshold, polling, windows and fallback shared by every model."""
    working_hours: WorkingHours | None
    """When on-demand replicas are held; absent for always."""
    models: list[ScaledModel]
    """One ScaledObject per model."""
    system_node_selector: dict[str, str]
    """Node labels where KEDA's pods run (the system nodes)."""
    image_registry: str
    """The account's ECR registry (ImageCache): the chart's images are pulled through it."""


class Autoscaling(pulumi.ComponentResource):
    """KEDA (Helm), a ScaledObject per model, the working-hours cron and the wake-up trigger."""

    keda_role_arn: pulumi.Output[str | None]
    """The KEDA operator's IRSA role (only when a model wakes from zero)."""
    scaled_object_names: pulumi.Output[dict[str, str]]
    """Model name to its ScaledObject."""

    def __init__(self, name: str, args: AutoscalingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("vllm-eks:index:Autoscaling", name, None, opts)
        problems = missing_wake_up_signals(args["models"])
        if problems:
            raise pulumi.RunError("\n".join(problems))
        k8s_child = pulumi.ResourceOptions(parent=self)
        needs_cloudwatch = any(model["wake_up"] is not None for model in args["models"])

        role = self._operator_role(name, args) if needs_cloudwatch else None
        namespace = k8s.core.v1.Namespace(f"{name}-namespace", metadata={"name": KEDA_NAMESPACE}, opts=k8s_child)
        keda = k8s.helm.v3.Release(
            f"{name}-keda",
            name="keda",
            namespace=namespace.metadata.apply(lambda metadata: metadata["name"]),
            chart=KEDA_CHART.chart,
            version=KEDA_CHART.version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=KEDA_CHART.repository),
            values=with_chart_images(
                keda_values(args["system_node_selector"], role.arn if role else None), KEDA_CHART, args["image_registry"]
            ),
            opts=k8s_child.merge(pulumi.ResourceOptions(depends_on=[namespace])),
        )
        after_keda = k8s_child.merge(pulumi.ResourceOptions(depends_on=[keda]))

        names: dict[str, pulumi.Output[str]] = {}
        for model in args["models"]:
            wake_up = model["wake_up"]
            authentication = None
            if wake_up is not None:
                authentication = k8s.apiextensions.CustomResource(
                    f"{name}-{model['model']}-trigger-authentication",
                    **_custom("TriggerAuthentication", pulumi.Output.from_input(model["namespace"]).apply(
                        lambda ns: trigger_authentication(WAKE_UP_AUTHENTICATION, ns)
                    )),
                    opts=after_keda,
                )
            manifest = pulumi.Output.all(
                namespace=model["namespace"],
                deployment=model["deployment_name"],
                prometheus_url=args["prometheus_url"],
                dimensions=pulumi.Output.from_input(wake_up["dimensions"] if wake_up else {}),
            ).apply(lambda resolved, model=model: _scaled_object(resolved, model, args))
            scaler = k8s.apiextensions.CustomResource(
                f"{name}-{model['model']}-scaled-object",
                **_custom("ScaledObject", manifest),
                opts=after_keda.merge(pulumi.ResourceOptions(depends_on=[keda, *filter(None, [authentication])])),
            )
            names[model["model"]] = pulumi.Output.all(scaler.urn, manifest).apply(lambda values: values[1]["metadata"]["name"])

        self.keda_role_arn = role.arn if role else pulumi.Output.from_input(None)
        self.scaled_object_names = pulumi.Output.all(**names) if names else pulumi.Output.from_input({})
        self.register_outputs({"keda_role_arn": self.keda_role_arn, "scaled_object_names": self.scaled_object_names})

    def _operator_role(self, name: str, args: AutoscalingArgs) -> aws.iam.Role:
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-keda-operator",
            assume_role_policy=irsa_trust_json(
                args["oidc_provider_arn"], args["oidc_issuer"], KEDA_NAMESPACE, KEDA_OPERATOR_SERVICE_ACCOUNT
            ),
            description="KEDA operator (IRSA): reads the edge's CloudWatch request counts to wake models from zero",
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-keda-operator-cloudwatch",
            role=role.id,
            policy=json.dumps(cloudwatch_read_policy()),
            opts=child,
        )
        return role


def missing_wake_up_signals(models: list[ScaledModel]) -> list[str]:
    """One line per model that could sit at zero with nothing to start its first pod."""
    return [
        f"models[{model['model']}].minReplicas: got 0, expected >= 1 unless the edge provides a wake-up metric "
        "(vLLM has no series while no pod runs, so nothing else could start the first one)"
        for model in models
        if model["min_replicas"] == 0 and model["wake_up"] is None
    ]


def cloudwatch_read_policy() -> dict[str, Any]:
    """GetMetricData has no resource-level permissions, so it is granted on `*`; it can only read metrics."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["cloudwatch:GetMetricData"], "Resource": "*"}],
    }


def keda_values(system_node_selector: dict[str, str], operator_role_arn: pulumi.Input[str] | None) -> dict[str, Any]:
    # The chart's default pull policy is Always: every restart would ask the registry again.
    values: dict[str, Any] = {"nodeSelector": dict(system_node_selector), "image": {"pullPolicy": "IfNotPresent"}}
    if operator_role_arn is not None:
        values["podIdentity"] = {"aws": {"irsa": {"enabled": True, "roleArn": operator_role_arn}}}
    return values


def _scaled_object(resolved: dict[str, Any], model: ScaledModel, args: AutoscalingArgs) -> dict[str, Any]:
    target: ScaleTarget = {
        "name": resolved["deployment"],
        "namespace": resolved["namespace"],
        "deployment_name": resolved["deployment"],
        "served_model_name": model["served_model_name"],
        "min_replicas": model["min_replicas"],
        "max_replicas": model["max_replicas"],
        "on_demand_replicas": model["on_demand_replicas"],
        "prometheus_url": resolved["prometheus_url"],
    }
    source = model["wake_up"]
    wake_up: WakeUpMetric | None = None
    if source is not None:
        wake_up = {
            "namespace": source["namespace"],
            "metric_name": source["metric_name"],
            "dimensions": resolved["dimensions"],
            "region": args["region"],
            "authentication_name": WAKE_UP_AUTHENTICATION,
        }
    return scaled_object(target, args["policy"], VLLM_REQUESTS_WAITING, args["working_hours"], wake_up)


def _custom(kind: str, manifest: pulumi.Output[dict[str, Any]]) -> dict[str, Any]:
    return {
        "api_version": SCALED_OBJECT_API_VERSION,
        "kind": kind,
        "metadata": manifest.apply(lambda m: m["metadata"]),
        "spec": manifest.apply(lambda m: m["spec"]),
    }
