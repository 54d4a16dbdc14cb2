"""What a real EKS cluster needs before the stack's promises hold: NetworkPolicy enforcement, the API address the
router dials, storage Prometheus can bind, managed core add-ons. Asserted on the rendered resources."""

from __future__ import annotations

import pytest

from rendered import resource_named


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_vpc_cni_enforces_network_policies(stack, dev_snapshot, prod_snapshot):
    """pulumi-eks nodejs/eks/addons/cni-addon.ts (mergeConfigurationValues) puts `enableNetworkPolicy` into the
    vpc-cni add-on only when `vpcCniOptions.enableNetworkPolicy` is passed; AWS "Limit Pod traffic with Kubernetes
    network policies": the VPC CNI ignores NetworkPolicy objects unless it is set."""
    snapshot = dev_snapshot if stack == "dev" else prod_snapshot
    props = resource_named(snapshot, "eks:index:Cluster", "cluster-eks")["props"]
    assert props["vpcCniOptions"]["enableNetworkPolicy"] is True
