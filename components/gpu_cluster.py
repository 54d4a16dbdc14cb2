"""GpuCluster: a private EKS control plane, on-demand system nodes, and GPU capacity that Karpenter brings and removes.

- Control plane: private endpoint (public only when the stack opts in, then only from listed CIDRs), API
  authentication mode with access entries, an OIDC provider for IRSA, Secrets envelope-encrypted with a
  customer KMS key, all five control-plane log types, no default node group, nodes in private subnets only.
- System nodes: a Bottlerocket managed node group `system` (label `vllm-eks/node-role: system`) for routers,
  monitoring and controllers, apart from GPU nodes so a model spike cannot starve them.
- GPU nodes: Karpenter (Helm, IRSA role, SQS interruption queue fed by EventBridge), one `EC2NodeClass` and the
  `gpu-on-demand` / `gpu-spot` NodePools built in `karpenter.py`. Bottlerocket's NVIDIA variants carry the
  driver and the device plugin; only the AL2023 NVIDIA AMI gets the device-plugin DaemonSet.
"""

from __future__ import annotations

import json
import re
import warnings
from typing import Literal, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

with warnings.catch_warnings():
    # pulumi_eks warns on import that its self-managed `NodeGroup` (EC2 launch configurations) is deprecated; this stack
    # uses only `eks.Cluster` (system nodes are an `aws.eks.NodeGroup`), so that one warning is noise. Same filter in
    # pytest.ini, whichever imports pulumi_eks first.
    warnings.filterwarnings("ignore", message="NodeGroup uses AWS EC2 LaunchConfiguration", category=DeprecationWarning)
    import pulumi_eks as eks

from components import karpenter
from components.catalog import HELM_RELEASE_TIMEOUT_SECONDS, KARPENTER_CHART, NVIDIA_DEVICE_PLUGIN_CHART, HelmChart
from components.iam_documents import interruption_queue_policy, service_trust_policy
from components.image_cache import with_chart_images
from components.irsa import irsa_trust_json

CONTROL_PLANE_LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
SYSTEM_NODE_LABEL = ("vllm-eks/node-role", "system")
# What every node role needs to join and run pods (kubelet, VPC CNI, image pulls). No S3, no SSM: model weights
# are readable only through each model's IRSA role, and node debugging goes through `kubectl debug node`.
NODE_MANAGED_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryPullOnly")
CLUSTER_ADMIN_POLICY = "AmazonEKSClusterAdminPolicy"
# Bottlerocket on the system nodes: a small OS volume and a data volume for images and emptyDirs (the model sync
# Job stages a checkpoint there before uploading it).
SYSTEM_NODE_OS_VOLUME_GIB = 4
SYSTEM_NODE_DATA_VOLUME_GIB = 100


class SystemNodes(TypedDict):
    instance_types: list[str]
    min_size: int
    desired_size: int
    max_size: int


class GpuClusterArgs(TypedDict):
    """The cluster and the GPU capacity the configured models need."""

    cluster_name: str
    version: str
    vpc_id: pulumi.Input[str]
    private_subnet_ids: pulumi.Input[list[str]]
    service_cidr: str  # Kubernetes Service range (network.kubernetes_service_cidr): NetworkPolicies name its API address
    endpoint_public_access: bool
    public_access_cidrs: list[str]
    # Networks and security groups of whoever runs `pulumi up`: 443 to the private endpoint (cluster security group).
    deployer_cidrs: list[str]
    deployer_security_group_ids: list[str]
    admin_principal_arn: str | None
    log_retention_days: int  # control-plane logs
    system_nodes: SystemNodes
    gpu_ami_family: Literal["bottlerocket", "al2023"]
    gpu_node_volume_gib: int
    gpu_instance_types: list[str]  # the instance types the models need
    max_gpus: int
    on_demand_gpu_limit: int  # GPUs of the on-demand baseline (sum over models of baseline replicas x GPUs)
    region: str
    node_image_import_policy: pulumi.Input[str]  # ImageCache.node_import_policy: first pulls through the cache rules
    image_registry: str  # the account's ECR registry (ImageCache): the Karpenter chart's image is pulled through it


