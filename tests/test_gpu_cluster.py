"""GpuCluster: the rendered control plane, system nodes and Karpenter GPU capacity; the config errors at load."""

from __future__ import annotations

import copy
import json

import pytest

from vllm_eks.planning.catalog import GPU_AMI_ALIASES, KARPENTER_CHART, NVIDIA_DEVICE_PLUGIN_CHART
from preflight.render import read_stack_config, render_config
from stack_config import StackConfigError, load_stack_config
from rendered import resource_named, resources_of
from k8s_schemas import CRDS_DIR, manifest, validate_custom

ADMIN = "arn:aws:iam::123456789012:role/PlatformAdmin"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
HELM = "kubernetes:helm.sh/v3:Release"


@pytest.fixture(scope="module")
def opted_in_snapshot() -> dict:
    """prod with every optional cluster feature on: admin entry, public endpoint from one CIDR, AL2023 GPU nodes."""
    config = copy.deepcopy(read_stack_config("prod"))
    config["vllm-eks:cluster"].update(
        {"adminPrincipalArn": ADMIN, "endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"], "gpuAmiFamily": "al2023"}
    )
    return render_config("prod-variant", config)


# Per stack, as its stack file sets it: Availability Zones (one private subnet each), system node instance type and
# its scaling.
STACKS = {"dev": (2, "m7i.large", {"minSize": 2, "desiredSize": 2, "maxSize": 3}),
          "prod": (3, "m7i.xlarge", {"minSize": 3, "desiredSize": 3, "maxSize": 6})}


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_control_plane_is_private_encrypted_and_logged(stack, request):
    snapshot = request.getfixturevalue(f"{stack}_snapshot")
    zones = STACKS[stack][0]
    props = resource_named(snapshot, "eks:index:Cluster", "cluster-eks")["offlineOnlyProgramInputs"]
    assert props["endpointPrivateAccess"] is True and props["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in props
    assert props["authenticationMode"] == "API"
    assert props["createOidcProvider"] is True and props["skipDefaultNodeGroup"] is True
    assert props["nodeAssociatePublicIpAddress"] is False
    assert props["enabledClusterLogTypes"] == ["api", "audit", "authenticator", "controllerManager", "scheduler"]
    assert props["version"] == "1.35" and props["name"] == f"vllm-eks-{stack}"
    private_subnets = [r for r in resources_of(snapshot, "aws:ec2/subnet:Subnet") if "-private-" in r["name"]]
    assert len(props["privateSubnetIds"]) == len(private_subnets) == zones
    assert "publicSubnetIds" not in props
    key = resource_named(snapshot, "aws:kms/key:Key", "cluster-secrets-key")
    assert key["props"]["enableKeyRotation"] is True
    assert props["encryptionConfigKeyArn"].startswith("arn:aws:kms:us-east-1:123456789012:key/")



@pytest.mark.parametrize("stack", sorted(STACKS))
def test_control_plane_inputs_whole(stack, request):
    """Every input of the EKS cluster, its secrets key, its log group and the interruption queue, stated whole.

    pulumi-eks Cluster inputs (upgradePolicy STANDARD: EKS "Cluster upgrade policy" upgrades at the end of standard
    support instead of billing extended support; vpcCniOptions.enableNetworkPolicy: the VPC CNI enforces NetworkPolicies
    only when set, pulumi-eks cni-addon.ts; coredns as a separate EKS add-on; EKS-created cluster security group only).
    KMS ScheduleKeyDeletion: a 7-30 day window, here the longest. EKS "Control plane logging": the log group is
    /aws/eks/<cluster>/cluster. SQS: interruption notices are worth nothing after the two-minute warning (300 s)."""
    snapshot = request.getfixturevalue(f"{stack}_snapshot")
    cluster = f"vllm-eks-{stack}"
    props = dict(resource_named(snapshot, "eks:index:Cluster", "cluster-eks")["offlineOnlyProgramInputs"])
    assert props.pop("vpcId").startswith("network-vpc-") and props.pop("encryptionConfigKeyArn").startswith("arn:aws:kms:")
    assert len(props.pop("privateSubnetIds")) == STACKS[stack][0]
    assert props == {
        "name": cluster, "version": "1.35", "authenticationMode": "API",
        "endpointPrivateAccess": True, "endpointPublicAccess": False, "nodeAssociatePublicIpAddress": False,
        "kubernetesServiceIpAddressRange": "172.20.0.0/16", "createOidcProvider": True,
        "enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
        "upgradePolicy": {"supportType": "STANDARD"}, "skipDefaultNodeGroup": True, "skipDefaultSecurityGroups": True,
        "vpcCniOptions": {"enableNetworkPolicy": True}, "corednsAddonOptions": {"enabled": False},
        "tags": {"karpenter.sh/discovery": cluster},
    }
    assert resource_named(snapshot, "aws:kms/key:Key", "cluster-secrets-key")["props"] == {
        "description": f"Envelope encryption of Kubernetes Secrets in {cluster}", "enableKeyRotation": True,
        "deletionWindowInDays": 30}
    assert resource_named(snapshot, "aws:cloudwatch/logGroup:LogGroup", "cluster-control-plane-logs")["props"] == {
        "name": f"/aws/eks/{cluster}/cluster", "retentionInDays": 30}
    assert resource_named(snapshot, "aws:sqs/queue:Queue", "cluster-interruptions")["props"] == {
        "name": f"{cluster}-karpenter", "messageRetentionSeconds": 300, "sqsManagedSseEnabled": True}
    # one system node at a time during a node group update
    assert resource_named(snapshot, "aws:eks/nodeGroup:NodeGroup", "cluster-system")["props"]["updateConfig"] == {"maxUnavailable": 1}
    template = resource_named(snapshot, "aws:ec2/launchTemplate:LaunchTemplate", "cluster-system-nodes")["props"]
    assert template["metadataOptions"] == {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1}
    assert template["updateDefaultVersion"] is True

def test_public_endpoint_only_when_opted_in_and_only_from_listed_cidrs(opted_in_snapshot):
    props = resource_named(opted_in_snapshot, "eks:index:Cluster", "cluster-eks")["offlineOnlyProgramInputs"]
    assert props["endpointPublicAccess"] is True and props["endpointPrivateAccess"] is True
    assert props["publicAccessCidrs"] == ["203.0.113.0/24"]


def test_access_entries_admin_and_karpenter_nodes(prod_snapshot, opted_in_snapshot):
    assert [r["name"] for r in resources_of(prod_snapshot, "aws:eks/accessEntry:AccessEntry")] == ["cluster-karpenter-node-access"]
    node_entry = resource_named(opted_in_snapshot, "aws:eks/accessEntry:AccessEntry", "cluster-karpenter-node-access")["props"]
    node_role = resource_named(opted_in_snapshot, "aws:iam/role:Role", "cluster-karpenter-node-role")
    assert node_entry["type"] == "EC2_LINUX" and node_entry["clusterName"] == "vllm-eks-prod-variant"
    assert node_entry["principalArn"].startswith("arn:aws:iam::123456789012:role/cluster-karpenter-node-role")
    admin = resource_named(opted_in_snapshot, "aws:eks/accessEntry:AccessEntry", "cluster-admin-access")["props"]
    assert admin == {"clusterName": "vllm-eks-prod-variant", "principalArn": ADMIN, "type": "STANDARD"}
    association = resource_named(opted_in_snapshot, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation", "cluster-admin-policy")
    assert association["props"]["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
    assert association["props"]["accessScope"] == {"type": "cluster"}
    assert json.loads(node_role["props"]["assumeRolePolicy"])["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_node_roles_have_no_s3_access(stack, request):
    snapshot = request.getfixturevalue(f"{stack}_snapshot")
    for name in ("cluster-system-node-role", "cluster-karpenter-node-role"):
        policies = resource_named(snapshot, "aws:iam/role:Role", name)["props"]["managedPolicyArns"]
        assert sorted(policies) == [
            "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
            "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
            "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
        ]
    node_role_policies = [
        json.loads(r["props"]["policy"])
        for r in resources_of(snapshot, "aws:iam/rolePolicy:RolePolicy")
        if "node-role" in str(r["props"]["role"])
    ]
    assert len(node_role_policies) == 2  # the image-import policy of each (tests/test_image_cache.py)
    actions = [action for document in node_role_policies for statement in document["Statement"] for action in statement["Action"]]
    assert not any(action.startswith("s3:") for action in actions)


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_system_nodes_bottlerocket_on_demand_private_imdsv2(stack, request):
    snapshot = request.getfixturevalue(f"{stack}_snapshot")
    zones, instance_type, scaling = STACKS[stack]
    group = resource_named(snapshot, "aws:eks/nodeGroup:NodeGroup", "cluster-system")["props"]
    assert group["nodeGroupName"] == "system" and group["amiType"] == "BOTTLEROCKET_x86_64"
    assert group["capacityType"] == "ON_DEMAND" and group["instanceTypes"] == [instance_type]
    assert group["labels"] == {"vllm-eks/node-role": "system"}
    assert {key: float(value) for key, value in group["scalingConfig"].items()} == scaling
    assert len(group["subnetIds"]) == zones and all("private" in subnet for subnet in group["subnetIds"])
    template = resource_named(snapshot, "aws:ec2/launchTemplate:LaunchTemplate", "cluster-system-nodes")["props"]
    assert group["launchTemplate"]["version"] == "1"
    assert template["metadataOptions"]["httpTokens"] == "required"
    assert float(template["metadataOptions"]["httpPutResponseHopLimit"]) == 1
    # Bottlerocket's two volumes ("Bottlerocket on EKS", bottlerocket-os docs): the OS on /dev/xvda, images and
    # emptyDirs on /dev/xvdb; every volume encrypted gp3 and deleted with its node.
    assert [(m["deviceName"], float(m["ebs"]["volumeSize"])) for m in template["blockDeviceMappings"]] == [
        ("/dev/xvda", 4), ("/dev/xvdb", 100)]
    assert all(m["ebs"] == {"volumeType": "gp3", "volumeSize": m["ebs"]["volumeSize"], "encrypted": "true",
                            "deleteOnTermination": "true"} for m in template["blockDeviceMappings"])


@pytest.mark.parametrize("stack, instance_type, on_demand_gpus, spot_gpus", [
    # prod: qwen3-8b on g5.12xlarge (4 GPUs), 2 on-demand baseline replicas of at most 10: 8 GPUs, 32 for the burst.
    ("prod", "g5.12xlarge", "8", "32"),
    # dev: qwen3-1.7b on one L4 (g6.2xlarge), 1 on-demand baseline replica of at most 4.
    ("dev", "g6.2xlarge", "1", "3"),
])
def test_node_pools_spot_burst_contract(stack, instance_type, on_demand_gpus, spot_gpus, request):
    """Karpenter docs, "NodePools": the pool of higher `weight` is tried first; `limits` caps the pool's GPUs;
    `disruption` with `consolidationPolicy: WhenEmpty` removes only nodes without workload pods, after
    `consolidateAfter`, within `budgets` per reason; `template.spec.expireAfter` replaces a node after that age and
    `terminationGracePeriod` bounds how long a leaving node waits for its pods' PDBs."""
    snapshot = request.getfixturevalue(f"{stack}_snapshot")
    pools = {r["props"]["metadata"]["name"]: r["props"]["spec"] for r in resources_of(snapshot, NODE_POOL)}

    def expected(weight: float, gpus: str, consolidate_after: str, capacity_type: str) -> dict:
        return {
            "weight": weight, "limits": {"nvidia.com/gpu": gpus},
            # an empty GPU node waits before it goes (a new one takes minutes to boot and load weights); Spot sooner
            "disruption": {"consolidationPolicy": "WhenEmpty", "consolidateAfter": consolidate_after,
                           "budgets": [{"nodes": "20%", "reasons": ["Empty"]}, {"nodes": "1", "reasons": ["Drifted"]}]},
            "template": {
                "metadata": {"labels": {"vllm-eks/node-role": "gpu"}},
                "spec": {
                    "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "gpu"},
                    "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}],
                    # 30 days on one AMI at most; an hour covers the longest request the edge allows (15 min)
                    "expireAfter": "720h", "terminationGracePeriod": "1h",
                    "requirements": [
                        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": [capacity_type]},
                        {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": [instance_type]},
                        {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
                        {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
                    ],
                },
            },
        }

    assert pools == {"gpu-on-demand": expected(100, on_demand_gpus, "10m", "on-demand"),
                     "gpu-spot": expected(10, spot_gpus, "5m", "spot")}


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_node_class_bottlerocket_nvidia_private_encrypted_imdsv2(stack, request):
    snapshot = request.getfixturevalue(f"{stack}_snapshot")
    cluster = f"vllm-eks-{stack}"
    spec = resource_named(snapshot, NODE_CLASS, "cluster-gpu-node-class")["props"]["spec"]
    assert spec["amiSelectorTerms"] == [{"alias": GPU_AMI_ALIASES["bottlerocket"]}]
    assert spec["subnetSelectorTerms"] == spec["securityGroupSelectorTerms"] == [{"tags": {"karpenter.sh/discovery": cluster}}]
    assert spec["role"].startswith("cluster-karpenter-node-role")
    devices = {d["deviceName"]: d["ebs"] for d in spec["blockDeviceMappings"]}
    # gp3's baseline is 3000 IOPS / 125 MiB/s (EBS user guide, "General Purpose SSD volumes"); the data volume that
    # holds the image and s3-sync weights is raised to 6000 / 500. Both stacks keep gpuNodeVolumeGib's default, 200.
    assert {device: (ebs["volumeSize"], float(ebs["iops"]), float(ebs["throughput"])) for device, ebs in devices.items()} == {
        "/dev/xvda": ("4Gi", 3000, 125), "/dev/xvdb": ("200Gi", 6000, 500)}
    assert all(ebs["encrypted"] is True and ebs["volumeType"] == "gp3" and ebs["deleteOnTermination"] is True
               for ebs in devices.values())
    # Karpenter docs, "NodeClasses" metadataOptions: IMDS on over IPv4 only, IMDSv2 tokens required, one hop (pods
    # cannot reach the node role's credentials).
    assert {key: (float(value) if key == "httpPutResponseHopLimit" else value) for key, value in spec["metadataOptions"].items()} == {
        "httpEndpoint": "enabled", "httpProtocolIPv6": "disabled", "httpTokens": "required", "httpPutResponseHopLimit": 1}
    assert spec["tags"] == {"karpenter.sh/discovery": cluster, "vllm-eks/node-role": "gpu"}
    subnets = [r for r in resources_of(snapshot, "aws:ec2/subnet:Subnet") if "-private-" in r["name"]]
    assert subnets and all(s["props"]["tags"]["karpenter.sh/discovery"] == cluster for s in subnets)
    tag = resource_named(snapshot, "aws:ec2/tag:Tag", "cluster-cluster-sg-discovery")["props"]
    assert (tag["key"], tag["value"]) == ("karpenter.sh/discovery", cluster) and tag["resourceId"].startswith("sg-")


@pytest.mark.parametrize("stack", ["dev", "prod", "variant"])
def test_karpenter_resources_match_the_upstream_crds(stack, dev_snapshot, prod_snapshot, opted_in_snapshot):
    snapshot = {"dev": dev_snapshot, "prod": prod_snapshot, "variant": opted_in_snapshot}[stack]
    rendered = resources_of(snapshot, NODE_POOL) + resources_of(snapshot, NODE_CLASS)
    assert len(rendered) == 3
    for resource in rendered:
        validate_custom(manifest(resource))
        assert resource["options"]["provider"] is not None


def test_strict_crd_validation_rejects_a_misspelt_field(prod_snapshot):
    pool = manifest(resource_named(prod_snapshot, NODE_POOL, "cluster-gpu-spot"))
    pool["spec"]["disruption"]["consolidateAftr"] = "5m"
    with pytest.raises(AssertionError, match="consolidateAftr"):
        validate_custom(pool)


def test_karpenter_chart_irsa_and_interruption_queue(prod_snapshot):
    release = resource_named(prod_snapshot, HELM, "cluster-karpenter")["props"]
    assert (release["chart"], release["version"]) == ("oci://public.ecr.aws/karpenter/karpenter", KARPENTER_CHART.version)
    # An OCI chart is referenced by its full oci:// URL and has no chart repository (Helm docs "Use OCI-based
    # registries": `helm install myrelease oci://localhost:5000/helm-charts/mychart --version 0.1.0`; Karpenter's
    # "Getting Started" installs `oci://public.ecr.aws/karpenter/karpenter` the same way).
    assert "repositoryOpts" not in release
    # Helm "helm install --atomic": a failed install is rolled back; 900 s, not Helm's 300 s, while system nodes join.
    assert (release["name"], release["namespace"], release["atomic"], release["timeout"]) == ("karpenter", "kube-system", True, 900)
    assert f"| v{KARPENTER_CHART.version} |" in (CRDS_DIR / "README.md").read_text()  # the vendored CRDs' tag
    values = release["values"]
    role_arn = values["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert role_arn.startswith("arn:aws:iam::123456789012:role/cluster-karpenter-controller")
    # Karpenter chart values.yaml: serviceAccount.name/annotations (IRSA), settings.clusterName/interruptionQueue,
    # replicas, nodeSelector, controller.resources. Two replicas on the system nodes (leader election keeps one active).
    assert values == {
        "serviceAccount": {"name": "karpenter", "annotations": {"eks.amazonaws.com/role-arn": role_arn}},
        "settings": {"clusterName": "vllm-eks-prod", "interruptionQueue": "vllm-eks-prod-karpenter"},
        "replicas": 2,
        "nodeSelector": {"kubernetes.io/os": "linux", "vllm-eks/node-role": "system"},
        # the image through the account's ECR pull-through cache of public.ecr.aws (prefix ecr-public)
        "controller": {"image": {"repository": "123456789012.dkr.ecr.us-east-1.amazonaws.com/ecr-public/karpenter/controller"},
                       "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}},
    }
    controller = resource_named(prod_snapshot, "aws:iam/role:Role", "cluster-karpenter-controller")
    condition = json.loads(controller["props"]["assumeRolePolicy"])["Statement"][0]["Condition"]["StringEquals"]
    assert sorted(condition.values()) == ["sts.amazonaws.com", "system:serviceaccount:kube-system:karpenter"]
    queue = resource_named(prod_snapshot, "aws:sqs/queue:Queue", "cluster-interruptions")["props"]
    assert queue["sqsManagedSseEnabled"] is True
    # The events Karpenter's interruption queue takes, each from its source (Karpenter docs, "Interruption", and the
    # getting-started CloudFormation template's rules: AWS Health scheduled changes, the EC2 Spot, rebalance,
    # state-change and capacity-reservation events).
    rules = {r["name"]: r["props"] for r in resources_of(prod_snapshot, "aws:cloudwatch/eventRule:EventRule")}
    assert {name: json.loads(props["eventPattern"]) for name, props in rules.items()} == {
        "cluster-scheduled-change": {"source": ["aws.health"], "detail-type": ["AWS Health Event"]},
        "cluster-capacity-reservation-interruption": {
            "source": ["aws.ec2"], "detail-type": ["EC2 Capacity Reservation Instance Interruption Warning"]},
        "cluster-rebalance": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance Rebalance Recommendation"]},
        "cluster-instance-state-change": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]},
        "cluster-spot-interruption": {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]},
    }
    assert rules["cluster-rebalance"]["description"] == (
        "Karpenter interruption handling for vllm-eks-prod: EC2 Instance Rebalance Recommendation")
    targets = {t["name"]: t["props"] for t in resources_of(prod_snapshot, "aws:cloudwatch/eventTarget:EventTarget")}
    assert sorted(targets) == sorted(f"{name}-target" for name in rules)
    assert all(t["arn"].endswith(":vllm-eks-prod-karpenter") and t["targetId"] == "KarpenterInterruptionQueue"
               for t in targets.values())


def test_device_plugin_only_for_al2023(prod_snapshot, opted_in_snapshot):
    assert [r["name"] for r in resources_of(prod_snapshot, HELM)].count("cluster-nvidia-device-plugin") == 0
    plugin = resource_named(opted_in_snapshot, HELM, "cluster-nvidia-device-plugin")["props"]
    assert plugin["version"] == NVIDIA_DEVICE_PLUGIN_CHART.version
    # NVIDIA k8s-device-plugin README, "Deploying with Helm": `helm repo add nvdp https://nvidia.github.io/k8s-device-plugin`
    assert (plugin["chart"], plugin["repositoryOpts"]) == ("nvidia-device-plugin", {"repo": "https://nvidia.github.io/k8s-device-plugin"})
    assert (plugin["name"], plugin["namespace"], plugin["atomic"], plugin["timeout"]) == ("nvidia-device-plugin", "kube-system", True, 900)
    # Karpenter docs, "Well-Known Labels": every node Karpenter launches carries `karpenter.sh/nodepool: <pool>`; the
    # plugin runs only there, and tolerates the GPU pools' taint.
    assert plugin["values"] == {
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "karpenter.sh/nodepool", "operator": "In", "values": ["gpu-on-demand", "gpu-spot"]}]}]}}},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}],
    }
    node_class = resource_named(opted_in_snapshot, NODE_CLASS, "cluster-gpu-node-class")["props"]["spec"]
    assert node_class["amiSelectorTerms"] == [{"alias": GPU_AMI_ALIASES["al2023"]}]
    # AL2023 has one root volume (no Bottlerocket data volume): the whole gpuNodeVolumeGib, encrypted gp3 at 6000/500.
    assert node_class["blockDeviceMappings"] == [{"deviceName": "/dev/xvda", "ebs": {
        "volumeType": "gp3", "encrypted": True, "deleteOnTermination": True, "iops": 6000, "throughput": 500,
        "volumeSize": "200Gi"}}]


