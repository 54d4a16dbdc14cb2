"""Every branch of the network policies (policies/security_network.py) on the small compliant stack, one change at a
time: the "cannot judge yet" answer naming the value it waits for, and each side branch firing with its whole message
or staying quiet.

An unknown is what the engine sends on a first preview for a value computed from a resource not created yet
(pulumi/pulumi sdk/go/common/resource/plugin/rpc.go UnknownStringValue). Only the three network policies are enabled
(pulumi_policy runs no disabled policy), and the pack analyzes only the resources a case changed or added.
"""

from __future__ import annotations

import pytest

from .branch_cases import checked_alone, fired_messages
from .snapshots import UNKNOWN, add, compliant_stack, find, resource

POLICIES = ("no-public-node-ips", "nodes-in-private-subnets", "eks-endpoint-private")

SUBNET = "aws:ec2/subnet:Subnet"
EKS_COMPONENT = "eks:index:Cluster"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
NODE_TAGS = "kubernetes.io/role/internal-elb, karpenter.sh/discovery"  # the compliant stack's private subnet tags


def _checked(pack, mutation, config=None):
    return checked_alone(pack, compliant_stack(), mutation, POLICIES, config)


def _props(type_, name=None):
    return lambda s: find(s, type_, name)["props"]


def _update(getter, **values):
    return lambda s: getter(s).update(values)


def _subnet(name="net-private-a"):
    return _props(SUBNET, name)


def _component(**values):
    return _update(_props(EKS_COMPONENT), **values)


def _vpc(**values):
    return _update(lambda s: find(s, EKS_CLUSTER)["props"]["vpcConfig"], **values)


def _node_class_spec(**values):
    return _update(lambda s: find(s, NODE_CLASS)["props"]["spec"], **values)


def _added(type_, name, props):
    return lambda s: add(s, resource(type_, name, props))


def _both(*mutations):
    def mutate(s):
        for mutation in mutations:
            mutation(s)
    return mutate


def _tag(name, key, value="1"):
    return lambda s: find(s, SUBNET, name)["props"]["tags"].__setitem__(key, value)


UNKNOWN_CASES = [
    ("no-public-node-ips", _update(_subnet(), mapPublicIpOnLaunch=UNKNOWN), ["mapPublicIpOnLaunch"]),
    ("no-public-node-ips", _update(lambda s: find(s, LAUNCH_TEMPLATE)["props"]["networkInterfaces"][0],
                                   associatePublicIpAddress=UNKNOWN),
     ["networkInterfaces[0].associatePublicIpAddress"]),
    ("no-public-node-ips", _added("aws:ec2/launchConfiguration:LaunchConfiguration", "gpu-default",
                                  {"associatePublicIpAddress": UNKNOWN}), ["associatePublicIpAddress"]),
    ("no-public-node-ips", _component(skipDefaultNodeGroup=UNKNOWN), ["skipDefaultNodeGroup"]),
    ("no-public-node-ips", _component(skipDefaultNodeGroup=False, nodeAssociatePublicIpAddress=UNKNOWN),
     ["nodeAssociatePublicIpAddress"]),
    ("no-public-node-ips", _added("eks:index:NodeGroupV2", "gpu-self-managed", {"nodeAssociatePublicIpAddress": UNKNOWN}),
     ["nodeAssociatePublicIpAddress"]),
    ("no-public-node-ips", _node_class_spec(associatePublicIPAddress=UNKNOWN), ["spec.associatePublicIPAddress"]),
    ("nodes-in-private-subnets", _update(_props("eks:index:ManagedNodeGroup"), subnetIds=UNKNOWN),
     ["gpu-system.subnetIds"]),
    ("nodes-in-private-subnets", _node_class_spec(subnetSelectorTerms=UNKNOWN),
     ["gpu-nodeclass.spec.subnetSelectorTerms"]),
    ("nodes-in-private-subnets", _node_class_spec(subnetSelectorTerms=[{"tags": UNKNOWN}]),
     ["gpu-nodeclass.spec.subnetSelectorTerms[0].tags"]),
    ("nodes-in-private-subnets", _node_class_spec(subnetSelectorTerms=[{"tags": ["karpenter.sh/discovery"]}]),
     ["gpu-nodeclass.spec.subnetSelectorTerms[0].tags"]),
    ("eks-endpoint-private", _update(_props(EKS_CLUSTER), vpcConfig=UNKNOWN), ["vpcConfig"]),
    ("eks-endpoint-private", _component(endpointPublicAccess=UNKNOWN), ["endpointPublicAccess/publicAccessCidrs"]),
    ("eks-endpoint-private", _vpc(endpointPublicAccess=UNKNOWN), ["endpointPublicAccess/publicAccessCidrs"]),
    ("eks-endpoint-private", _component(endpointPublicAccess=True, publicAccessCidrs=UNKNOWN),
     ["endpointPublicAccess/publicAccessCidrs"]),
    ("eks-endpoint-private", _component(endpointPublicAccess=True, publicAccessCidrs=["203.0.113.0/24", UNKNOWN]),
     ["endpointPublicAccess/publicAccessCidrs"]),
]


