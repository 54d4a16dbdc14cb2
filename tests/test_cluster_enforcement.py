"""What a real EKS cluster needs before the stack's promises hold: NetworkPolicy enforcement, the API address the
router dials, storage Prometheus can bind, managed core add-ons. Asserted on the rendered resources."""

from __future__ import annotations

import json

import pytest

from k8s_schemas import manifest, validate_core
from rendered import resource_named


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_vpc_cni_enforces_network_policies(stack, dev_snapshot, prod_snapshot):
    """pulumi-eks nodejs/eks/addons/cni-addon.ts (mergeConfigurationValues) puts `enableNetworkPolicy` into the
    vpc-cni add-on only when `vpcCniOptions.enableNetworkPolicy` is passed; AWS "Limit Pod traffic with Kubernetes
    network policies": the VPC CNI ignores NetworkPolicy objects unless it is set."""
    snapshot = dev_snapshot if stack == "dev" else prod_snapshot
    props = resource_named(snapshot, "eks:index:Cluster", "cluster-eks")["offlineOnlyProgramInputs"]
    assert props["vpcCniOptions"]["enableNetworkPolicy"] is True


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_prometheus_claims_an_encrypted_gp3_class_the_ebs_csi_driver_provisions(stack, dev_snapshot, prod_snapshot):
    """AWS, "Store Kubernetes volumes with Amazon EBS": EBS volumes need the EBS CSI driver (add-on
    aws-ebs-csi-driver, IRSA role for kube-system:ebs-csi-controller-sa with AmazonEBSCSIDriverPolicy); AWS, "Amazon
    EKS Kubernetes versions" (1.30): gp2 is no longer marked default, so a claim naming no class stays Pending.
    kube-prometheus-stack values.yaml: prometheus.prometheusSpec.storageSpec.volumeClaimTemplate is a PVC template."""
    snapshot = dev_snapshot if stack == "dev" else prod_snapshot
    addon = resource_named(snapshot, "aws:eks/addon:Addon", "addons-ebs-csi-driver")["props"]
    assert addon["addonName"] == "aws-ebs-csi-driver" and addon["clusterName"] == f"vllm-eks-{stack}"
    # EKS API CreateAddon/UpdateAddon resolveConflicts (NONE | OVERWRITE | PRESERVE): OVERWRITE lets the managed
    # add-on's settings replace fields someone changed by hand, so create and update never fail on a conflict.
    assert (addon["resolveConflictsOnCreate"], addon["resolveConflictsOnUpdate"]) == ("OVERWRITE", "OVERWRITE")
    role = resource_named(snapshot, "aws:iam/role:Role", "addons-ebs-csi")
    assert addon["serviceAccountRoleArn"].startswith("arn:aws:iam::123456789012:role/addons-ebs-csi")
    trust = json.loads(role["props"]["assumeRolePolicy"])["Statement"][0]["Condition"]["StringEquals"]
    assert "system:serviceaccount:kube-system:ebs-csi-controller-sa" in trust.values()
    attachment = resource_named(snapshot, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "addons-ebs-csi-policy")
    assert attachment["props"]["policyArn"] == "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"

    storage_class = resource_named(snapshot, "kubernetes:storage.k8s.io/v1:StorageClass", "addons-gp3")
    validate_core(manifest(storage_class))
    props = storage_class["props"]
    # aws-ebs-csi-driver docs/parameters.md: type, encrypted, csi.storage.k8s.io/fstype; Kubernetes "Storage Classes":
    # WaitForFirstConsumer creates the volume in the pod's zone, allowVolumeExpansion lets a claim grow, Delete
    # removes the volume with its claim.
    assert {key: value for key, value in props.items() if key not in ("apiVersion", "kind")} == {
        "metadata": {"name": "gp3-encrypted"}, "provisioner": "ebs.csi.aws.com",
        "parameters": {"type": "gp3", "encrypted": "true", "csi.storage.k8s.io/fstype": "ext4"},
        "volumeBindingMode": "WaitForFirstConsumer", "allowVolumeExpansion": True, "reclaimPolicy": "Delete"}
    assert any(dependency.endswith("aws:eks/addon:Addon::addons-ebs-csi-driver") for dependency in storage_class["options"]["dependsOn"])

    release = resource_named(snapshot, "kubernetes:helm.sh/v3:Release", "observability-kube-prometheus-stack")
    claim = release["props"]["values"]["prometheus"]["prometheusSpec"]["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["storageClassName"] == props["metadata"]["name"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_coredns_is_a_managed_add_on(stack, dev_snapshot, prod_snapshot):
    """pulumi-eks ClusterArgs.coredns_addon_options: "The managed addon can only be enabled if the cluster is a Fargate
    cluster or if the cluster uses the default node group, otherwise the self-managed addon is used" (this stack
    skips the default node group); AWS, "Manage CoreDNS for DNS in Amazon EKS clusters": a self-managed CoreDNS is
    not updated by EKS."""
    snapshot = dev_snapshot if stack == "dev" else prod_snapshot
    addon = resource_named(snapshot, "aws:eks/addon:Addon", "addons-coredns")
    assert addon["props"]["addonName"] == "coredns" and addon["props"]["clusterName"] == f"vllm-eks-{stack}"
    assert (addon["props"]["resolveConflictsOnCreate"], addon["props"]["resolveConflictsOnUpdate"]) == ("OVERWRITE", "OVERWRITE")
    assert any(dependency.endswith("aws:eks/nodeGroup:NodeGroup::cluster-system") for dependency in addon["options"]["dependsOn"])
    cluster = resource_named(snapshot, "eks:index:Cluster", "cluster-eks")["offlineOnlyProgramInputs"]
    assert cluster["corednsAddonOptions"]["enabled"] is False, "exactly one CoreDNS add-on"