def test_outputs_kubeconfig_secret_and_provider(prod_snapshot):
    assert prod_snapshot["outputs"]["kubeconfig"] == "[secret]"
    assert prod_snapshot["outputs"]["clusterName"] == "vllm-eks-prod"
    provider = resource_named(prod_snapshot, "pulumi:providers:kubernetes", "cluster-k8s")
    assert "kubeconfig" in provider["props"]


# --- config errors at load ---------------------------------------------------------------------------------------------
def _sections(**overrides) -> dict:
    model = {"name": "m", "servedName": "m", "catalogModel": "qwen3-8b", "s3Prefix": "models/m", "maxModelLen": 4096}
    sections = {"models": [model], "edge": {"consumers": [{"name": "a", "requestsPerSecond": 1, "burst": 1}]}}
    for key, value in overrides.items():
        sections[key] = value
    return sections


def test_unknown_gpu_instance_type_fails_at_load():
    model = {"name": "m", "servedName": "m", "catalogModel": "qwen3-8b", "s3Prefix": "models/m", "maxModelLen": 4096, "instanceType": "g9.xlarge"}
    with pytest.raises(StackConfigError) as error:
        load_stack_config(_sections(models=[model]))
    assert "models[0].instanceType: got 'g9.xlarge', expected 'auto' or a GPU instance type the catalog knows: g5.xlarge" in str(error.value)