class GpuCluster(pulumi.ComponentResource):
    cluster_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]
    node_security_group_id: pulumi.Output[str]
    cluster_security_group_id: pulumi.Output[str]
    system_node_group: aws.eks.NodeGroup  # controllers' Helm releases wait for it (and are deleted before it)

    def __init__(self, name: str, args: GpuClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("vllm-eks:index:GpuCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cluster_name = args["cluster_name"]

        secrets_key = aws.kms.Key(
            f"{name}-secrets-key",
            description=f"Envelope encryption of Kubernetes Secrets in {cluster_name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            opts=child,
        )
        # EKS writes control-plane logs to this group and would create it with no expiry if it did not exist first.
        control_plane_logs = aws.cloudwatch.LogGroup(
            f"{name}-control-plane-logs",
            name=f"/aws/eks/{cluster_name}/cluster",
            retention_in_days=args["log_retention_days"],
            opts=child,
        )
        cluster = eks.Cluster(
            f"{name}-eks",
            name=cluster_name,
            version=args["version"],
            vpc_id=args["vpc_id"],
            private_subnet_ids=args["private_subnet_ids"],
            kubernetes_service_ip_address_range=args["service_cidr"],
            node_associate_public_ip_address=False,
            endpoint_private_access=True,
            endpoint_public_access=args["endpoint_public_access"],
            public_access_cidrs=args["public_access_cidrs"] if args["endpoint_public_access"] else None,
            authentication_mode=eks.AuthenticationMode.API,
            create_oidc_provider=True,
            encryption_config_key_arn=secrets_key.arn,
            enabled_cluster_log_types=CONTROL_PLANE_LOG_TYPES,
            # pulumi-eks defaults to EXTENDED support, billed extra once a version leaves standard support; STANDARD
            # makes EKS upgrade the control plane at the end of standard support instead.
            upgrade_policy={"support_type": "STANDARD"},
            skip_default_node_group=True,
            # Managed node groups and Karpenter nodes all use the EKS-created cluster security group (members talk
            # to each other and to the control plane); pulumi_eks's extra groups are for self-managed nodes only.
            skip_default_security_groups=True,
            # Opt-in: without it the VPC CNI add-on ignores every NetworkPolicy (pulumi-eks cni-addon.ts writes
            # `enableNetworkPolicy` into the add-on's configuration only when vpcCniOptions sets it).
            vpc_cni_options={"enable_network_policy": True},
            # ClusterAddons manages CoreDNS as an EKS add-on once the system nodes exist (pulumi-eks would only with
            # its default node group).
            coredns_addon_options={"enabled": False},
            tags={"karpenter.sh/discovery": cluster_name},
            opts=child.merge(pulumi.ResourceOptions(depends_on=[control_plane_logs])),
        )
        # The name is ours (`name=` above); resources that need the cluster to exist depend on it explicitly.
        eks_cluster_name = cluster.urn.apply(lambda _: cluster_name)
        after_cluster = child.merge(pulumi.ResourceOptions(depends_on=[cluster]))
        if args["admin_principal_arn"]:
            self._admin_access(name, cluster_name, args["admin_principal_arn"], after_cluster)

        system_role = _node_role(f"{name}-system-node-role", args["node_image_import_policy"], child)
        # A plain EKS managed node group (EKS creates its access entry): the inputs are all visible to tests and
        # policies, unlike pulumi_eks's remote ManagedNodeGroup component.
        self.system_node_group = aws.eks.NodeGroup(
            f"{name}-system",
            cluster_name=cluster_name,
            node_group_name="system",
            node_role_arn=system_role.arn,
            ami_type="BOTTLEROCKET_x86_64",
            capacity_type="ON_DEMAND",
            instance_types=args["system_nodes"]["instance_types"],
            subnet_ids=args["private_subnet_ids"],
            scaling_config={
                "min_size": args["system_nodes"]["min_size"],
                "desired_size": args["system_nodes"]["desired_size"],
                "max_size": args["system_nodes"]["max_size"],
            },
            labels={SYSTEM_NODE_LABEL[0]: SYSTEM_NODE_LABEL[1]},
            launch_template=_system_launch_template(name, child),
            # Rolling updates replace one system node at a time; the controllers on them keep a replica elsewhere.
            update_config={"max_unavailable": 1},
            opts=after_cluster,
        )

        # Karpenter finds the subnets (tagged by Network) and this security group by the discovery tag.
        aws.ec2.Tag(
            f"{name}-cluster-sg-discovery",
            resource_id=cluster.cluster_security_group_id,
            key="karpenter.sh/discovery",
            value=cluster_name,
            opts=child,
        )
        deployer_rules = self._deployer_access(name, args, cluster.cluster_security_group_id, child)
        self.k8s_provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=cluster.kubeconfig_json,
            # Every Kubernetes resource goes through the endpoint: the deployer's route must exist first.
            opts=child.merge(pulumi.ResourceOptions(depends_on=deployer_rules)),
        )
        karpenter_release = self._karpenter(name, args, cluster, after_cluster)

        self.cluster_name = eks_cluster_name
        self.kubeconfig = pulumi.Output.secret(cluster.kubeconfig_json)
        self.oidc_provider_arn = cluster.oidc_provider_arn
        self.oidc_issuer = cluster.oidc_issuer
        self.node_security_group_id = cluster.node_security_group_id
        self.cluster_security_group_id = cluster.cluster_security_group_id
        self.karpenter_release = karpenter_release
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "kubeconfig": self.kubeconfig,
                "oidc_provider_arn": self.oidc_provider_arn,
                "oidc_issuer": self.oidc_issuer,
                "node_security_group_id": self.node_security_group_id,
                "cluster_security_group_id": self.cluster_security_group_id,
            }
        )

    def _deployer_access(
        self, name: str, args: GpuClusterArgs, cluster_group_id: pulumi.Input[str], child: pulumi.ResourceOptions
    ) -> list[pulumi.Resource]:
        """443 on the cluster security group (which fronts the private endpoint) for the deployer's networks only."""
        rules: list[pulumi.Resource] = []
        for index, cidr in enumerate(args["deployer_cidrs"]):
            rules.append(aws.vpc.SecurityGroupIngressRule(
                f"{name}-deployer-cidr-{index}",
                security_group_id=cluster_group_id,
                cidr_ipv4=cidr,
                ip_protocol="tcp", from_port=443, to_port=443,
                description="pulumi up: Kubernetes API from the deployer network",
                opts=child,
            ))
        for index, group in enumerate(args["deployer_security_group_ids"]):
            rules.append(aws.vpc.SecurityGroupIngressRule(
                f"{name}-deployer-sg-{index}",
                security_group_id=cluster_group_id,
                referenced_security_group_id=group,
                ip_protocol="tcp", from_port=443, to_port=443,
                description="pulumi up: Kubernetes API from the deployer's runner",
                opts=child,
            ))
        return rules

    def _admin_access(self, name: str, cluster_name: str, principal_arn: str, child: pulumi.ResourceOptions) -> None:
        entry = aws.eks.AccessEntry(
            f"{name}-admin-access", cluster_name=cluster_name, principal_arn=principal_arn, type="STANDARD", opts=child
        )
        aws.eks.AccessPolicyAssociation(
            f"{name}-admin-policy",
            cluster_name=cluster_name,
            principal_arn=entry.principal_arn,
            policy_arn=f"arn:aws:eks::aws:cluster-access-policy/{CLUSTER_ADMIN_POLICY}",
            access_scope={"type": "cluster"},
            opts=child,
        )

    def _karpenter(self, name: str, args: GpuClusterArgs, cluster: eks.Cluster, after_cluster) -> k8s.helm.v3.Release:
        """Controller role, node role and its access entry, interruption queue and rules, the chart, node class, pools."""
        k8s_child = pulumi.ResourceOptions(parent=self, provider=self.k8s_provider)
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self))

        child = pulumi.ResourceOptions(parent=self)
        node_role = _node_role(f"{name}-karpenter-node-role", args["node_image_import_policy"], child)
        # Nodes Karpenter launches join through this entry (EC2_LINUX also covers Bottlerocket).
        node_access = aws.eks.AccessEntry(
            f"{name}-karpenter-node-access",
            cluster_name=args["cluster_name"],
            principal_arn=node_role.arn,
            type="EC2_LINUX",
            opts=after_cluster,
        )

        queue = aws.sqs.Queue(
            f"{name}-interruptions",
            name=f"{args['cluster_name']}-karpenter",
            message_retention_seconds=300,  # interruption notices are useless after the two-minute warning
            sqs_managed_sse_enabled=True,
            opts=child,
        )
        queue_policy = aws.sqs.QueuePolicy(
            f"{name}-interruptions-policy",
            queue_url=queue.url,
            policy=queue.arn.apply(lambda arn: json.dumps(interruption_queue_policy(arn))),
            opts=child,
        )
        for rule_name, pattern in karpenter.INTERRUPTION_EVENT_PATTERNS.items():
            rule = aws.cloudwatch.EventRule(
                f"{name}-{rule_name}",
                description=f"Karpenter interruption handling for {args['cluster_name']}: {pattern['detail-type'][0]}",
                event_pattern=json.dumps(pattern),
                opts=child,
            )
            aws.cloudwatch.EventTarget(
                f"{name}-{rule_name}-target", rule=rule.name, arn=queue.arn, target_id="KarpenterInterruptionQueue", opts=child
            )

        controller_role = aws.iam.Role(
            f"{name}-karpenter-controller",
            assume_role_policy=irsa_trust_json(
                cluster.oidc_provider_arn, cluster.oidc_issuer, karpenter.KARPENTER_NAMESPACE, karpenter.KARPENTER_SERVICE_ACCOUNT
            ),
            opts=child,
        )
        controller_policy = aws.iam.RolePolicy(
            f"{name}-karpenter-controller-policy",
            role=controller_role.id,
            policy=pulumi.Output.all(partition.partition, identity.account_id, node_role.arn, queue.arn).apply(
                lambda values: json.dumps(
                    karpenter.controller_policy(
                        partition=values[0],
                        region=args["region"],
                        account_id=values[1],
                        cluster_name=args["cluster_name"],
                        node_role_arn=values[2],
                        queue_arn=values[3],
                    ),
                    separators=(",", ":"),  # inline role policies are limited to 10 240 characters
                )
            ),
            opts=child,
        )
        # The controller runs on the system nodes and, until its finalizers have terminated every GPU node it made,
        # needs its permissions, its nodes' access entry and its queue: created before it, deleted after it.
        release = _helm_release(
            f"{name}-karpenter",
            KARPENTER_CHART,
            karpenter.KARPENTER_NAMESPACE,
            with_chart_images(
                karpenter.helm_values(args["cluster_name"], queue.name, controller_role.arn, SYSTEM_NODE_LABEL),
                KARPENTER_CHART,
                args["image_registry"],
            ),
            k8s_child.merge(pulumi.ResourceOptions(
                depends_on=[self.system_node_group, controller_policy, node_access, queue_policy]
            )),
        )
        # The chart installs the CRDs: the custom resources wait for it.
        after_chart = k8s_child.merge(pulumi.ResourceOptions(depends_on=[release]))
        node_class = karpenter.ec2_node_class(
            args["cluster_name"], node_role.name, args["gpu_ami_family"], args["gpu_node_volume_gib"]
        )
        _custom_resource(f"{name}-gpu-node-class", node_class, after_chart)
        spot_gpus = max(args["max_gpus"] - args["on_demand_gpu_limit"], 0)
        for pool, gpu_limit in ((karpenter.ON_DEMAND_POOL, args["on_demand_gpu_limit"]), (karpenter.SPOT_POOL, spot_gpus)):
            _custom_resource(f"{name}-{pool}", karpenter.node_pool(pool, args["gpu_instance_types"], gpu_limit), after_chart)
        if args["gpu_ami_family"] == "al2023":
            _helm_release(f"{name}-nvidia-device-plugin", NVIDIA_DEVICE_PLUGIN_CHART, "kube-system", device_plugin_values(), k8s_child)
        return release


