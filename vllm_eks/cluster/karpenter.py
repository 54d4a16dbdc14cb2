"""Pure builders for Karpenter: the controller's IAM policy, the interruption event patterns, the Helm values,
the GPU `EC2NodeClass` and the two GPU `NodePool`s (Karpenter v1 API, the CRDs vendored in tests/crds).

Spot burst: both pools allow the models' instance types. `gpu-on-demand` has the higher weight and an
`nvidia.com/gpu` limit equal to the on-demand baseline; `gpu-spot` has the lower weight and the rest of
`maxGpus`. Karpenter tries the heavier pool first, so the baseline lands on on-demand nodes and whatever
exceeds the baseline's limit bursts onto Spot. vLLM pods choose the pools they accept with
`karpenter.sh/nodepool In [...]` and tolerate the `nvidia.com/gpu=true:NoSchedule` taint.
"""

from __future__ import annotations

from typing import Any

from vllm_eks.planning.catalog import GPU_AMI_ALIASES

GPU_NODE_CLASS = "gpu"
ON_DEMAND_POOL = "gpu-on-demand"
SPOT_POOL = "gpu-spot"
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}
GPU_NODE_ROLE_LABEL = ("vllm-eks/node-role", "gpu")
KARPENTER_NAMESPACE = "kube-system"
KARPENTER_SERVICE_ACCOUNT = "karpenter"

# Karpenter's interruption handling listens to these five EventBridge sources (the getting-started
# CloudFormation of v1.14, website/content/en/docs/getting-started/getting-started-with-karpenter/cloudformation.yaml,
# whose CapacityReservationInterruptionRule is the fifth; EC2 user guide, "Capacity Reservation Instance Interruption
# Warning" event).
INTERRUPTION_EVENT_PATTERNS: dict[str, dict[str, list[str]]] = {
    "scheduled-change": {"source": ["aws.health"], "detail-type": ["AWS Health Event"]},
    "spot-interruption": {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]},
    "rebalance": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance Rebalance Recommendation"]},
    "instance-state-change": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]},
    "capacity-reservation-interruption": {
        "source": ["aws.ec2"],
        "detail-type": ["EC2 Capacity Reservation Instance Interruption Warning"],
    },
}

# Disruption, chosen so a node is never taken away from a busy inference pod by Karpenter's own choice:
# - `WhenEmpty`: consolidation only removes nodes with no workload pods left (KEDA scaled the model down and
#   the pod is gone). `WhenEmptyOrUnderutilized` would evict a streaming vLLM pod to repack it elsewhere.
# - `consolidateAfter`: wait before removing an empty GPU node; a GPU node takes minutes to boot and load
#   weights, so a short dip in traffic should not throw one away. Spot nodes go sooner (they cost the burst).
# - Budgets: empty nodes may go 20 % at a time; drifted nodes (a new pinned AMI, a changed node class) are
#   replaced one at a time, each replacement waiting for the PDB of the pods it evicts.
# - `expireAfter` 30 days keeps nodes on patched AMIs; `terminationGracePeriod` bounds how long a node asked
#   to leave (drift, expiry) waits for PDBs: long enough to finish any request the edge allows (at most 15 min).
CONSOLIDATE_AFTER = {ON_DEMAND_POOL: "10m", SPOT_POOL: "5m"}
POOL_WEIGHTS = {ON_DEMAND_POOL: 100, SPOT_POOL: 10}
EXPIRE_AFTER = "720h"
TERMINATION_GRACE_PERIOD = "1h"


def on_demand_gpus(capacity_type: str, max_replicas: int, on_demand_replicas: int, gpus_per_replica: int) -> int:
    """GPUs one model needs from the on-demand pool: all of an on-demand model, the baseline of a burst model."""
    replicas = {"on-demand": max_replicas, "spot": 0, "on-demand-with-spot-burst": on_demand_replicas}[capacity_type]
    return replicas * gpus_per_replica


