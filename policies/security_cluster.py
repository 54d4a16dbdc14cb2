"""Security pillar, cluster: NetworkPolicies are enforced at all, and the router's serving port is fenced."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from _aws import EKS_CLUSTER, EKS_COMPONENT
from _stack import MANDATORY, StackView, describe, stack_policy
from _values import as_bool, get, is_unknown

EKS_ADDON = "aws:eks/addon:Addon"
EKS_VPC_CNI_ADDON = "eks:index:VpcCniAddon"  # pulumi-eks' own component for the add-on


# ---------------------------------------------------------------------------------------------------------------
# vpc-cni-network-policy-enforced
# ---------------------------------------------------------------------------------------------------------------

def _addon_enables_network_policy(props: Mapping) -> Any:
    """An `aws:eks/addon:Addon` for vpc-cni: its configurationValues JSON says `"enableNetworkPolicy": "true"`."""
    values = props.get("configurationValues")
    if is_unknown(values):
        return values
    if isinstance(values, str):
        try:
            values = json.loads(values)
        except ValueError:
            return False
    return isinstance(values, Mapping) and str(values.get("enableNetworkPolicy")).lower() == "true"


def _check_network_policy_enforced(view: StackView, config, findings, args):
    """AWS, "Limit Pod traffic with Kubernetes network policies": the VPC CNI enforces NetworkPolicy only when
    `enableNetworkPolicy` is on; pulumi-eks passes it only from vpcCniOptions (nodejs/eks/addons/cni-addon.ts)."""
    evidence: list[Any] = []
    for addon in view.of_type(EKS_ADDON):
        props = view.p(addon)
        if props.get("addonName") == "vpc-cni":
            evidence.append(_addon_enables_network_policy(props))
    for addon in view.of_type(EKS_VPC_CNI_ADDON):
        evidence.append(as_bool(view.p(addon).get("enableNetworkPolicy")))
    components = view.of_type(EKS_COMPONENT)
    component_urns = {c.urn for c in components}
    clusters = components + [c for c in view.of_type(EKS_CLUSTER) if view.parent_urn(c) not in component_urns]
    if any(value is True for value in evidence):
        return
    for cluster in clusters:
        if cluster.resource_type == EKS_COMPONENT:
            value = as_bool(get(view.p(cluster), "vpcCniOptions", "enableNetworkPolicy"))
            if value is True:
                continue
            if is_unknown(value):
                findings.cannot_judge(f"{describe(cluster)} vpcCniOptions.enableNetworkPolicy")
                continue
        if any(is_unknown(value) for value in evidence):
            findings.cannot_judge("vpc-cni add-on configurationValues")
            continue
        findings.fail(f"{describe(cluster)}: the VPC CNI does not enforce NetworkPolicy, so every NetworkPolicy of "
                      "the stack is ignored and any pod reaches vLLM's keyless routes. Set vpcCniOptions."
                      "enableNetworkPolicy: true (or the vpc-cni add-on's configurationValues "
                      '{"enableNetworkPolicy": "true"}).', cluster.urn)


POLICIES = [
    stack_policy(
        name="vpc-cni-network-policy-enforced",
        description="The VPC CNI add-on enforces Kubernetes NetworkPolicy (enableNetworkPolicy); otherwise every "
                    "NetworkPolicy is ignored.",
        enforcement_level=MANDATORY,
        check=_check_network_policy_enforced,
    ),
]
