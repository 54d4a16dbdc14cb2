"""vLLM on an EKS cluster you already run: weights, servers, autoscaling and monitoring from the vllm-eks library.

The cluster brings Karpenter GPU NodePools named `gpu-on-demand` / `gpu-spot` (GPU nodes tainted
`nvidia.com/gpu=true:NoSchedule`), a node group for controllers (`systemNodeSelector`), an IAM OIDC provider and a
StorageClass; this program adds the rest, up to an authenticated, rate-limited public API (Edge: CloudFront + WAF,
API Gateway, a VPC link to an internal ALB in your VPC, a router per model, the namespaces' NetworkPolicies).
Config keys: see Pulumi.dev.yaml.
"""

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from vllm_eks.autoscaling import Autoscaling
from vllm_eks.cluster import ImageCache
from vllm_eks.cluster.image_cache import cached_image
from vllm_eks.edge import Edge
from vllm_eks.model_store import ModelStore
from vllm_eks.model_store.model_sync import staging_gib
from vllm_eks.observability import Observability
from vllm_eks.network.network import kubernetes_api_service_address
from vllm_eks.planning.catalog import ALB_CLOUDWATCH_NAMESPACE, ALB_REQUEST_COUNT_METRIC, MODELS, VLLM_ROUTER_IMAGE
from vllm_eks.planning.serving_plan import serving_plan
from vllm_eks.planning.sizing import fit_problem, plan_capacity
from vllm_eks.serving import InternalApiKey, VllmService

config = pulumi.Config()
region = pulumi.Config("aws").require("region")
cluster_name = config.require("clusterName")
oidc_provider_arn = config.require("oidcProviderArn")
# arn:aws:iam::<account>:oidc-provider/<issuer host/path>: IRSA trust policies name the issuer without https://.
oidc_issuer = oidc_provider_arn.split(":oidc-provider/", 1)[-1]
system_node_selector: dict[str, str] = config.require_object("systemNodeSelector")
caller = aws.get_caller_identity()

models = config.require_object("models")
plans = {}
for index, model in enumerate(models):
    if model["catalogModel"] not in MODELS:
        raise pulumi.RunError(f"models[{index}].catalogModel: got {model['catalogModel']!r}, expected one of {', '.join(sorted(MODELS))}")
    plan = plan_capacity(model_name=model["name"], catalog_model=model["catalogModel"], instance_type=model["instanceType"],
                         max_model_len=model["maxModelLen"], gpu_memory_utilization=model.get("gpuMemoryUtilization", 0.92))
    if problem := fit_problem(plan):
        raise pulumi.RunError(f"models[{index}]: {problem}")
    plans[model["name"]] = plan

on_cluster = pulumi.ResourceOptions(providers=[k8s.Provider("cluster", kubeconfig=config.require_secret("kubeconfig"))])
images = ImageCache("images", {"region": region, "account_id": caller.account_id,
                               "docker_hub_credentials_secret_name": config.require("dockerHubCredentialsSecretName"),
                               "github_credentials_secret_name": config.require("githubCredentialsSecretName")})