def node_pool(
    pool: str, instance_types: list[str], gpu_limit: int, node_class: str = GPU_NODE_CLASS
) -> dict[str, Any]:
    """A GPU NodePool: one capacity type, the models' instance types, the GPU taint and a GPU limit."""
    capacity_type = "on-demand" if pool == ON_DEMAND_POOL else "spot"
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": pool},
        "spec": {
            "weight": POOL_WEIGHTS[pool],
            "limits": {"nvidia.com/gpu": str(gpu_limit)},
            "disruption": {
                "consolidationPolicy": "WhenEmpty",
                "consolidateAfter": CONSOLIDATE_AFTER[pool],
                "budgets": [{"nodes": "20%", "reasons": ["Empty"]}, {"nodes": "1", "reasons": ["Drifted"]}],
            },
            "template": {
                "metadata": {"labels": {GPU_NODE_ROLE_LABEL[0]: GPU_NODE_ROLE_LABEL[1]}},
                "spec": {
                    "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": node_class},
                    "taints": [dict(GPU_TAINT)],
                    "expireAfter": EXPIRE_AFTER,
                    "terminationGracePeriod": TERMINATION_GRACE_PERIOD,
                    "requirements": [
                        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": [capacity_type]},
                        {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": sorted(instance_types)},
                        {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
                        {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
                    ],
                },
            },
        },
    }


def _block_devices(ami_family: str, volume_gib: int) -> list[dict[str, Any]]:
    """Encrypted gp3 volumes; container images (vLLM's is several GB) and weights caches live on the big one."""
    ebs = {"volumeType": "gp3", "encrypted": True, "deleteOnTermination": True, "iops": 6000, "throughput": 500}
    if ami_family == "bottlerocket":
        # Bottlerocket: a small OS volume and a data volume for images, containers and emptyDirs.
        return [
            {"deviceName": "/dev/xvda", "ebs": {**ebs, "volumeSize": "4Gi", "iops": 3000, "throughput": 125}},
            {"deviceName": "/dev/xvdb", "ebs": {**ebs, "volumeSize": f"{volume_gib}Gi"}},
        ]
    return [{"deviceName": "/dev/xvda", "ebs": {**ebs, "volumeSize": f"{volume_gib}Gi"}}]


def ec2_node_class(cluster_name: str, node_role_name: Any, ami_family: str, volume_gib: int) -> dict[str, Any]:
    """GPU nodes: the pinned NVIDIA AMI alias, private subnets and the cluster security group found by tag, IMDSv2 only."""
    discovery = {"tags": {"karpenter.sh/discovery": cluster_name}}
    return {
        "apiVersion": "karpenter.k8s.aws/v1",
        "kind": "EC2NodeClass",
        "metadata": {"name": GPU_NODE_CLASS},
        "spec": {
            # The alias resolves to the accelerated variant per instance type (Bottlerocket aws-k8s-<v>-nvidia,
            # AL2023 nvidia); a pinned version means new AMIs arrive as a deliberate drift, never by surprise.
            "amiSelectorTerms": [{"alias": GPU_AMI_ALIASES[ami_family]}],
            "role": node_role_name,
            "subnetSelectorTerms": [discovery],
            "securityGroupSelectorTerms": [discovery],
            "blockDeviceMappings": _block_devices(ami_family, volume_gib),
            # Hop limit 1: pods (one hop further away) cannot reach the node role's credentials; they use IRSA.
            "metadataOptions": {
                "httpEndpoint": "enabled",
                "httpProtocolIPv6": "disabled",
                "httpTokens": "required",
                "httpPutResponseHopLimit": 1,
            },
            "tags": {"karpenter.sh/discovery": cluster_name, "vllm-eks/node-role": "gpu"},
        },
    }


def helm_values(cluster_name: str, queue_name: Any, controller_role_arn: Any, system_node_label: tuple[str, str]) -> dict[str, Any]:
    """The controller runs on the system nodes (never on nodes it manages), two replicas, IRSA for AWS access."""
    return {
        "serviceAccount": {
            "name": KARPENTER_SERVICE_ACCOUNT,
            "annotations": {"eks.amazonaws.com/role-arn": controller_role_arn},
        },
        "settings": {"clusterName": cluster_name, "interruptionQueue": queue_name},
        "replicas": 2,
        "nodeSelector": {"kubernetes.io/os": "linux", system_node_label[0]: system_node_label[1]},
        "controller": {
            "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "1Gi"}},
        },
    }


def controller_policy(
    *, partition: str, region: str, account_id: str, cluster_name: str, node_role_arn: str, queue_arn: str
) -> dict[str, Any]:
    """The controller's permissions as Karpenter v1.14 documents them (getting-started CloudFormation), one document.

    Launches and deletions are scoped by the tags Karpenter puts on what it creates; reads are regional. The
    upstream ZonalShift statement is left out: the stack keeps the chart's `settings.enableZonalShift: false`.
    """
    ec2 = f"arn:{partition}:ec2:{region}"
    instance_profiles = f"arn:{partition}:iam::{account_id}:instance-profile/*"
    owned = {f"aws:RequestTag/kubernetes.io/cluster/{cluster_name}": "owned", "aws:RequestTag/eks:eks-cluster-name": cluster_name}
    resource_owned = {f"aws:ResourceTag/kubernetes.io/cluster/{cluster_name}": "owned"}
    created = [f"{ec2}:*:{kind}/*" for kind in ("fleet", "instance", "volume", "network-interface", "launch-template", "spot-instances-request")]
    region_tags = {"aws:RequestTag/topology.kubernetes.io/region": region}
    statements = [
        {
            "Sid": "AllowScopedEC2InstanceAccessActions",
            "Effect": "Allow",
            "Resource": [
                f"{ec2}::image/*",
                f"{ec2}::snapshot/*",
                f"{ec2}:*:security-group/*",
                f"{ec2}:*:subnet/*",
                f"{ec2}:*:capacity-reservation/*",
                f"{ec2}:*:placement-group/*",
            ],
            "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
        },
        {
            "Sid": "AllowScopedEC2LaunchTemplateAccessActions",
            "Effect": "Allow",
            "Resource": f"{ec2}:*:launch-template/*",
            "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
            "Condition": {"StringEquals": resource_owned, "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"}},
        },
        {
            "Sid": "AllowScopedEC2InstanceActionsWithTags",
            "Effect": "Allow",
            "Resource": created,
            "Action": ["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"],
            "Condition": {"StringEquals": owned, "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"}},
        },
        {
            "Sid": "AllowScopedResourceCreationTagging",
            "Effect": "Allow",
            "Resource": created,
            "Action": "ec2:CreateTags",
            "Condition": {
                "StringEquals": {**owned, "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"]},
                "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"},
            },
        },
        {
            "Sid": "AllowScopedResourceTagging",
            "Effect": "Allow",
            "Resource": f"{ec2}:*:instance/*",
            "Action": "ec2:CreateTags",
            "Condition": {
                "StringEquals": resource_owned,
                "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
                "StringEqualsIfExists": {"aws:RequestTag/eks:eks-cluster-name": cluster_name},
                "ForAllValues:StringEquals": {"aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"]},
            },
        },
        {
            "Sid": "AllowScopedDeletion",
            "Effect": "Allow",
            "Resource": [f"{ec2}:*:instance/*", f"{ec2}:*:launch-template/*"],
            "Action": ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
            "Condition": {"StringEquals": resource_owned, "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"}},
        },
        {
            "Sid": "AllowPassingInstanceRole",
            "Effect": "Allow",
            "Resource": node_role_arn,
            "Action": "iam:PassRole",
            "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
        },
        {
            "Sid": "AllowScopedInstanceProfileCreationActions",
            "Effect": "Allow",
            "Resource": instance_profiles,
            "Action": "iam:CreateInstanceProfile",
            "Condition": {
                "StringEquals": {**owned, **region_tags},
                "StringLike": {"aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"},
            },
        },
        {
            "Sid": "AllowScopedInstanceProfileTagActions",
            "Effect": "Allow",
            "Resource": instance_profiles,
            "Action": "iam:TagInstanceProfile",
            "Condition": {
                "StringEquals": {
                    **resource_owned,
                    "aws:ResourceTag/topology.kubernetes.io/region": region,
                    **owned,
                    **region_tags,
                },
                "StringLike": {
                    "aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*",
                    "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*",
                },
            },
        },
        {
            "Sid": "AllowScopedInstanceProfileActions",
            "Effect": "Allow",
            "Resource": instance_profiles,
            "Action": ["iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile"],
            "Condition": {
                "StringEquals": {**resource_owned, "aws:ResourceTag/topology.kubernetes.io/region": region},
                "StringLike": {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*"},
            },
        },
        {
            "Sid": "AllowAPIServerEndpointDiscovery",
            "Effect": "Allow",
            "Resource": f"arn:{partition}:eks:{region}:{account_id}:cluster/{cluster_name}",
            "Action": "eks:DescribeCluster",
        },
        {
            "Sid": "AllowInterruptionQueueActions",
            "Effect": "Allow",
            "Resource": queue_arn,
            "Action": ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
        },
        {
            "Sid": "AllowRegionalReadActions",
            "Effect": "Allow",
            "Resource": "*",
            "Action": [
                "ec2:DescribeCapacityReservations",
                "ec2:DescribeImages",
                "ec2:DescribeInstances",
                "ec2:DescribeInstanceStatus",
                "ec2:DescribeInstanceTypeOfferings",
                "ec2:DescribeInstanceTypes",
                "ec2:DescribeLaunchTemplates",
                "ec2:DescribePlacementGroups",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSpotPriceHistory",
                "ec2:DescribeSubnets",
            ],
            "Condition": {"StringEquals": {"aws:RequestedRegion": region}},
        },
        {
            "Sid": "AllowSSMReadActions",
            "Effect": "Allow",
            "Resource": f"arn:{partition}:ssm:{region}::parameter/aws/service/*",
            "Action": "ssm:GetParameter",
        },
        {"Sid": "AllowPricingReadActions", "Effect": "Allow", "Resource": "*", "Action": "pricing:GetProducts"},
        {"Sid": "AllowUnscopedInstanceProfileListAction", "Effect": "Allow", "Resource": "*", "Action": "iam:ListInstanceProfiles"},
        {"Sid": "AllowInstanceProfileReadActions", "Effect": "Allow", "Resource": instance_profiles, "Action": "iam:GetInstanceProfile"},
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def device_plugin_values() -> dict:
    """Only on Karpenter's GPU nodes (their taint tolerated); never on Bottlerocket, whose NVIDIA variant runs its own."""
    return {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "karpenter.sh/nodepool", "operator": "In", "values": [ON_DEMAND_POOL, SPOT_POOL]}
                            ]
                        }
                    ]
                }
            }
        },
        "tolerations": [{**GPU_TAINT, "operator": "Equal"}],
    }
