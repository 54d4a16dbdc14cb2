"""VllmService: one model served by vLLM on its own GPU nodes, hardened, with its API key kept out of sight.

Per model: a namespace (Pod Security `restricted`), the `vllm-server` ServiceAccount bound to the model's
read role (IRSA), the stack's internal API key as a Kubernetes Secret mounted as a file (InternalApiKey), the
Deployment, a ClusterIP Service on 8000 and a PodDisruptionBudget. The namespace's NetworkPolicies (default
deny; vLLM's port open only to the model's router and the metrics scraper) come with the edge's ModelRouter,
which owns both ends of those flows (vllm_eks/network/network_policies.py).

Draining nodes: the PDB keeps `minAvailable: 1`. With two or more replicas, a drain (or Karpenter's
disruption) evicts one pod at a time while the others serve. A single-replica stack (dev) cannot be drained
voluntarily: the eviction is refused for as long as the PDB would be violated. Drain such a node by first
scaling the Deployment to two replicas (the Deployment's maxSurge brings up the second pod on a fresh node;
once it is Ready the old one may be evicted), then scaling back; or accept the gap and delete the pod. Spot
interruptions are not voluntary: Karpenter cordons and drains within the two-minute notice regardless.

Graceful stop: preStop waits PRE_STOP_SECONDS while endpoints stop routing new requests, then vLLM drains
in-flight requests for `--shutdown-timeout` seconds; terminationGracePeriodSeconds covers both plus a margin.
"""

from typing import TypedDict, cast

import pulumi
import pulumi_kubernetes as k8s

from vllm_eks.planning.catalog import AWS_CLI_IMAGE, VLLM_IMAGE
from vllm_eks.cluster.image_cache import cached_image
from vllm_eks.serving.engine_args import engine_arguments
from vllm_eks.planning.serving_plan import ServingPlan
from vllm_eks.serving.vllm_pod import (
    API_KEY_SECRET_KEY,
    API_KEY_SECRET_NAME,
    SERVICE_ACCOUNT_NAME,
    deployment_spec,
    disruption_budget_spec,
    fetch_container,
    pod_labels,
    service_spec,
    synced_model_dir,
)
from vllm_eks.serving.served_model import ServedModel


class VllmServiceArgs(TypedDict):
    """One configured model, its capacity plan, and where its weights and cluster are."""

    model: ServedModel
    """The model and how vLLM serves it."""
    plan: ServingPlan
    """The capacity planner's result for the model (vllm_eks.planning.serving_plan)."""
    namespace: str
    """The model's own namespace; its read role trusts <namespace>:vllm-server only."""
    read_role_arn: pulumi.Input[str]
    """The model's IRSA read role (ModelStore)."""
    bucket_name: pulumi.Input[str]
    """The weights bucket (ModelStore)."""
    region: str
    """The Region of the weights bucket."""
    api_key: pulumi.Input[str]
    """The stack's internal key (InternalApiKey), mounted as a file, never in env or argv."""
    shutdown_timeout_seconds: int
    """VLLM's drain of in-flight requests: the longest request the edge allows."""
    image_registry: str
    """The account's ECR registry (ImageCache): every image is pulled through it."""


