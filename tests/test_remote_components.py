"""The offline-only view of a remote component stated whole: pulumi-eks' defaults for inputs the program left out
(pulumi/pulumi-eks nodejs/eks/cluster/cluster.ts: endpointPublicAccess as AWS defaults it, true;
`skipDefaultNodeGroup = args.skipDefaultNodeGroup || args.fargate || args.autoMode?.enabled`;
nodejs/eks/nodes/nodegroup.ts: nodeAssociatePublicIpAddress ?? true; no encryption or control-plane logs unless
given; nodejs/eks/addons/cni-addon.ts: no enableNetworkPolicy unless given)."""

from __future__ import annotations

from preflight.remote_components import offline_only_snapshot

DEFAULTS = {"vpcCniOptions": {"enableNetworkPolicy": False}, "endpointPublicAccess": True,
            "nodeAssociatePublicIpAddress": True, "encryptionConfigKeyArn": None, "enabledClusterLogTypes": None}


def _cluster(**inputs) -> dict:
    return {"urn": "urn:c", "type": "eks:index:Cluster", "remote": True, "props": {}, "outputs": {"kubeconfig": "k"},
            "offlineOnlyProgramInputs": inputs}


def test_left_out_inputs_become_the_providers_defaults_in_props_and_outputs():
    snapshot = {"stack": "dev", "resources": [_cluster(endpointPublicAccess=False), {"urn": "urn:b", "type": "aws:x:Y"}]}
    offline = offline_only_snapshot(snapshot)
    props = {**DEFAULTS, "endpointPublicAccess": False, "skipDefaultNodeGroup": False}
    assert offline == {"stack": "dev", "resources": [
        {**_cluster(endpointPublicAccess=False), "props": props, "outputs": {"kubeconfig": "k", **props}},
        {"urn": "urn:b", "type": "aws:x:Y"}]}
    assert snapshot["resources"][0]["props"] == {}  # the input snapshot is left as it was


def test_fargate_or_auto_mode_skip_the_default_node_group_and_an_explicit_value_wins():
    def skip(**inputs):
        return offline_only_snapshot({"resources": [_cluster(**inputs)]})["resources"][0]["props"]["skipDefaultNodeGroup"]

    assert skip(fargate=True) is True
    assert skip(autoMode={"enabled": True}) is True
    assert skip(autoMode={"enabled": "yes"}) is False
    assert skip(autoMode=True) is False
    assert skip(fargate=False, autoMode={"enabled": False}) is False
    assert skip(skipDefaultNodeGroup=False, fargate=True) is False


def test_other_remote_types_keep_their_inputs_and_no_remote_component_means_no_view():
    other = {"urn": "urn:o", "type": "x:index:Other", "remote": True, "offlineOnlyProgramInputs": {"a": 1}}
    assert offline_only_snapshot({"resources": [other]})["resources"][0]["props"] == {"a": 1}
    assert offline_only_snapshot({"resources": [{"type": "t", "remote": True}, {"type": "t", "offlineOnlyProgramInputs": {}}]}) is None
    assert offline_only_snapshot({}) is None