namespaces = {model["name"]: f"vllm-{model['name']}" for model in models}
store = ModelStore("models", {
    "models": [{"name": model["name"], "prefix": f"models/{model['name']}", "namespace": namespaces[model["name"]],
                "service_account": "vllm-server", "hugging_face_id": None, "sync": False,
                "sync_staging_gib": staging_gib(plans[model["name"]].weight_bytes)} for model in models],
    "oidc_provider_arn": oidc_provider_arn, "oidc_issuer": oidc_issuer, "region": region,
    "hugging_face_token_secret_name": None, "sync_node_selector": system_node_selector,
    "image_registry": images.registry_host,
}, opts=on_cluster)
key = InternalApiKey("internal-api-key", {"secret_name": f"{cluster_name}/vllm/api-key"})
services = {
    model["name"]: VllmService(f"vllm-{model['name']}", {
        "model": {"name": model["name"], "served_name": model.get("servedName", model["name"]),
                  "catalog_model": model["catalogModel"], "model_prefix": f"models/{model['name']}", "dtype": "auto",
                  "gpu_memory_utilization": model.get("gpuMemoryUtilization", 0.92),
                  "max_model_len": model["maxModelLen"], "load_format": "runai_streamer", "lora_adapters": [],
                  "capacity_type": "on-demand", "min_replicas": model["minReplicas"], "startup_budget_seconds": 600},
        "plan": serving_plan(plans[model["name"]]), "namespace": namespaces[model["name"]],
        "read_role_arn": store.read_role_arns[model["name"]], "bucket_name": store.bucket_name, "region": region,
        "api_key": key.value, "shutdown_timeout_seconds": 300, "image_registry": images.registry_host,
    }, opts=on_cluster)
    for model in models
}
observability = Observability("observability", {
    "retention_days": 15, "storage_gib": 50, "storage_class_name": config.require("storageClassName"),
    "alert_sns_topic_arn": config.get("alertSnsTopicArn"), "oidc_provider_arn": oidc_provider_arn,
    "oidc_issuer": oidc_issuer, "region": region, "grafana": True,
    "alerts": {"ttft_p95_seconds": 2.0, "kv_cache_usage_ratio": 0.9, "requests_waiting": 20, "error_ratio": 0.05},
    "scrape_targets": [{"model": name, "namespace": service.namespace, "pod_labels": service.pod_labels}
                       for name, service in services.items()],
    "system_node_selector": system_node_selector, "gpu_taint_key": "nvidia.com/gpu",
    "gpu_node_label": "karpenter.k8s.aws/instance-gpu-count", "image_registry": images.registry_host,
}, opts=on_cluster)
vpc, edge_config = config.require_object("vpc"), config.require_object("edge")
edge = Edge("edge", {
    "edge": {"cloudfront": edge_config.get("cloudfront", True), "domain_name": edge_config.get("domainName"),
             "certificate_arn": edge_config.get("certificateArn"), "hosted_zone_id": edge_config.get("hostedZoneId"),
             "max_request_seconds": edge_config.get("maxRequestSeconds", 170), "max_body_kib": 64,
             "rate_limit_per_key_5min": 2000, "rate_limit_per_ip_5min": 5000,
             "consumers": [{"name": consumer["name"], "requests_per_second": consumer["requestsPerSecond"],
                            "burst": consumer["burst"], "key_version": consumer.get("keyVersion", 1)}
                           for consumer in edge_config["consumers"]],
             "manage_api_gateway_account": edge_config.get("manageApiGatewayAccount", True)},
    "physical_name_prefix": cluster_name,
    "models": [{"name": name, "served_name": service_model["servedName"] if "servedName" in service_model else name,
                "namespace": services[name].namespace, "pod_labels": services[name].pod_labels}
               for name, service_model in ((model["name"], model) for model in models)],
    "internal_key_secret_arn": key.secret_arn, "region": region, "vpc_id": vpc["id"], "vpc_cidr": vpc["cidr"],
    "kubernetes_api_address": kubernetes_api_service_address(vpc["serviceCidr"]),
    "s3_cidrs": aws.ec2.get_managed_prefix_list_output(name=f"com.amazonaws.{region}.s3").entries.apply(
        lambda entries: sorted(entry.cidr for entry in entries)),
    "private_subnet_ids": vpc["privateSubnetIds"],
    "load_balancer_subnet_ids": [subnet["id"] for subnet in vpc["loadBalancerSubnets"]],
    "load_balancer_subnet_cidrs": [subnet["cidr"] for subnet in vpc["loadBalancerSubnets"]],
    "cluster_name": cluster_name, "oidc_provider_arn": oidc_provider_arn, "oidc_issuer": oidc_issuer,
    "node_security_group_ids": vpc["nodeSecurityGroupIds"], "system_node_selector": system_node_selector,
    "system_node_group": aws.eks.NodeGroup.get("system-nodes", f"{cluster_name}:{config.require('systemNodeGroupName')}"),
    "router_image": cached_image(VLLM_ROUTER_IMAGE, images.registry_host),
    "scraper_namespace": observability.namespace, "scraper_pod_labels": observability.prometheus_pod_labels,
    "prometheus_operator": observability.prometheus_operator, "log_retention_days": 30,
    "image_registry": images.registry_host,
}, opts=on_cluster)

Autoscaling("autoscaling", {
    "region": region, "oidc_provider_arn": oidc_provider_arn, "oidc_issuer": oidc_issuer,
    "prometheus_url": observability.prometheus_url,
    "policy": {"queue_threshold_per_replica": 10, "polling_interval_seconds": 15, "scale_down_window_seconds": 300,
               "scale_up_window_seconds": 0, "fallback_replicas": 1},
    "working_hours": None,
    "models": [{"model": model["name"], "served_model_name": model.get("servedName", model["name"]),
                "namespace": services[model["name"]].namespace, "deployment_name": services[model["name"]].deployment_name,
                "min_replicas": model["minReplicas"], "max_replicas": model["maxReplicas"],
                "on_demand_replicas": model["minReplicas"], "wake_up": None} for model in models],
    "system_node_selector": system_node_selector, "image_registry": images.registry_host,
}, opts=on_cluster)

# Your node roles import images through the cache rules on a first pull: attach this policy to them.
pulumi.export("nodeImageImportPolicy", images.node_import_policy)
pulumi.export("modelBucket", store.bucket_name)
pulumi.export("services", {name: service.service_name for name, service in services.items()})
pulumi.export("prometheusUrl", observability.prometheus_url)
pulumi.export("apiEndpoint", edge.endpoint)
pulumi.export("consumerKeySecretArns", edge.consumer_key_secret_arns)
