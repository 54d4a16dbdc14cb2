"""Edge: the only way in. CloudFront + WAF -> API Gateway REST (key check, usage plans) -> VPC Link V2 -> internal
ALB -> one router per model -> that model's vLLM pods.

API Gateway copies the body's `model` into the `x-vllm-model` header; the ALB's listener rule for that header
forwards to the model's target group, whose targets are the model's router pods (TargetGroupBinding, AWS Load
Balancer Controller). An unknown model gets the listener's 404; any path but the inference routes never reaches a
router. docs/request-path.md explains the choice and each hop's timeout (all derived from edge.maxRequestSeconds
by edge_specs.timeout_chain).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from components import edge_specs as specs
from components.catalog import (
    AUTHORIZER_LAMBDA_RUNTIME,
    AWS_LOAD_BALANCER_CONTROLLER_CHART,
    HELM_RELEASE_TIMEOUT_SECONDS,
    VLLM_ROUTER_LIVENESS_PATH,
)
from components.edge_api import build_rest_api
from components.edge_cdn import distribution, domain_record, web_acl
from components.iam_documents import service_trust_policy
from components.image_cache import with_chart_images
from components.irsa import irsa_trust_json
from components.load_balancer_controller import controller_policy
from components.router import ROUTER_NAME, ModelRouter
from stack_config import EdgeConfig

AUTHORIZER_SOURCE = Path(__file__).resolve().parent.parent / "lambdas" / "authorizer"
CONTROLLER_NAMESPACE = "kube-system"
CONTROLLER_SERVICE_ACCOUNT = "aws-load-balancer-controller"


class EdgeModel(TypedDict):
    """One served model, as VllmService created it."""

    name: str
    served_name: str
    namespace: pulumi.Input[str]
    pod_labels: pulumi.Input[dict[str, str]]


class EdgeArgs(TypedDict):
    edge: EdgeConfig
    # Prefix of every explicit physical name (Lambda, log groups, REST API, usage plans, WAF metrics). Those names are
    # unique per account and region, so two stacks there need different prefixes: the stack's cluster name.
    physical_name_prefix: str
    models: list[EdgeModel]
    # vLLM's internal key that every served model accepts; the authorizer swaps the consumer's key for it.
    internal_key_secret_arn: pulumi.Input[str]
    region: str
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    kubernetes_api_address: str  # the `kubernetes` Service ClusterIP the routers' discovery client dials
    s3_cidrs: pulumi.Input[list[str]]  # the region's S3 prefix list CIDRs (vLLM reads weights there)
    private_subnet_ids: pulumi.Input[list[str]]
    # The internal ALB's own subnets, where nothing else has an address: the routers admit only these.
    load_balancer_subnet_ids: pulumi.Input[list[str]]
    load_balancer_subnet_cidrs: list[str]
    cluster_name: pulumi.Input[str]
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    node_security_group_ids: list[pulumi.Input[str]]  # security groups of the system nodes (router pods)
    system_node_selector: dict[str, str]
    system_node_group: pulumi.Resource  # the controller's pods run there: installed after it, removed before it
    router_image: str  # vllm-router, from the account's ECR (ImageCache)
    image_registry: str  # the account's ECR registry (ImageCache): the controller chart's image is pulled through it
    k8s_provider: k8s.Provider
    scraper_namespace: pulumi.Input[str]
    scraper_pod_labels: pulumi.Input[dict[str, str]]
    monitoring: pulumi.Resource  # the Observability component (Prometheus operator CRDs, the scraper)
    log_retention_days: int


class Edge(pulumi.ComponentResource):
    endpoint: pulumi.Output[str]
    waf_acl_arn: pulumi.Output[str]
    load_balancer_arn_suffix: pulumi.Output[str]
    target_group_arn_suffixes: pulumi.Output[dict[str, str]]  # model name -> CloudWatch TargetGroup dimension
    consumer_key_secret_arns: pulumi.Output[dict[str, str]]
    dns_record: pulumi.Output[str]  # what points domainName at the edge: created here, or for you to create

    def __init__(self, name: str, args: EdgeArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("vllm-eks:index:Edge", name, None, opts)
        self._name = name
        self._prefix = args["physical_name_prefix"]
        self._child = pulumi.ResourceOptions(parent=self)
        config = args["edge"]
        self._timeouts = specs.timeout_chain(config.max_request_seconds)
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
                    "k8s_provider": args["k8s_provider"],
                    "controller": controller,
                    "monitoring": args["monitoring"],
                },
                opts=self._child,
            )

        origin_secret = self._origin_verify_secret() if config.cloudfront else None
        authorizer_function = self._authorizer_function(args, origin_secret)
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
                "authorizer_function": authorizer_function,
                "origin_verify": origin_secret is not None,
                "timeouts": self._timeouts,
                "log_retention_days": args["log_retention_days"],
                "physical_name_prefix": self._prefix,
                "manage_api_gateway_account": config.manage_api_gateway_account,
            },
        )
        self.consumer_key_secret_arns = self._consumers(config, api, stage)

        scope = "CLOUDFRONT" if config.cloudfront else "REGIONAL"
        acl = web_acl(self, name, self._prefix, config, scope)
        if origin_secret is not None:  # exactly when config.cloudfront
            cdn = distribution(self, name, config, api, stage, acl, origin_secret, args["region"], self._timeouts)
            domain = config.domain_name or None
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
                    "from_port": specs.ROUTER_PORT,
                    "to_port": specs.ROUTER_PORT,
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
                from_port=specs.ROUTER_PORT,
                to_port=specs.ROUTER_PORT,
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
                port=specs.ROUTER_PORT,
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
                parent=self, provider=args["k8s_provider"], depends_on=[policy, args["system_node_group"]]
            ),
        )

    # --- Lambda REQUEST authorizer --------------------------------------------------------------------------------

    def _origin_verify_secret(self) -> random.RandomPassword:
        """The header value CloudFront adds and the authorizer requires (kept in Secrets Manager)."""
        name, child = self._name, self._child
        value = random.RandomPassword(f"{name}-origin-verify", length=48, special=False, opts=child)
        secret = aws.secretsmanager.Secret(
            f"{name}-origin-verify",
            description="CloudFront -> API Gateway origin-verify header value (read by the authorizer)",
            recovery_window_in_days=7,
            opts=child,
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-origin-verify", secret_id=secret.id, secret_string=value.result, opts=child
        )
        self._origin_secret_arn = secret.arn
        return value

    def _authorizer_function(self, args: EdgeArgs, origin_secret) -> aws.lambda_.Function:
        name, child = self._name, self._child
        readable = [args["internal_key_secret_arn"]] + ([self._origin_secret_arn] if origin_secret else [])
        role = aws.iam.Role(
            f"{name}-authorizer",
            assume_role_policy=json.dumps(service_trust_policy("lambda.amazonaws.com")),
            opts=child,
        )
        function_name = f"{self._prefix}-authorizer"
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-authorizer", name=f"/aws/lambda/{function_name}", retention_in_days=args["log_retention_days"], opts=child
        )
        aws.iam.RolePolicy(
            f"{name}-authorizer",
            role=role.id,
            policy=pulumi.Output.all(log_group.arn, *readable).apply(
                lambda values: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                                "Resource": f"{values[0]}:*",
                            },
                            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": list(values[1:])},
                        ],
                    }
                )
            ),
            opts=child,
        )
        environment = {"INTERNAL_KEY_SECRET_ARN": args["internal_key_secret_arn"]}
        if origin_secret:
            environment["ORIGIN_VERIFY_SECRET_ARN"] = self._origin_secret_arn
        return aws.lambda_.Function(
            f"{name}-authorizer",
            name=function_name,
            runtime=AUTHORIZER_LAMBDA_RUNTIME,
            handler="handler.handler",
            code=pulumi.FileArchive(str(AUTHORIZER_SOURCE)),
            role=role.arn,
            timeout=5,
            memory_size=256,
            environment={"variables": environment},
            logging_config={"log_format": "Text", "log_group": log_group.name},
            opts=child.merge(pulumi.ResourceOptions(depends_on=[log_group])),
        )

    # --- API Gateway REST ---------------------------------------------------------------------------------------

    def _consumers(self, config: EdgeConfig, api, stage) -> pulumi.Output[dict[str, str]]:
        """One key, secret and usage plan per consumer; bumping keyVersion replaces the key (rotation)."""
        name, child = self._name, self._child
        secret_arns = {}
        for consumer in config.consumers:
            prefix = f"{name}-consumer-{consumer.name}"
            physical = f"{self._prefix}-consumer-{consumer.name}"
            key_value = random.RandomPassword(
                prefix, length=48, special=False, keepers={"keyVersion": str(consumer.key_version)}, opts=child
            )
            secret = aws.secretsmanager.Secret(
                prefix,
                description=f"API key of consumer {consumer.name} (Authorization: Bearer <key>)",
                recovery_window_in_days=7,
                opts=child,
            )
            aws.secretsmanager.SecretVersion(prefix, secret_id=secret.id, secret_string=key_value.result, opts=child)
            key = aws.apigateway.ApiKey(
                prefix, name=f"{physical}-v{consumer.key_version}", value=key_value.result, enabled=True, opts=child
            )
            plan = aws.apigateway.UsagePlan(
                prefix,
                name=physical,
                api_stages=[{"api_id": api.id, "stage": stage.stage_name}],
                throttle_settings={"rate_limit": consumer.requests_per_second, "burst_limit": consumer.burst},
                quota_settings=(
                    {"limit": consumer.monthly_quota, "period": "MONTH"} if consumer.monthly_quota is not None else None
                ),
                opts=child,
            )
            aws.apigateway.UsagePlanKey(prefix, key_id=key.id, key_type="API_KEY", usage_plan_id=plan.id, opts=child)
            secret_arns[consumer.name] = secret.arn
        return pulumi.Output.all(**secret_arns)
