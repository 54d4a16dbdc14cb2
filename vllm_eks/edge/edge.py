"""Edge: the only way in. CloudFront + WAF -> API Gateway REST (key check, usage plans) -> VPC Link V2 -> internal
ALB -> one router per model -> that model's vLLM pods.

API Gateway copies the body's `model` into the `x-vllm-model` header; the ALB's listener rule for that header
forwards to the model's target group, whose targets are the model's router pods (TargetGroupBinding, AWS Load
Balancer Controller). An unknown model gets the listener's 404; any path but the inference routes never reaches a
router. docs/request-path.md explains the choice and each hop's timeout (all derived from edge.maxRequestSeconds
by edge_specs.timeout_chain).
"""

import json
from typing import TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from vllm_eks.edge import edge_specs as specs
from vllm_eks.planning.catalog import (
    AWS_LOAD_BALANCER_CONTROLLER_CHART,
    HELM_RELEASE_TIMEOUT_SECONDS,
    VLLM_ROUTER_LIVENESS_PATH,
)
from vllm_eks.edge.edge_api import build_rest_api
from vllm_eks.edge.edge_cdn import distribution, domain_record, web_acl
from vllm_eks.edge.edge_keys import authorizer_function, consumer_keys, origin_verify_secret
from vllm_eks.cluster.image_cache import with_chart_images
from vllm_eks.iam.irsa import irsa_trust_json
from vllm_eks.edge.load_balancer_controller import controller_policy
from vllm_eks.edge.router import ROUTER_NAME, ModelRouter
from vllm_eks.edge.settings import EdgeSettings
from vllm_eks.network.ports import ROUTER_PORT

CONTROLLER_NAMESPACE = "kube-system"
CONTROLLER_SERVICE_ACCOUNT = "aws-load-balancer-controller"


class EdgeModel(TypedDict):
    """One served model, as VllmService created it."""

    name: str
    """The model's short name."""
    served_name: str
    """The name clients send in `model`; the ALB routes on it."""
    namespace: pulumi.Input[str]
    """The model's namespace (VllmService output)."""
    pod_labels: pulumi.Input[dict[str, str]]
    """Labels of the model's vLLM pods (VllmService output)."""


class EdgeArgs(TypedDict):
    edge: EdgeSettings
    """Entry, limits and consumers of the request path."""
    physical_name_prefix: str
    """Prefix of every explicit physical name (Lambda, log groups, REST API, usage plans, WAF metrics). Those names are unique per account and region, so two stacks there need different prefixes: the stack's cluster name."""
    models: list[EdgeModel]
    """The served models, one router and ALB rule each."""
    internal_key_secret_arn: pulumi.Input[str]
    """VLLM's internal key that every served model accepts; the authorizer swaps the consumer's key for it."""
    region: str
    """The Region of the API."""
    vpc_id: pulumi.Input[str]
    """The VPC of the internal ALB and the VPC link."""
    vpc_cidr: str
    """The VPC's range."""
    kubernetes_api_address: str
    """The `kubernetes` Service ClusterIP the routers' discovery client dials."""
    s3_cidrs: pulumi.Input[list[str]]
    """The Region's S3 prefix list CIDRs (vLLM reads weights there)."""
    private_subnet_ids: pulumi.Input[list[str]]
    """Private subnets of the VPC link."""
    load_balancer_subnet_ids: pulumi.Input[list[str]]
    """The internal ALB's own subnets, where nothing else has an address: the routers admit only these."""
    load_balancer_subnet_cidrs: list[str]
    """Ranges of load_balancer_subnet_ids."""
    cluster_name: pulumi.Input[str]
    """The EKS cluster (the AWS Load Balancer Controller's)."""
    oidc_provider_arn: pulumi.Input[str]
    """The cluster's IAM OIDC provider (the controller's IRSA role trusts it)."""
    oidc_issuer: pulumi.Input[str]
    """The OIDC issuer host/path, without https://."""
    node_security_group_ids: list[pulumi.Input[str]]
    """Security groups of the system nodes (router pods)."""
    system_node_selector: dict[str, str]
    """Node labels where the controller and routers run."""
    system_node_group: aws.eks.NodeGroup
    """The controller's pods run there: installed after it, removed before it."""
    router_image: str
    """vllm-router, from the account's ECR (ImageCache)."""
    image_registry: str
    """The account's ECR registry (ImageCache): the controller chart's image is pulled through it."""
    scraper_namespace: pulumi.Input[str]
    """Namespace of the Prometheus that scrapes the routers."""
    scraper_pod_labels: pulumi.Input[dict[str, str]]
    """Labels of the Prometheus pods."""
    prometheus_operator: k8s.helm.v3.Release
    """Observability's kube-prometheus-stack: the PodMonitor CRD."""
    log_retention_days: int
    """Retention of the API's access logs and the authorizer's logs."""


