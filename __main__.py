"""vllm-eks: load and validate the stack config once, compose the components, export a few outputs."""

import pulumi
import pulumi_aws as aws
from pulumi.runtime.config import CONFIG, get_config_env

from vllm_eks.autoscaling.autoscaling import Autoscaling
from vllm_eks.planning.catalog import VLLM_ROUTER_IMAGE
from vllm_eks.cluster.cluster_addons import ClusterAddons
from vllm_eks.planning.catalog import ALB_CLOUDWATCH_NAMESPACE, ALB_REQUEST_COUNT_METRIC
from vllm_eks.edge.edge import Edge
from vllm_eks.cluster.gpu_cluster import SYSTEM_NODE_LABEL, GpuCluster
from vllm_eks.iam.principals import is_same_principal
from vllm_eks.cluster.image_cache import ImageCache, cached_image
from vllm_eks.serving.internal_api_key import InternalApiKey
from vllm_eks.cluster.karpenter import on_demand_gpus
from vllm_eks.model_store.model_store import ModelStore
from vllm_eks.model_store.model_sync import staging_gib
from vllm_eks.network.network import Network, kubernetes_api_service_address, kubernetes_service_cidr, plan_subnets
from vllm_eks.observability.observability import Observability
from vllm_eks.serving.vllm_service import VllmService
from vllm_eks.planning.serving_plan import serving_plan
from program_args import edge_settings, served_model
from stack_checks import check_stack
from stack_config import StackConfigError, foreign_account_errors, project_sections

region = pulumi.Config("aws").require("region")
try:
    # Every `vllm-eks:*` key, known or not (a misspelt section must not be silently dropped): the language host passes
    # config in PULUMI_CONFIG, mocks and the Automation API set it in-process (pulumi/runtime/config.py). Then sizing (resolves
    # `instanceType: auto`, rejects models that cannot fit) and start-up budgets, all reported in one error.
    checked = check_stack(project_sections({**get_config_env(), **CONFIG.get()}))
except StackConfigError as error:
    raise pulumi.RunError(str(error)) from None
config, capacity_plans = checked.config, checked.capacity_plans
caller = aws.get_caller_identity()
foreign = foreign_account_errors(config, caller.account_id)
if foreign:
    raise pulumi.RunError("\n".join(foreign))

if config.cluster.deployer_route() is None:
    # Not an error: a runner inside the new VPC (a later `pulumi up`) reaches the private endpoint as it is.
    pulumi.log.warn(
        "cluster: the endpoint is private and no deployer network is named, so a first `pulumi up` from outside the "
        "VPC cannot reach Kubernetes: set cluster.endpointPublicAccess: true with publicAccessCidrs [<your address>/32], "
        "or cluster.deployerCidrs / cluster.deployerSecurityGroupIds (README, First deploy and destroy)"
    )

stack = pulumi.get_stack()
cluster_name = f"vllm-eks-{stack}"

network = Network(
    "network",
    {
        "cidr": config.network.cidr,
        "availability_zone_count": config.network.availability_zones,
        "nat_gateways": config.network.nat_gateways,
        "interface_endpoints": list(config.network.interface_endpoints),
        "flow_log_retention_days": config.network.flow_log_retention_days,
        "cluster_name": cluster_name,
        "region": region,
    },
)

# Every image the stack runs is pulled through the account's ECR (pull-through cache), never anonymously upstream.
image_cache = ImageCache(
    "images",
    {
        "region": region,
        "account_id": caller.account_id,
        "docker_hub_credentials_secret_name": config.cluster.docker_hub_credentials_secret_name,
        "github_credentials_secret_name": config.cluster.github_credentials_secret_name,
    },
)

# --- GPU cluster and model weights ------------------------------------------------------------------------------------
# EKS already gives the principal that creates the cluster an admin access entry (pulumi-eks keeps EKS's
# bootstrapClusterCreatorAdminPermissions); a second entry for the same principal would fail with ResourceInUse.
admin_principal_arn = config.cluster.admin_principal_arn
if admin_principal_arn and is_same_principal(admin_principal_arn, caller.arn):
    pulumi.log.info(f"cluster.adminPrincipalArn {admin_principal_arn} is the deploying principal: EKS already admits it")
    admin_principal_arn = None
