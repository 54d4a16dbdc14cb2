"""The offline-only view of remote components: the program's own inputs, with the provider's defaults filled in.

A real `pulumi preview` shows a remote component such as `eks:index:Cluster` with `{}` (see `preflight.render`) and
judges the AWS resources its provider registers. Offline there are no such children, so `preflight check` judges
the inputs the program gave (kept aside by the render as `offlineOnlyProgramInputs`). The pack's policies judge a
component input only where it is present; here an input the program left out becomes the value the provider
uses for it, so "left out" is judged as what it means.
"""

from __future__ import annotations

import copy
from typing import Any

# pulumi-eks defaults, from pulumi/pulumi-eks nodejs/eks/cluster/cluster.ts and nodejs/eks/nodes/nodegroup.ts:
# - `endpointPublicAccess`: passed to aws.eks.Cluster vpcConfig as given; AWS (and the SDK docstring) default true;
# - `skipDefaultNodeGroup = args.skipDefaultNodeGroup || args.fargate || args.autoMode?.enabled`;
# - `nodeAssociatePublicIpAddress = args.nodeAssociatePublicIpAddress ?? true` (the default node group);
# - `if (args.encryptionConfigKeyArn) { encryptionConfig = ... }`: unset means no secrets encryption;
# - `enabledClusterLogTypes: args.enabledClusterLogTypes`: unset means no control-plane logs;
# - vpcCniOptions unset: the VpcCniAddon gets no `enableNetworkPolicy` (nodejs/eks/addons/cni-addon.ts), so none.
_EKS_CLUSTER_DEFAULTS: dict[str, Any] = {
    "vpcCniOptions": {"enableNetworkPolicy": False},  # the vpc-cni add-on's own default; null or {} would not reach the pack
    "endpointPublicAccess": True,
    "nodeAssociatePublicIpAddress": True,
    "encryptionConfigKeyArn": None,
    "enabledClusterLogTypes": None,
}


def _eks_cluster_inputs(inputs: dict[str, Any]) -> dict[str, Any]:
    result = {**_EKS_CLUSTER_DEFAULTS, **inputs}
    if "skipDefaultNodeGroup" not in inputs:
        auto_mode = inputs.get("autoMode")
        result["skipDefaultNodeGroup"] = bool(inputs.get("fargate")) or (
            isinstance(auto_mode, dict) and auto_mode.get("enabled") is True)
    return result


_DEFAULTS_BY_TYPE = {"eks:index:Cluster": _eks_cluster_inputs}


def offline_only_snapshot(snapshot: dict[str, Any]) -> dict[str, Any] | None:
    """A copy of `snapshot` whose remote components carry the program's inputs (provider defaults filled in);
    None when the snapshot has no remote component with kept-aside inputs."""
    result = copy.deepcopy(snapshot)
    found = False
    for resource in result.get("resources", []):
        inputs = resource.get("offlineOnlyProgramInputs")
        if not resource.get("remote") or not isinstance(inputs, dict):
            continue
        found = True
        fill = _DEFAULTS_BY_TYPE.get(resource["type"], dict)
        resource["props"] = fill(inputs)
        # AnalyzeStack sends outputs, and a component's outputs are what it registered: the stack policies of this
        # offline-only pass must see the same program inputs as its resource policies.
        resource["outputs"] = {**(resource.get("outputs") or {}), **resource["props"]}
    return result if found else None