@pytest.mark.parametrize("zones", [0, 1])
def test_private_cluster_without_private_subnets_fails_at_load(zones):
    with pytest.raises(StackConfigError) as error:
        load_stack_config(_sections(network={"availabilityZones": zones}))
    assert str(error.value).splitlines()[1].strip() == (
        f"network.availabilityZones: got {zones}, expected an integer >= 2 "
        "(one private subnet per zone; the private EKS cluster needs private subnets in at least 2 zones)"
    )


def test_public_endpoint_needs_cidrs_and_never_everywhere():
    with pytest.raises(StackConfigError, match=r"cluster.publicAccessCidrs: got \[\], expected at least one CIDR"):
        load_stack_config(_sections(cluster={"endpointPublicAccess": True}))
    with pytest.raises(StackConfigError, match="never 0.0.0.0/0"):
        load_stack_config(_sections(cluster={"endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]}))


def test_on_demand_gpus_per_capacity_type():
    """What each capacity type asks of the on-demand pool (README, "Spot burst"): an on-demand model all its replicas'
    GPUs, a Spot model none, a burst model its on-demand baseline."""
    from vllm_eks.cluster.karpenter import on_demand_gpus

    assert on_demand_gpus("on-demand", 10, 2, 4) == 40
    assert on_demand_gpus("spot", 10, 2, 4) == 0
    assert on_demand_gpus("on-demand-with-spot-burst", 10, 2, 4) == 8


def test_an_all_on_demand_stack_leaves_the_spot_pool_no_gpu():
    """prod with its model on on-demand capacity only and maxGpus what it needs: the on-demand pool takes all 32 GPUs
    (8 replicas of 4) and the Spot pool's `limits` is 0, so Karpenter launches nothing there (Karpenter docs,
    "NodePools": limits)."""
    config = copy.deepcopy(read_stack_config("prod"))
    config["vllm-eks:models"] = [{**config["vllm-eks:models"][0], "capacityType": "on-demand"}]
    config["vllm-eks:cluster"] = {**config["vllm-eks:cluster"], "maxGpus": 32}
    snapshot = render_config("prod-on-demand", config)
    limits = {r["props"]["metadata"]["name"]: r["props"]["spec"]["limits"] for r in resources_of(snapshot, NODE_POOL)}
    assert limits == {"gpu-on-demand": {"nvidia.com/gpu": "32"}, "gpu-spot": {"nvidia.com/gpu": "0"}}