# Every model's serving namespace and service account, computed once (VllmService uses the same values).
model_namespaces = {model.name: f"vllm-{model.name}" for model in config.models}
service_cidr = kubernetes_service_cidr(config.network.cidr)
MODEL_SERVICE_ACCOUNT = "vllm-server"
gpu_cluster = GpuCluster(
    "cluster",
    {
        "cluster_name": cluster_name,
        "version": config.cluster.version,
        "vpc_id": network.vpc_id,
        "private_subnet_ids": network.private_subnet_ids,
        "service_cidr": service_cidr,
        "endpoint_public_access": config.cluster.endpoint_public_access,
        "public_access_cidrs": list(config.cluster.public_access_cidrs),
        "deployer_cidrs": list(config.cluster.deployer_cidrs),
        "deployer_security_group_ids": list(config.cluster.deployer_security_group_ids),
        "admin_principal_arn": admin_principal_arn,
        "log_retention_days": config.observability.log_retention_days,
        "system_nodes": {
            "instance_types": list(config.cluster.system_nodes.instance_types),
            "min_size": config.cluster.system_nodes.min_size,
            "desired_size": config.cluster.system_nodes.desired_size,
            "max_size": config.cluster.system_nodes.max_size,
        },
        "gpu_ami_family": config.cluster.gpu_ami_family,
        "gpu_node_volume_gib": config.cluster.gpu_node_volume_gib,
        "gpu_instance_types": sorted({plan.instance_type for plan in capacity_plans.values()}),
        "max_gpus": config.cluster.max_gpus,
        "on_demand_gpu_limit": sum(
            on_demand_gpus(model.capacity_type, model.max_replicas, model.on_demand_replicas, capacity_plans[model.name].gpu_count)
            for model in config.models
        ),
        "region": region,
        "node_image_import_policy": image_cache.node_import_policy,
        "image_registry": image_cache.registry_host,
    },
)
# Kubernetes children reach the cluster through the components' `providers` option (inherited by every child, as a
# provider-hosted component gets it from another language's `providers: {kubernetes: ...}`).
on_cluster = pulumi.ResourceOptions(providers=[gpu_cluster.k8s_provider])
model_store = ModelStore(
    "models",
    {
        "models": [
            {
                "name": model.name,
                "prefix": model.model_prefix,
                "namespace": model_namespaces[model.name],
                "service_account": MODEL_SERVICE_ACCOUNT,
                "hugging_face_id": model.hugging_face_id,
                "sync": model.sync_from_hugging_face,
                "sync_staging_gib": staging_gib(capacity_plans[model.name].weight_bytes),
                "adapter_prefixes": [adapter.s3_prefix for adapter in model.lora_adapters],
            }
            for model in config.models
        ],
        "oidc_provider_arn": gpu_cluster.oidc_provider_arn,
        "oidc_issuer": gpu_cluster.oidc_issuer,
        "region": region,
        "hugging_face_token_secret_name": config.cluster.hugging_face_token_secret_name,
        "sync_node_selector": {SYSTEM_NODE_LABEL[0]: SYSTEM_NODE_LABEL[1]},
        "image_registry": image_cache.registry_host,
    },
    opts=on_cluster,
)

# --- vLLM: one hardened, self-sized server per model ---------------------------------------------------------------
system_node_selector = {SYSTEM_NODE_LABEL[0]: SYSTEM_NODE_LABEL[1]}
internal_key = InternalApiKey("internal-api-key", {"secret_name": f"{cluster_name}/vllm/api-key"})
vllm_services = {
    model.name: VllmService(
        f"vllm-{model.name}",
        {
            "model": served_model(model),
            "plan": serving_plan(capacity_plans[model.name]),
            "namespace": model_namespaces[model.name],
            "read_role_arn": model_store.read_role_arns[model.name],
            "bucket_name": model_store.bucket_name,
            "region": region,
            "api_key": internal_key.value,
            # vLLM drains in-flight requests on SIGTERM for as long as the edge lets one request run.
            "shutdown_timeout_seconds": config.edge.max_request_seconds,
            "image_registry": image_cache.registry_host,
        },
        opts=on_cluster,
    )
    for model in config.models
}

cluster_addons = ClusterAddons(
    "addons",
    {
        "cluster_name": gpu_cluster.cluster_name,
        "oidc_provider_arn": gpu_cluster.oidc_provider_arn,
        "oidc_issuer": gpu_cluster.oidc_issuer,
        "system_node_group": gpu_cluster.system_node_group,
    },
    opts=on_cluster,
)

# --- metrics, alerts and dashboard ----------------------------------------------------------------------------------
alerts = config.observability.alerts
observability = Observability(
    "observability",
    {
        "retention_days": config.observability.prometheus_retention_days,
        "storage_gib": config.observability.prometheus_storage_gib,
        "storage_class_name": cluster_addons.storage_class_name,
        "alert_sns_topic_arn": config.observability.alerting.sns_topic_arn,
        "oidc_provider_arn": gpu_cluster.oidc_provider_arn,
        "oidc_issuer": gpu_cluster.oidc_issuer,
        "region": region,
        "grafana": config.observability.grafana,
        "alerts": {
            "ttft_p95_seconds": alerts.ttft_p95_seconds,
            "kv_cache_usage_ratio": alerts.kv_cache_usage_ratio,
            "requests_waiting": alerts.requests_waiting,
            "error_ratio": alerts.error_ratio,
        },
        "scrape_targets": [
            {"model": name, "namespace": service.namespace, "pod_labels": service.pod_labels}
            for name, service in vllm_services.items()
        ],
        "system_node_selector": system_node_selector,
        "gpu_taint_key": "nvidia.com/gpu",
        "gpu_node_label": "karpenter.k8s.aws/instance-gpu-count",
        "image_registry": image_cache.registry_host,
    },
    opts=on_cluster,
)