class Edge(pulumi.ComponentResource):
    """CloudFront + WAF, API Gateway REST + authorizer + usage plans, VPC link, internal ALB, AWS Load Balancer Controller,
    a router per model, NetworkPolicies.
    """

    endpoint: pulumi.Output[str]
    """The public HTTPS endpoint of the OpenAI-compatible API."""
    waf_acl_arn: pulumi.Output[str]
    """The WAF web ACL in front of the API."""
    load_balancer_arn_suffix: pulumi.Output[str]
    """The internal ALB's CloudWatch LoadBalancer dimension."""
    target_group_arn_suffixes: pulumi.Output[dict[str, str]]
    """Model name -> CloudWatch TargetGroup dimension."""
    consumer_key_secret_arns: pulumi.Output[dict[str, str]]
    """Consumer name to the Secrets Manager secret holding its API key."""
    dns_record: pulumi.Output[str]
    """What points domainName at the edge: created here, or for you to create."""

    def __init__(self, name: str, args: EdgeArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("vllm-eks:index:Edge", name, None, opts)
        self._name = name
        self._prefix = args["physical_name_prefix"]
        self._child = pulumi.ResourceOptions(parent=self)
        config = args["edge"]
        self._timeouts = specs.timeout_chain(config["max_request_seconds"])
        priorities = specs.listener_rule_priorities([model["served_name"] for model in args["models"]])

        load_balancer, listener, target_groups = self._load_balancer(args, priorities)
        controller = self._load_balancer_controller(args, target_groups)
        for model in args["models"]:
            ModelRouter(
                f"{name}-{model['name']}-router",
                {
                    "model_name": model["name"],
                    "image": args["router_image"],
                    "namespace": model["namespace"],
                    "vllm_pod_labels": model["pod_labels"],
                    "target_group_arn": target_groups[model["name"]].arn,
                    "timeouts": self._timeouts,
                    "system_node_selector": args["system_node_selector"],
                    "alb_subnet_cidrs": args["load_balancer_subnet_cidrs"],
                    "vpc_cidr": args["vpc_cidr"],
                    "kubernetes_api_address": args["kubernetes_api_address"],
                    "s3_cidrs": args["s3_cidrs"],
                    "scraper_namespace": args["scraper_namespace"],
                    "scraper_pod_labels": args["scraper_pod_labels"],
                    "controller": controller,
                    "prometheus_operator": args["prometheus_operator"],
                },
                opts=self._child,
            )

        origin = origin_verify_secret(name, self._child) if config["cloudfront"] else None
        origin_secret = origin[0] if origin else None
        authorizer = authorizer_function(name, self._prefix, self._child, args["internal_key_secret_arn"],
                                         args["log_retention_days"], origin[1] if origin else None)
        api, stage = build_rest_api(
            self,
            name,
            {
                "served_names": [model["served_name"] for model in args["models"]],
                "load_balancer_arn": load_balancer.arn,
                "load_balancer_dns_name": load_balancer.dns_name,
                "listener": listener,
                "vpc_link_subnet_ids": args["private_subnet_ids"],
                "vpc_link_security_group_id": self._vpc_link_group.id,
                "authorizer_function": authorizer,
                "origin_verify": origin_secret is not None,
                "timeouts": self._timeouts,
                "log_retention_days": args["log_retention_days"],
                "physical_name_prefix": self._prefix,
                "manage_api_gateway_account": config["manage_api_gateway_account"],
            },
        )
        self.consumer_key_secret_arns = consumer_keys(name, self._prefix, self._child, config, api, stage)

        scope = "CLOUDFRONT" if config["cloudfront"] else "REGIONAL"
        acl = web_acl(self, name, self._prefix, config, scope)
        if origin_secret is not None:  # exactly when config["cloudfront"]
            cdn = distribution(self, name, config, api, stage, acl, origin_secret, args["region"], self._timeouts)
            domain = config.get("domain_name") or None
            self.endpoint = cdn.domain_name.apply(lambda host: f"https://{domain or host}/v1")
            self.dns_record = domain_record(self, name, config, cdn)
        else:
            aws.wafv2.WebAclAssociation(
                f"{name}-waf-association", resource_arn=stage.arn, web_acl_arn=acl.arn, opts=self._child
            )
            self.endpoint = stage.invoke_url.apply(lambda url: f"{url.rstrip('/')}/v1")
            self.dns_record = pulumi.Output.from_input("none: the API Gateway stage URL is the endpoint")

        self.waf_acl_arn = acl.arn
        self.load_balancer_arn_suffix = load_balancer.arn_suffix
        self.target_group_arn_suffixes = pulumi.Output.all(
            **{model_name: group.arn_suffix for model_name, group in target_groups.items()}
        )
        self.register_outputs(
            {
                "endpoint": self.endpoint,
                "waf_acl_arn": self.waf_acl_arn,
                "load_balancer_arn_suffix": self.load_balancer_arn_suffix,
                "target_group_arn_suffixes": self.target_group_arn_suffixes,
                "consumer_key_secret_arns": self.consumer_key_secret_arns,
                "dns_record": self.dns_record,
            }
        )

    # --- internal ALB, target group per model ---------------------------------------------------------------------

    def _load_balancer(self, args: EdgeArgs, priorities: dict[str, int]):
        name, child, timeouts = self._name, self._child, self._timeouts
        link_group = aws.ec2.SecurityGroup(
            f"{name}-vpc-link",
            vpc_id=args["vpc_id"],
            description="API Gateway VPC link: may only reach the internal ALB",
            tags={"Name": f"{name}-vpc-link"},
            opts=child,
        )
        self._vpc_link_group = link_group
        alb_group = aws.ec2.SecurityGroup(
            f"{name}-alb",
            vpc_id=args["vpc_id"],
            description="Internal ALB: requests only from the API Gateway VPC link",
            ingress=[
                {
                    "protocol": "tcp",
                    "from_port": specs.LISTENER_PORT,
                    "to_port": specs.LISTENER_PORT,
                    "security_groups": [link_group.id],
                    "description": "API Gateway VPC link",
                }
            ],
            egress=[
                {
                    "protocol": "tcp",
                    "from_port": ROUTER_PORT,
                    "to_port": ROUTER_PORT,
                    "cidr_blocks": [args["vpc_cidr"]],
                    "description": "router pods (VPC CNI addresses)",
                }
            ],
            tags={"Name": f"{name}-alb"},
            opts=child,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-vpc-link-to-alb",
            security_group_id=link_group.id,
            referenced_security_group_id=alb_group.id,
            ip_protocol="tcp",
            from_port=specs.LISTENER_PORT,
            to_port=specs.LISTENER_PORT,
            description="internal ALB listener",
            opts=child,
        )
        for index, node_group_id in enumerate(args["node_security_group_ids"]):
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-alb-to-routers-{index}",
                security_group_id=node_group_id,
                referenced_security_group_id=alb_group.id,
                ip_protocol="tcp",
                from_port=ROUTER_PORT,
                to_port=ROUTER_PORT,
                description="internal ALB to router pods",
                opts=child,
            )
        load_balancer = aws.lb.LoadBalancer(
            f"{name}-alb",
            internal=True,
            load_balancer_type="application",
            subnets=args["load_balancer_subnet_ids"],
            security_groups=[alb_group.id],
            idle_timeout=timeouts.alb_idle_seconds,
            drop_invalid_header_fields=True,
            enable_deletion_protection=False,
            tags={"Name": f"{name}-alb"},
            opts=child,
        )
        listener = aws.lb.Listener(
            f"{name}-listener",
            load_balancer_arn=load_balancer.arn,
            port=specs.LISTENER_PORT,
            protocol="HTTP",
            default_actions=[
                {
                    "type": "fixed-response",
                    "fixed_response": {
                        "status_code": "404",
                        "content_type": "application/json",
                        "message_body": specs.model_not_found_body(),
                    },
                }
            ],
            opts=child,
        )
        target_groups = {}
        for model in args["models"]:
            group = aws.lb.TargetGroup(
                f"{name}-{model['name']}",
                vpc_id=args["vpc_id"],
                target_type="ip",
                protocol="HTTP",
                port=ROUTER_PORT,
                deregistration_delay=timeouts.deregistration_delay_seconds,
                health_check={
                    # The router process, never its workers: one bad vLLM replica must not empty the target group.
                    "path": VLLM_ROUTER_LIVENESS_PATH,
                    "port": "traffic-port",
                    "matcher": "200",
                    "interval": 10,
                    "healthy_threshold": 2,
                    "unhealthy_threshold": 3,
                },
                tags={"vllm-eks:model": model["name"]},
                opts=child,
            )
            aws.lb.ListenerRule(
                f"{name}-{model['name']}",
                listener_arn=listener.arn,
                priority=priorities[model["served_name"]],
                conditions=specs.listener_rule_conditions(model["served_name"]),
                transforms=specs.stage_prefix_rewrite(),
                actions=[{"type": "forward", "target_group_arn": group.arn}],
                opts=child,
            )
            target_groups[model["name"]] = group
        return load_balancer, listener, target_groups

    def _load_balancer_controller(self, args: EdgeArgs, target_groups: dict) -> k8s.helm.v3.Release:
        """The controller only registers router pod IPs in the target groups above (TargetGroupBinding)."""
        name, child = self._name, self._child
        role = aws.iam.Role(
            f"{name}-lb-controller",
            assume_role_policy=irsa_trust_json(
                args["oidc_provider_arn"], args["oidc_issuer"], CONTROLLER_NAMESPACE, CONTROLLER_SERVICE_ACCOUNT
            ),
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-lb-controller",
            role=role.id,
            policy=pulumi.Output.all(*[group.arn for group in target_groups.values()]).apply(
                lambda arns: json.dumps(controller_policy(list(arns)))
            ),
            opts=child,
        )
        return k8s.helm.v3.Release(
            f"{name}-lb-controller",
            chart=AWS_LOAD_BALANCER_CONTROLLER_CHART.chart,
            version=AWS_LOAD_BALANCER_CONTROLLER_CHART.version,
            repository_opts={"repo": AWS_LOAD_BALANCER_CONTROLLER_CHART.repository},
            namespace=CONTROLLER_NAMESPACE,
            values=with_chart_images({
                "clusterName": args["cluster_name"],
                "region": args["region"],
                "vpcId": args["vpc_id"],
                "replicaCount": 2,
                "nodeSelector": args["system_node_selector"],
                "serviceAccount": {
                    "create": True,
                    "name": CONTROLLER_SERVICE_ACCOUNT,
                    "annotations": {"eks.amazonaws.com/role-arn": role.arn},
                },
                # Binding only: no IngressClass, and Services of type LoadBalancer are not turned into NLBs.
                "createIngressClassResource": False,
                "enableServiceMutatorWebhook": False,
                # Its pod webhook fails closed in every readiness-gate namespace: only router pods need the gate, so
                # only they go through it, and a controller outage never blocks a vLLM pod (scale-up) there.
                "objectSelector": {"matchLabels": {"app.kubernetes.io/name": ROUTER_NAME}},
            }, AWS_LOAD_BALANCER_CONTROLLER_CHART, args["image_registry"]),
            # Explicit, like every release here: Helm's 300 s default is short for nodes still joining.
            timeout=HELM_RELEASE_TIMEOUT_SECONDS,
            # Its permissions outlive it on `pulumi destroy`: target-group deregistration runs to the end.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[policy, args["system_node_group"]]
            ),
        )