@pytest.mark.parametrize("policy, mutation, waits_for", UNKNOWN_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(UNKNOWN_CASES)])
def test_an_unknown_value_is_not_judged_and_named(pack, policy, mutation, waits_for):
    result = _checked(pack, mutation)
    assert [v.message for v in result.violations if v.policy_name in POLICIES] == []
    assert [item["reason"] for item in result.not_applicable if item["policy"] == policy] == [
        f"unknown during preview: {where}" for where in waits_for]


PUBLIC_NODE_GROUP = ("{} places nodes in public subnet '{}' via {}; nodes must run in private subnets.")
PUBLIC_ENDPOINT = ("{}endpointPublicAccess is on with publicAccessCidrs {}; turn the public endpoint off or allow only "
                   "specific networks (prefix /{} or longer).")
NO_CIDRS = ("{}endpointPublicAccess is on and publicAccessCidrs is unset (AWS defaults to 0.0.0.0/0); turn the public "
            "endpoint off or restrict publicAccessCidrs.")
SELECTS_PUBLIC = ("EC2NodeClass 'gpu-nodeclass' subnetSelectorTerms[0] selects public subnet '{}'; Karpenter "
                  "nodes must land in private subnets.")
# net-public-a tagged for Karpenter's discovery: a node subnet that is public, whatever the tag's value.
DISCOVERY_ON_PUBLIC = [
    "Subnet tagged karpenter.sh/discovery (a node subnet) has mapPublicIpOnLaunch: true; set it to false so nodes "
    "never get public IPs.",
    "Subnet is tagged both as a node subnet (karpenter.sh/discovery) and as a public load-balancer subnet "
    "(kubernetes.io/role/elb); nodes must run in private subnets only."]
DEFAULT_GROUP_PUBLIC_IP = ("nodeAssociatePublicIpAddress is true; set it to false (or skipDefaultNodeGroup: true) so "
                           "worker nodes get no public IPs.")

