"""nodes-in-private-subnets (policies/security_network.py) on the pulumi-eks node producers beside ManagedNodeGroup:
the self-managed node groups and the cluster's default node group given only `subnetIds`. Sent through the Analyzer
gRPC protocol like `pulumi preview` does; each form fires with the input it placed nodes by, and is quiet when that
input names private subnets only.
"""

from __future__ import annotations

import pytest

from .snapshots import add, find, mutated, resource

POLICY = "nodes-in-private-subnets"
EKS_COMPONENT = "eks:index:Cluster"
PUBLIC_AND_PRIVATE = ["net-public-a-id", "net-private-b-id"]
PRIVATE_ONLY = ["net-private-a-id", "net-private-b-id"]


def _messages(check, snapshot) -> list[str]:
    """Each violation's own line (the pack puts the policy's description first, like the CLI shows it)."""
    return [v.message.splitlines()[-1] for v in check(snapshot).by_policy(POLICY)]


@pytest.mark.parametrize("type_token", ["eks:index:NodeGroup", "eks:index:NodeGroupV2"])
def test_self_managed_node_group_in_a_public_subnet_fires(check, type_token):
    """pulumi-eks' self-managed node groups register as `eks:index:NodeGroup` and `eks:index:NodeGroupV2`
    (pulumi-eks sdk/python/pulumi_eks/node_group.py and node_group_v2.py, the type tokens passed to
    ComponentResource.__init__) and take their subnets from `nodeSubnetIds` ("The set of subnets to override and use
    for the worker node group", the same files' `nodeSubnetIds` getter)."""
    public = mutated(lambda s: add(s, resource(type_token, "gpu-self-managed", {"nodeSubnetIds": PUBLIC_AND_PRIVATE})))
    assert _messages(check, public) == [
        f"{type_token} 'gpu-self-managed' places nodes in public subnet 'net-public-a' via nodeSubnetIds; "
        "nodes must run in private subnets."
    ]
    private = mutated(lambda s: add(s, resource(type_token, "gpu-self-managed", {"nodeSubnetIds": PRIVATE_ONLY})))
    assert _messages(check, private) == []


def _default_node_group_on(subnet_ids: list[str]):
    def mutation(s):
        props = find(s, EKS_COMPONENT)["props"]
        for key in ("privateSubnetIds", "publicSubnetIds"):
            props.pop(key)
        props.update({"skipDefaultNodeGroup": False, "nodeAssociatePublicIpAddress": False, "subnetIds": subnet_ids})
    return mutation


def test_default_node_group_given_only_subnet_ids_is_judged_by_them(check):
    """Without nodeSubnetIds, privateSubnetIds or publicSubnetIds, pulumi-eks' default node group goes to the
    cluster's `subnetIds` ("The set of all subnets, public and private, to use for the worker node groups on the EKS
    cluster", pulumi-eks sdk/python/pulumi_eks/cluster.py, the `subnetIds` getter)."""
    assert _messages(check, mutated(_default_node_group_on(PUBLIC_AND_PRIVATE))) == [
        "eks:index:Cluster 'gpu' places nodes in public subnet 'net-public-a' via subnetIds; "
        "nodes must run in private subnets."
    ]
    assert _messages(check, mutated(_default_node_group_on(PRIVATE_ONLY))) == []


def test_a_subnet_named_by_its_aws_id_is_recognised_by_that_id(check):
    """A stack policy sees each resource's outputs (pulumi-policy policy.py, `PolicyResource.props`: "The outputs of
    the resource"), so once a subnet exists its `id` is among them, and a node group that names a subnet
    by its literal AWS id (`subnet-…`, a list pasted into a stack) is resolved through that id, not through the
    resource's name; both forms of the id list fire and stay quiet like names do."""
    aws_ids = {"net-public-a": "subnet-0a1b2c3d4e5f60001", "net-private-a": "subnet-0a1b2c3d4e5f60002",
               "net-private-b": "subnet-0a1b2c3d4e5f60003"}

    def with_ids(subnet_names: list[str]):
        def mutation(s):
            for name, aws_id in aws_ids.items():
                find(s, "aws:ec2/subnet:Subnet", name)["props"]["id"] = aws_id
            add(s, resource("eks:index:NodeGroupV2", "gpu-self-managed",
                            {"nodeSubnetIds": [aws_ids[name] for name in subnet_names]}))
        return mutation

    assert _messages(check, mutated(with_ids(["net-public-a", "net-private-b"]))) == [
        "eks:index:NodeGroupV2 'gpu-self-managed' places nodes in public subnet 'net-public-a' via nodeSubnetIds; "
        "nodes must run in private subnets."
    ]
    assert _messages(check, mutated(with_ids(["net-private-a", "net-private-b"]))) == []


def _default_node_group_in_public_subnets(s):
    """pulumi-eks ClusterArgs `privateSubnetIds` (sdk/python/pulumi_eks/cluster.py), worker network architecture
    options: "Public-only: Only set `publicSubnetIds`. Default workers to run in a public subnet." """
    props = find(s, EKS_COMPONENT)["props"]
    props.pop("privateSubnetIds")
    props.update({"skipDefaultNodeGroup": False, "nodeAssociatePublicIpAddress": False})


def _node_class_terms(*terms):
    def mutation(s):
        find(s, "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass", "gpu-nodeclass")["props"]["spec"]["subnetSelectorTerms"] = list(terms)
    return mutation


@pytest.mark.parametrize("mutation, message", [
    (_default_node_group_in_public_subnets,
     "eks:index:Cluster 'gpu' puts its default node group in publicSubnetIds (no privateSubnetIds given); give "
     "privateSubnetIds or skip the default node group."),
    # Karpenter docs, "NodeClasses", spec.subnetSelectorTerms: terms select by tags or by id; a term with neither
    # selects nothing the policy can call private, and one by an unrelated tag may select any subnet.
    (_node_class_terms({"tags": {}}), "EC2NodeClass 'gpu-nodeclass' subnetSelectorTerms[0] selects no private subnet tag or id."),
    (_node_class_terms({"tags": {"karpenter.sh/discovery": "gpu"}}, {"tags": {"team": "ml"}}),
     "EC2NodeClass 'gpu-nodeclass' subnetSelectorTerms[1] selects by ['team']; select private subnets by one of "
     "['kubernetes.io/role/internal-elb', 'karpenter.sh/discovery']."),
])
def test_each_further_way_of_placing_nodes_outside_private_subnets_fires(check, mutation, message):
    assert _messages(check, mutated(mutation)) == [message]
