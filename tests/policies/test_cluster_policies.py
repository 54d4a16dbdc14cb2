"""Cluster-level policies (policies/security_cluster.py, policies/reliability_cluster.py) through the Analyzer
gRPC protocol: each quiet on the compliant stack and on the rendered stacks, and firing on a made-to-fail one."""

from __future__ import annotations

import copy
import json

import pytest

from .snapshots import UNKNOWN, add, compliant_stack, find, mutated, resource

EKS_COMPONENT = "eks:index:Cluster"
POLICY_NAMES = {"vpc-cni-network-policy-enforced"}


def _fired(check, snapshot, policy, policy_config=None) -> list[str]:
    return [v.message for v in check(snapshot, policy_config).by_policy(policy)]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_rendered_stacks_are_quiet(check, dev_snapshot, prod_snapshot, stack):
    snapshot = dev_snapshot if stack == "dev" else prod_snapshot
    fired = [(v.policy_name, v.message) for v in check(snapshot).violations if v.policy_name in POLICY_NAMES]
    assert fired == []


# --- vpc-cni-network-policy-enforced ------------------------------------------------------------------------------


def test_cluster_without_vpc_cni_options_fires(check):
    """pulumi-eks nodejs/eks/addons/cni-addon.ts (mergeConfigurationValues) writes enableNetworkPolicy only when
    vpcCniOptions sets it; AWS "Limit Pod traffic with Kubernetes network policies": enforcement is opt-in."""
    snapshot = mutated(lambda s: find(s, EKS_COMPONENT)["props"].pop("vpcCniOptions"))
    [message] = _fired(check, snapshot, "vpc-cni-network-policy-enforced")
    assert "enableNetworkPolicy" in message and "'gpu'" in message


def test_cluster_with_enforcement_explicitly_off_fires(check):
    snapshot = mutated(lambda s: find(s, EKS_COMPONENT)["props"].update({"vpcCniOptions": {"enableNetworkPolicy": False}}))
    assert _fired(check, snapshot, "vpc-cni-network-policy-enforced")


def test_vpc_cni_addon_configuration_counts_as_enforcement(check):
    """EKS add-on configuration schema for vpc-cni (describe-addon-configuration): `enableNetworkPolicy` is the
    string "true"/"false"."""
    def addon(s, value):
        find(s, EKS_COMPONENT)["props"].pop("vpcCniOptions")
        add(s, resource("aws:eks/addon:Addon", "gpu-vpc-cni", {
            "clusterName": "gpu", "addonName": "vpc-cni", "configurationValues": json.dumps({"enableNetworkPolicy": value})}))
    assert not _fired(check, mutated(lambda s: addon(s, "true")), "vpc-cni-network-policy-enforced")
    assert _fired(check, mutated(lambda s: addon(s, "false")), "vpc-cni-network-policy-enforced")


def test_unknown_enforcement_is_not_judged(check):
    snapshot = mutated(lambda s: find(s, EKS_COMPONENT)["props"].update({"vpcCniOptions": {"enableNetworkPolicy": UNKNOWN}}))
    assert not _fired(check, snapshot, "vpc-cni-network-policy-enforced")
