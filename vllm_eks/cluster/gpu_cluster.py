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

import json
import warnings
from typing import TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

with warnings.catch_warnings():
    # pulumi_eks warns on import that its self-managed `NodeGroup` (EC2 launch configurations) is deprecated; this stack
    # uses only `eks.Cluster` (system nodes are an `aws.eks.NodeGroup`), so that one warning is noise. Same filter in
    # pytest.ini, whichever imports pulumi_eks first.
    warnings.filterwarnings("ignore", message="NodeGroup uses AWS EC2 LaunchConfiguration", category=DeprecationWarning)
    import pulumi_eks as eks

from vllm_eks.cluster import karpenter
from vllm_eks.cluster.image_cache import with_chart_images
from vllm_eks.cluster.kubernetes_resources import custom_resource, helm_release
from vllm_eks.planning.catalog import KARPENTER_CHART, NVIDIA_DEVICE_PLUGIN_CHART
from vllm_eks.iam.iam_documents import interruption_queue_policy, service_trust_policy
from vllm_eks.iam.irsa import irsa_trust_json

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
    """Instance types of the system node group (controllers, routers, monitoring)."""
    min_size: int
    """Fewest system nodes."""
    desired_size: int
    """System nodes at creation."""
    max_size: int
    """Most system nodes."""


class GpuClusterArgs(TypedDict):
    """The cluster and the GPU capacity the configured models need."""

    cluster_name: str
    """The EKS cluster's name (also Karpenter's discovery tag)."""
    version: str
    """Kubernetes version of the control plane."""
    vpc_id: pulumi.Input[str]
    """The VPC the cluster runs in."""
    private_subnet_ids: pulumi.Input[list[str]]
    """Private subnets for the control plane's interfaces and every node."""
    service_cidr: str
    """Kubernetes Service range (network.kubernetes_service_cidr): NetworkPolicies name its API address."""
    endpoint_public_access: bool
    """Whether the API endpoint is reachable from the internet (then only from public_access_cidrs)."""
    public_access_cidrs: list[str]
    """Addresses allowed to the public endpoint when it is on."""
    deployer_cidrs: list[str]
    """Networks and security groups of whoever runs `pulumi up`: 443 to the private endpoint (cluster security group)."""
    deployer_security_group_ids: list[str]
    """Security groups of whoever runs `pulumi up`: 443 to the private endpoint."""
    admin_principal_arn: str | None
    """An IAM principal given cluster admin through an access entry (not the deployer, whom EKS already admits)."""
    log_retention_days: int
    """Control-plane logs."""
    system_nodes: SystemNodes
    """The managed node group for controllers and routers."""
    gpu_ami_family: str
    """AMI family of GPU nodes: `bottlerocket` or `al2023`."""
    gpu_node_volume_gib: int
    """Root volume of GPU nodes (images and the s3-sync staging)."""
    gpu_instance_types: list[str]
    """The instance types the models need."""
    max_gpus: int
    """Karpenter's GPU limit across all GPU nodes."""
    on_demand_gpu_limit: int
    """GPUs of the on-demand baseline (sum over models of baseline replicas x GPUs)."""
    region: str
    """The AWS Region of the cluster."""
    node_image_import_policy: pulumi.Input[str]
    """ImageCache.node_import_policy: nodes import images through the cache rules on their first pull."""
    image_registry: str
    """The account's ECR registry (ImageCache): the Karpenter chart's image is pulled through it."""


class GpuCluster(pulumi.ComponentResource):
    """Private EKS (`pulumi_eks.Cluster`: API auth mode, access entries, OIDC, KMS envelope encryption, all five log types,
    no default node group, VPC CNI NetworkPolicy enforcement, an explicit Service range), Bottlerocket system node
    group, Karpenter (Helm, IRSA, SQS interruption queue + EventBridge rules), `EC2NodeClass` (Bottlerocket NVIDIA,
    IMDSv2, encrypted gp3), `gpu-on-demand` and `gpu-spot` NodePools.
    """

    cluster_name: pulumi.Output[str]
    """The EKS cluster's name."""
    kubeconfig: pulumi.Output[str]
    """A kubeconfig for the cluster (aws eks get-token)."""
    oidc_provider_arn: pulumi.Output[str]
    """The cluster's IAM OIDC provider, for IRSA roles."""
    oidc_issuer: pulumi.Output[str]
    """The OIDC issuer host/path, without https://."""
    node_security_group_id: pulumi.Output[str]
    """Security group of the system nodes."""
    cluster_security_group_id: pulumi.Output[str]
    """The cluster security group EKS creates."""
    system_node_group: aws.eks.NodeGroup
    """Controllers' Helm releases wait for it (and are deleted before it)."""

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
        release = helm_release(
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
        custom_resource(f"{name}-gpu-node-class", node_class, after_chart)
        spot_gpus = max(args["max_gpus"] - args["on_demand_gpu_limit"], 0)
        for pool, gpu_limit in ((karpenter.ON_DEMAND_POOL, args["on_demand_gpu_limit"]), (karpenter.SPOT_POOL, spot_gpus)):
            custom_resource(f"{name}-{pool}", karpenter.node_pool(pool, args["gpu_instance_types"], gpu_limit), after_chart)
        if args["gpu_ami_family"] == "al2023":
            helm_release(f"{name}-nvidia-device-plugin", NVIDIA_DEVICE_PLUGIN_CHART, "kube-system", karpenter.device_plugin_values(), k8s_child)
        return release


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