SIDE_CASES = [
    # no-public-node-ips (EC2 CreateSubnet MapPublicIpOnLaunch; launch template NetworkInterface
    # AssociatePublicIpAddress; Karpenter EC2NodeClass spec.associatePublicIPAddress)
    ("subnet-maps-public-ips", _update(_subnet(), mapPublicIpOnLaunch="true"), None, {
        "no-public-node-ips": [f"Subnet tagged {NODE_TAGS} (a node subnet) has mapPublicIpOnLaunch: true; set it to "
                               "false so nodes never get public IPs."],
        "nodes-in-private-subnets": [PUBLIC_NODE_GROUP.format("eks:index:ManagedNodeGroup 'gpu-system'",
                                                              "net-private-a", "subnetIds"),
                                     SELECTS_PUBLIC.format("net-private-a")]}),
    ("subnet-tagged-public-too", _tag("net-private-a", "kubernetes.io/role/elb"), None, {
        "no-public-node-ips": [f"Subnet is tagged both as a node subnet ({NODE_TAGS}) and as a public load-balancer "
                               "subnet (kubernetes.io/role/elb); nodes must run in private subnets only."],
        "nodes-in-private-subnets": [PUBLIC_NODE_GROUP.format("eks:index:ManagedNodeGroup 'gpu-system'",
                                                              "net-private-a", "subnetIds"),
                                     SELECTS_PUBLIC.format("net-private-a")]}),
    ("public-subnet-untagged-for-nodes", _update(_subnet("net-public-a"), mapPublicIpOnLaunch=True), None, {}),
    ("launch-template-public-ip", _update(lambda s: find(s, LAUNCH_TEMPLATE)["props"]["networkInterfaces"][0],
                                          associatePublicIpAddress="true"), None, {
        "no-public-node-ips": ["networkInterfaces[0].associatePublicIpAddress is true; node launch templates must "
                               "not associate public IP addresses."]}),
    ("launch-configuration-public-ip", _added("aws:ec2/launchConfiguration:LaunchConfiguration", "gpu-default",
                                              {"associatePublicIpAddress": True}), None, {
        "no-public-node-ips": ["associatePublicIpAddress is true; node launch configurations must not assign public "
                               "IPs."]}),
    ("launch-configuration-private", _added("aws:ec2/launchConfiguration:LaunchConfiguration", "gpu-default",
                                            {"associatePublicIpAddress": False}), None, {}),
    ("default-group-public-ip", _component(skipDefaultNodeGroup=False, nodeAssociatePublicIpAddress=True), None,
     {"no-public-node-ips": [DEFAULT_GROUP_PUBLIC_IP]}),
    ("default-group-skipped", _component(skipDefaultNodeGroup=True, nodeAssociatePublicIpAddress=True), None, {}),
    # pulumi-eks: nodeAssociatePublicIpAddress unset leaves the launch configuration to say it (judged there).
    ("default-group-flag-absent", _component(skipDefaultNodeGroup=False), None, {}),
    ("self-managed-public-ip", _added("eks:index:NodeGroup", "gpu-self-managed", {"nodeAssociatePublicIpAddress": True}),
     None, {"no-public-node-ips": [DEFAULT_GROUP_PUBLIC_IP]}),
    ("self-managed-no-public-ip", _added("eks:index:NodeGroup", "gpu-self-managed",
                                         {"nodeAssociatePublicIpAddress": False}), None, {}),
    ("node-class-public-ip", _node_class_spec(associatePublicIPAddress=True), None, {
        "no-public-node-ips": ["EC2NodeClass spec.associatePublicIPAddress is true; Karpenter nodes must not get "
                               "public IPs."]}),
    # nodes-in-private-subnets
    ("eks-node-group-public", _added("aws:eks/nodeGroup:NodeGroup", "gpu-extra", {"subnetIds": ["net-public-b-id"]}),
     None, {"nodes-in-private-subnets": [PUBLIC_NODE_GROUP.format("aws:eks/nodeGroup:NodeGroup 'gpu-extra'",
                                                                  "net-public-b", "subnetIds")]}),
    # pulumi-eks ClusterArgs nodeSubnetIds: "The subnets to use for worker nodes" (before private/public subnets).
    ("default-group-node-subnets", _component(skipDefaultNodeGroup=False, nodeAssociatePublicIpAddress=False,
                                              nodeSubnetIds=["net-public-a-id"]), None, {
        "nodes-in-private-subnets": [PUBLIC_NODE_GROUP.format("eks:index:Cluster 'gpu'", "net-public-a",
                                                              "nodeSubnetIds")]}),
    # skipDefaultNodeGroup true: there is no default node group, whatever subnets the cluster names.
    ("default-group-skipped-public-subnets", lambda s: find(s, EKS_COMPONENT)["props"].pop("privateSubnetIds"), None,
     {}),
    # A real preview shows the remote component with empty inputs: nothing to judge there.
    ("default-group-inputs-absent", lambda s: find(s, EKS_COMPONENT)["props"].pop("skipDefaultNodeGroup"), None, {}),
    ("default-group-private-subnets", _component(skipDefaultNodeGroup=False, nodeAssociatePublicIpAddress=False),
     None, {}),
    # Karpenter docs, "NodeClasses", subnetSelectorTerms: by tags (a value, or "*" for any) or by id.
    ("node-class-by-id-public", _node_class_spec(subnetSelectorTerms=[{"id": "net-public-a"}]), None,
     {"nodes-in-private-subnets": [SELECTS_PUBLIC.format("net-public-a")]}),
    ("node-class-by-id-private", _node_class_spec(subnetSelectorTerms=[{"id": "net-private-a"}]), None, {}),
    ("node-class-tag-on-a-public-subnet", _tag("net-public-a", "karpenter.sh/discovery", "gpu"), None,
     {"no-public-node-ips": DISCOVERY_ON_PUBLIC, "nodes-in-private-subnets": [SELECTS_PUBLIC.format("net-public-a")]}),
    ("node-class-tag-other-value", _tag("net-public-a", "karpenter.sh/discovery", "other"), None,
     {"no-public-node-ips": DISCOVERY_ON_PUBLIC}),
    ("node-class-tag-wildcard", _both(_tag("net-public-a", "karpenter.sh/discovery", "other"), _node_class_spec(
        subnetSelectorTerms=[{"tags": {"karpenter.sh/discovery": "*"}}])), None,
     {"no-public-node-ips": DISCOVERY_ON_PUBLIC, "nodes-in-private-subnets": [SELECTS_PUBLIC.format("net-public-a")]}),
    # A tag value not known yet (on the term or on the subnet) may select the subnet: a public one fails.
    ("node-class-tag-value-unknown", _both(_tag("net-public-a", "karpenter.sh/discovery", "gpu"), _node_class_spec(
        subnetSelectorTerms=[{"tags": {"karpenter.sh/discovery": UNKNOWN}}])), None,
     {"no-public-node-ips": DISCOVERY_ON_PUBLIC, "nodes-in-private-subnets": [SELECTS_PUBLIC.format("net-public-a")]}),
    ("subnet-tag-value-unknown", _tag("net-public-a", "karpenter.sh/discovery", UNKNOWN), None,
     {"no-public-node-ips": DISCOVERY_ON_PUBLIC, "nodes-in-private-subnets": [SELECTS_PUBLIC.format("net-public-a")]}),
    ("node-class-public-tag", _node_class_spec(subnetSelectorTerms=[{"tags": {"kubernetes.io/role/elb": "1"}}]), None,
     {"nodes-in-private-subnets": [
         "EC2NodeClass 'gpu-nodeclass' subnetSelectorTerms[0] selects subnets by kubernetes.io/role/elb (public "
         "load-balancer subnets); select private subnets, e.g. by karpenter.sh/discovery."]}),
    # eks-endpoint-private (EKS UpdateClusterConfig: publicAccessCidrs defaults to 0.0.0.0/0)
    ("component-public-no-cidrs", _component(endpointPublicAccess=True), None,
     {"eks-endpoint-private": [NO_CIDRS.format("")]}),
    ("cluster-public-by-default", lambda s: find(s, EKS_CLUSTER)["props"]["vpcConfig"].pop("endpointPublicAccess"),
     None, {"eks-endpoint-private": [NO_CIDRS.format("vpcConfig.")]}),
    ("cluster-public-empty-cidrs", _vpc(endpointPublicAccess=True, publicAccessCidrs=[]), None,
     {"eks-endpoint-private": [NO_CIDRS.format("vpcConfig.")]}),
    ("cidr-prefix-15", _component(endpointPublicAccess=True, publicAccessCidrs=["203.0.113.0/24", "10.0.0.0/15"]),
     None, {"eks-endpoint-private": [PUBLIC_ENDPOINT.format("", ["10.0.0.0/15"], 16)]}),
    # Host bits set (an address with its prefix) name the network it is in, as the EKS API accepts it.
    ("cidr-with-host-bits", _component(endpointPublicAccess=True, publicAccessCidrs=["203.0.113.7/24"]), None, {}),
    ("component-endpoint-input-absent", lambda s: (find(s, EKS_COMPONENT)["props"].pop("endpointPublicAccess"),
                                                   _component(publicAccessCidrs=["0.0.0.0/0"])(s)), None, {}),
    ("cidr-prefix-16", _component(endpointPublicAccess=True, publicAccessCidrs=["10.0.0.0/16"]), None, {}),
    ("cidr-ipv6-any", _vpc(endpointPublicAccess=True, publicAccessCidrs=["::/0"]), None,
     {"eks-endpoint-private": [PUBLIC_ENDPOINT.format("vpcConfig.", ["::/0"], 16)]}),
    ("cidr-ipv6-short-prefix", _vpc(endpointPublicAccess=True, publicAccessCidrs=["2001:db8::/8"]), None, {}),
    ("cidr-not-a-network", _component(endpointPublicAccess=True, publicAccessCidrs=["office"]), None,
     {"eks-endpoint-private": [PUBLIC_ENDPOINT.format("", ["office"], 16)]}),
    ("cidr-forbidden-by-config", _component(endpointPublicAccess=True, publicAccessCidrs=["203.0.113.0/24"]),
     {"eks-endpoint-private": {"forbiddenPublicCidrs": ["203.0.113.0/24"], "minPublicCidrPrefixLength": 8}},
     {"eks-endpoint-private": [PUBLIC_ENDPOINT.format("", ["203.0.113.0/24"], 8)]}),
    ("cidr-prefix-by-config", _component(endpointPublicAccess=True, publicAccessCidrs=["10.0.0.0/8"]),
     {"eks-endpoint-private": {"minPublicCidrPrefixLength": 8}}, {}),
]


@pytest.mark.parametrize("mutation, config, expected", [c[1:] for c in SIDE_CASES], ids=[c[0] for c in SIDE_CASES])
def test_each_side_branch_fires_with_its_message_or_stays_quiet(pack, mutation, config, expected):
    result = _checked(pack, mutation, config)
    assert fired_messages(result, POLICIES) == {
        policy: sorted(messages) for policy, messages in expected.items()}
    if not expected:
        assert [i for i in result.not_applicable if i["policy"] in POLICIES] == []