def device_plugin_values() -> dict:
    """Only on Karpenter's GPU nodes (their taint tolerated); never on Bottlerocket, whose NVIDIA variant runs its own."""
    return {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "karpenter.sh/nodepool", "operator": "In", "values": [karpenter.ON_DEMAND_POOL, karpenter.SPOT_POOL]}
                            ]
                        }
                    ]
                }
            }
        },
        "tolerations": [{**karpenter.GPU_TAINT, "operator": "Equal"}],
    }


def _node_role(resource_name: str, image_import_policy: pulumi.Input[str], child: pulumi.ResourceOptions) -> aws.iam.Role:
    role = aws.iam.Role(
        resource_name,
        assume_role_policy=json.dumps(service_trust_policy("ec2.amazonaws.com")),
        managed_policy_arns=[f"arn:aws:iam::aws:policy/{policy}" for policy in NODE_MANAGED_POLICIES],
        opts=child,
    )
    aws.iam.RolePolicy(f"{resource_name}-image-import", role=role.id, policy=image_import_policy, opts=child)
    return role


def _system_launch_template(name: str, child: pulumi.ResourceOptions) -> aws.eks.NodeGroupLaunchTemplateArgsDict:
    """Encrypted gp3 volumes and IMDSv2 only (hop limit 1: pods use IRSA, never the node role)."""

    def volume(device: str, size_gib: int) -> aws.ec2.LaunchTemplateBlockDeviceMappingArgsDict:
        return {
            "device_name": device,
            "ebs": {"volume_type": "gp3", "encrypted": "true", "delete_on_termination": "true", "volume_size": size_gib},
        }

    template = aws.ec2.LaunchTemplate(
        f"{name}-system-nodes",
        block_device_mappings=[
            volume("/dev/xvda", SYSTEM_NODE_OS_VOLUME_GIB),
            volume("/dev/xvdb", SYSTEM_NODE_DATA_VOLUME_GIB),
        ],
        metadata_options={"http_endpoint": "enabled", "http_tokens": "required", "http_put_response_hop_limit": 1},
        update_default_version=True,
        opts=child,
    )
    return {"id": template.id, "version": template.latest_version.apply(lambda version: str(int(version)))}


