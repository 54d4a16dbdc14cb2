"""ClusterAddons: the EKS add-ons the stack relies on, managed by EKS so cluster upgrades move them along.

- CoreDNS as a managed add-on: pulumi-eks creates its managed CoreDNS add-on only with its default node group (or
  Fargate), which this stack skips; otherwise the cluster keeps the self-managed CoreDNS EKS bootstrapped, which
  no EKS upgrade ever touches. It is created once the system nodes exist, where its pods run.
- The EBS CSI driver (IRSA role) and the one encrypted gp3 StorageClass claims name.

Since EKS 1.30 no StorageClass is marked default and the in-tree EBS provisioner is gone: a claim that names no
class, or names one nobody installed, stays Pending forever (Prometheus would never start, and with it every alert,
the dashboard and KEDA's queue-depth trigger). Volumes are encrypted with the account's EBS key (`aws/ebs`), which
the driver's managed policy may use without a key-policy grant; a customer key would need one.
"""

from typing import TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from vllm_eks.planning.catalog import COREDNS_ADDON, EBS_CSI_ADDON, EBS_CSI_POLICY_ARN, EBS_CSI_PROVISIONER, EBS_CSI_SERVICE_ACCOUNT
from vllm_eks.iam.irsa import irsa_trust_json

STORAGE_CLASS_NAME = "gp3-encrypted"


def storage_class_parameters() -> dict[str, str]:
    """ebs.csi.aws.com parameters (kubernetes-sigs/aws-ebs-csi-driver docs/parameters.md): gp3, encrypted."""
    return {"type": "gp3", "encrypted": "true", "csi.storage.k8s.io/fstype": "ext4"}


class ClusterAddonsArgs(TypedDict):
    cluster_name: pulumi.Input[str]
    """The EKS cluster the add-ons are installed in."""
    oidc_provider_arn: pulumi.Input[str]
    """The cluster's IAM OIDC provider (the EBS CSI driver's IRSA role trusts it)."""
    oidc_issuer: pulumi.Input[str]
    """The OIDC issuer host/path, without https://."""
    system_node_group: aws.eks.NodeGroup
    """The add-ons' pods need nodes before EKS reports them ACTIVE."""


class ClusterAddons(pulumi.ComponentResource):
    """Managed EKS add-ons: CoreDNS, the EBS CSI driver (IRSA) and the encrypted gp3 `WaitForFirstConsumer` StorageClass
    Prometheus claims.
    """

    storage_class_name: pulumi.Output[str]
    """The encrypted gp3 StorageClass (WaitForFirstConsumer) for persistent volumes."""

    def __init__(self, name: str, args: ClusterAddonsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("vllm-eks:index:ClusterAddons", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        aws.eks.Addon(
            f"{name}-coredns",
            cluster_name=args["cluster_name"],
            addon_name=COREDNS_ADDON,
            # Adopts the self-managed CoreDNS EKS installed at cluster creation.
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            opts=child.merge(pulumi.ResourceOptions(depends_on=[args["system_node_group"]])),
        )
        namespace, service_account = EBS_CSI_SERVICE_ACCOUNT
        role = aws.iam.Role(
            f"{name}-ebs-csi",
            assume_role_policy=irsa_trust_json(args["oidc_provider_arn"], args["oidc_issuer"], namespace, service_account),
            opts=child,
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-ebs-csi-policy", role=role.name, policy_arn=EBS_CSI_POLICY_ARN, opts=child
        )
        addon = aws.eks.Addon(
            f"{name}-ebs-csi-driver",
            cluster_name=args["cluster_name"],
            addon_name=EBS_CSI_ADDON,
            service_account_role_arn=role.arn,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            opts=child.merge(pulumi.ResourceOptions(depends_on=[attachment, args["system_node_group"]])),
        )
        storage_class = k8s.storage.v1.StorageClass(
            f"{name}-gp3",
            metadata={"name": STORAGE_CLASS_NAME},
            provisioner=EBS_CSI_PROVISIONER,
            parameters=storage_class_parameters(),
            # The volume is created in the zone the scheduler picks for the pod, never in another one.
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            reclaim_policy="Delete",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[addon]),
        )
        self.storage_class_name = storage_class.metadata.apply(lambda metadata: metadata["name"])
        self.register_outputs({"storage_class_name": self.storage_class_name})