class VllmService(pulumi.ComponentResource):
    """Per model: namespace (Pod Security `restricted`), service account, Deployment sized by the capacity planner,
    Service, PDB, the key mounted as a file.
    """

    namespace: pulumi.Output[str]
    """The model's namespace."""
    service_name: pulumi.Output[str]
    """The ClusterIP Service in front of the vLLM pods (port 8000)."""
    deployment_name: pulumi.Output[str]
    """The vLLM Deployment (the autoscaler's target)."""
    pod_labels: pulumi.Output[dict[str, str]]
    """Labels of the vLLM pods (routers and scrapers select them)."""

    def __init__(self, name: str, args: VllmServiceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("vllm-eks:index:VllmService", name, None, opts)
        model, plan = args["model"], args["plan"]
        k8s_child = pulumi.ResourceOptions(parent=self)
        labels = pod_labels(model["name"])

        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={
                "name": args["namespace"],
                "labels": {
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/warn": "restricted",
                    "pod-security.kubernetes.io/audit": "restricted",
                },
            },
            opts=k8s_child,
        )
        namespace_name = namespace.metadata.apply(lambda metadata: metadata["name"])
        in_namespace = k8s_child.merge(pulumi.ResourceOptions(depends_on=[namespace]))

        service_account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata={
                "name": SERVICE_ACCOUNT_NAME,
                "namespace": namespace_name,
                "labels": dict(labels),
                "annotations": {"eks.amazonaws.com/role-arn": args["read_role_arn"]},
            },
            automount_service_account_token=False,
            opts=in_namespace,
        )

        api_key = k8s.core.v1.Secret(
            f"{name}-api-key",
            metadata={"name": API_KEY_SECRET_NAME, "namespace": namespace_name, "labels": dict(labels)},
            type="Opaque",
            string_data={API_KEY_SECRET_KEY: args["api_key"]},
            opts=in_namespace,
        )

        streamed = model["load_format"] == "runai_streamer"
        model_location = (
            pulumi.Output.concat("s3://", args["bucket_name"], "/", model["model_prefix"])
            if streamed
            else pulumi.Output.from_input(synced_model_dir(model["name"]))
        )
        engine_args = model_location.apply(
            lambda location: engine_arguments(
                model, plan, model_location=location, shutdown_timeout_seconds=args["shutdown_timeout_seconds"]
            )
        )
        adapters = [(adapter["name"], adapter["s3_prefix"]) for adapter in model["lora_adapters"]]
        fetch = (
            fetch_container(
                model_name=model["name"],
                image=cached_image(AWS_CLI_IMAGE, args["image_registry"]),
                bucket_name=args["bucket_name"],
                sync_prefix=None if streamed else model["model_prefix"],
                adapters=adapters,
                region=args["region"],
            )
            if adapters or not streamed
            else None
        )
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={"name": f"vllm-{model['name']}", "namespace": namespace_name, "labels": dict(labels)},
            # camelCase manifests (kubernetes-validate checks them in the tests); the SDK's snake_case ArgsDicts
            # cannot describe them.
            spec=cast(k8s.apps.v1.DeploymentSpecArgsDict, deployment_spec(
                model_name=model["name"],
                image=cached_image(model.get("image") or VLLM_IMAGE, args["image_registry"]),
                engine_args=engine_args,
                plan=plan,
                capacity_type=model["capacity_type"],
                min_replicas=model["min_replicas"],
                startup_budget_seconds=model["startup_budget_seconds"],
                shutdown_timeout_seconds=args["shutdown_timeout_seconds"],
                region=args["region"],
                fetch=fetch,
            )),
            opts=in_namespace.merge(
                pulumi.ResourceOptions(
                    depends_on=[api_key, service_account],
                    # The autoscaler owns the replica count once the Deployment exists.
                    ignore_changes=["spec.replicas"],
                    # A GPU node, a multi-GB image and the model load can outlast Pulumi's 10-minute default.
                    custom_timeouts=pulumi.CustomTimeouts(create="40m", update="40m"),
                )
            ),
        )
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": f"vllm-{model['name']}", "namespace": namespace_name, "labels": dict(labels)},
            spec=cast(k8s.core.v1.ServiceSpecArgsDict, service_spec(model["name"])),
            opts=in_namespace,
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-disruption-budget",
            metadata={"name": f"vllm-{model['name']}", "namespace": namespace_name, "labels": dict(labels)},
            spec=cast(k8s.policy.v1.PodDisruptionBudgetSpecArgsDict, disruption_budget_spec(model["name"])),
            opts=in_namespace,
        )

        self.namespace = namespace_name
        self.service_name = service.metadata.apply(lambda metadata: metadata["name"])
        self.deployment_name = deployment.metadata.apply(lambda metadata: metadata["name"])
        self.pod_labels = pulumi.Output.from_input(labels)
        self.register_outputs(
            {
                "namespace": self.namespace,
                "service_name": self.service_name,
                "deployment_name": self.deployment_name,
                "pod_labels": self.pod_labels,
            }
        )