def is_same_principal(principal_arn: str, caller_arn: str) -> bool:
    """True when an IAM role/user ARN names the caller. STS reports a role session as
    arn:aws:sts::<account>:assumed-role/<role name>/<session> (IAM user guide, "IAM identifiers"), without the role's
    path, so a role is matched by account and name."""
    principal = re.fullmatch(r"arn:(aws[a-z-]*):iam::(\d{12}):(role|user)/(?:[\w+=,.@/-]*/)?([\w+=,.@-]+)", principal_arn)
    if principal is None:
        return False
    partition, account, kind, name = principal.groups()
    session = re.fullmatch(r"arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([\w+=,.@-]+)/.+", caller_arn)
    if session is not None:
        return kind == "role" and session.groups() == (partition, account, name)
    caller = re.fullmatch(r"arn:(aws[a-z-]*):iam::(\d{12}):(role|user)/(?:[\w+=,.@/-]*/)?([\w+=,.@-]+)", caller_arn)
    return caller is not None and caller.groups() == (partition, account, kind, name)


def _helm_release(resource_name: str, chart: HelmChart, namespace: str, values: dict, opts) -> k8s.helm.v3.Release:
    oci = chart.repository.startswith("oci://")
    return k8s.helm.v3.Release(
        resource_name,
        name=chart.chart,
        chart=f"{chart.repository}/{chart.chart}" if oci else chart.chart,
        version=chart.version,
        repository_opts=None if oci else {"repo": chart.repository},
        namespace=namespace,
        values=values,
        atomic=True,
        # Explicit: the pods wait for system nodes that may still be joining on a first deploy (Helm's 300 s
        # default is too short for a node group and its images).
        timeout=HELM_RELEASE_TIMEOUT_SECONDS,
        opts=opts,
    )


def _custom_resource(resource_name: str, obj: dict, opts) -> k8s.apiextensions.CustomResource:
    return k8s.apiextensions.CustomResource(
        resource_name, api_version=obj["apiVersion"], kind=obj["kind"], metadata=obj["metadata"], spec=obj["spec"], opts=opts
    )