# --- the request path: CloudFront + WAF -> API Gateway -> VPC link -> internal ALB -> router per model -> vLLM ---------
edge = Edge(
    "edge",
    {
        "edge": edge_settings(config.edge),
        "physical_name_prefix": cluster_name,
        "models": [
            {
                "name": model.name,
                "served_name": model.served_name,
                "namespace": vllm_services[model.name].namespace,
                "pod_labels": vllm_services[model.name].pod_labels,
            }
            for model in config.models
        ],
        "internal_key_secret_arn": internal_key.secret_arn,
        "region": region,
        "vpc_id": network.vpc_id,
        "vpc_cidr": config.network.cidr,
        "kubernetes_api_address": kubernetes_api_service_address(service_cidr),
        "s3_cidrs": aws.ec2.get_managed_prefix_list_output(name=f"com.amazonaws.{region}.s3").entries.apply(
            lambda entries: sorted(entry.cidr for entry in entries)
        ),
        "private_subnet_ids": network.private_subnet_ids,
        "load_balancer_subnet_ids": network.load_balancer_subnet_ids,
        "load_balancer_subnet_cidrs": plan_subnets(config.network.cidr, config.network.availability_zones).load_balancer,
        "cluster_name": gpu_cluster.cluster_name,
        "oidc_provider_arn": gpu_cluster.oidc_provider_arn,
        "oidc_issuer": gpu_cluster.oidc_issuer,
        "node_security_group_ids": [gpu_cluster.node_security_group_id],
        "system_node_selector": system_node_selector,
        "system_node_group": gpu_cluster.system_node_group,
        "router_image": cached_image(VLLM_ROUTER_IMAGE, image_cache.registry_host),
        "image_registry": image_cache.registry_host,
        "scraper_namespace": observability.namespace,
        "scraper_pod_labels": observability.prometheus_pod_labels,
        "prometheus_operator": observability.prometheus_operator,
        "log_retention_days": config.observability.log_retention_days,
    },
    opts=on_cluster,
)

# --- autoscaling: KEDA on queue depth (and the edge's request count to wake a model at zero) ---------------------------
scaling, working_hours = config.autoscaling, config.autoscaling.working_hours
Autoscaling(
    "autoscaling",
    {
        "region": region,
        "oidc_provider_arn": gpu_cluster.oidc_provider_arn,
        "oidc_issuer": gpu_cluster.oidc_issuer,
        "prometheus_url": observability.prometheus_url,
        "policy": {
            "queue_threshold_per_replica": scaling.queue_threshold_per_replica,
            "polling_interval_seconds": scaling.polling_interval_seconds,
            "scale_down_window_seconds": scaling.scale_down_window_seconds,
            "scale_up_window_seconds": scaling.scale_up_window_seconds,
            "fallback_replicas": scaling.fallback_replicas,
        },
        "working_hours": (
            {"timezone": working_hours.timezone, "start": working_hours.start, "end": working_hours.end}
            if working_hours
            else None
        ),
        "models": [
            {
                "model": model.name,
                "served_model_name": model.served_name,
                "namespace": vllm_services[model.name].namespace,
                "deployment_name": vllm_services[model.name].deployment_name,
                "min_replicas": model.min_replicas,
                "max_replicas": model.max_replicas,
                "on_demand_replicas": model.on_demand_replicas,
                "wake_up": {
                    "namespace": ALB_CLOUDWATCH_NAMESPACE,
                    "metric_name": ALB_REQUEST_COUNT_METRIC,
                    "dimensions": {
                        "LoadBalancer": edge.load_balancer_arn_suffix,
                        "TargetGroup": edge.target_group_arn_suffixes.apply(lambda suffixes, name=model.name: suffixes[name]),
                    },
                }
                if model.min_replicas == 0
                else None,
            }
            for model in config.models
        ],
        "system_node_selector": system_node_selector,
        "image_registry": image_cache.registry_host,
    },
    opts=on_cluster,
)

STACK_OUTPUTS = {
    "vpcId": network.vpc_id,
    "privateSubnetIds": network.private_subnet_ids,
    "availabilityZones": network.availability_zones,
    "clusterName": gpu_cluster.cluster_name,
    "kubeconfig": gpu_cluster.kubeconfig,
    "modelBucket": model_store.bucket_name,
    "apiEndpoint": edge.endpoint,
    "consumerKeySecretArns": edge.consumer_key_secret_arns,
    "dnsRecord": edge.dns_record,
    "edgeLoadBalancerArnSuffix": edge.load_balancer_arn_suffix,
    "edgeTargetGroupArnSuffixes": edge.target_group_arn_suffixes,
}
for output_name, value in STACK_OUTPUTS.items():
    pulumi.export(output_name, value)
