"""Security pillar, network: nodes get no public IPs and run in private subnets; the EKS API endpoint is private."""

from __future__ import annotations

import ipaddress
from typing import Any, Mapping

from _aws import EKS_CLUSTER, EKS_COMPONENT, NODE_SUBNET_CONFIG, SUBNET, tags_of
from _stack import MANDATORY, StackView, describe, resource_policy, stack_policy
from _values import UNKNOWN, as_bool, as_list, contains_unknown, get, is_unknown

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
LAUNCH_CONFIGURATION = "aws:ec2/launchConfiguration:LaunchConfiguration"
EKS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
EKS_MANAGED_NODE_GROUP = "eks:index:ManagedNodeGroup"
EKS_SELF_MANAGED = ("eks:index:NodeGroup", "eks:index:NodeGroupV2")
EC2_NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"


def is_public_subnet(props: Mapping, config: Mapping) -> Any:
    """True if the subnet maps public IPs or is tagged for internet-facing load balancers."""
    mapping = as_bool(props.get("mapPublicIpOnLaunch"))
    if mapping is True:
        return True
    tags = tags_of(props)
    if any(key in tags for key in config["publicSubnetTagKeys"]):
        return True
    if is_unknown(mapping):
        return UNKNOWN
    return False


# ---------------------------------------------------------------------------------------------------------------
# no-public-node-ips
# ---------------------------------------------------------------------------------------------------------------

def _check_no_public_node_ips(resource_type, props, config, findings, args):
    if resource_type == SUBNET:
        tags = tags_of(props)
        node_keys = [k for k in config["nodeSubnetTagKeys"] if k in tags]
        if not node_keys:
            return
        mapping = as_bool(props.get("mapPublicIpOnLaunch"))
        if is_unknown(mapping):
            findings.cannot_judge("mapPublicIpOnLaunch")
        elif mapping is True:
            findings.fail(f"Subnet tagged {', '.join(node_keys)} (a node subnet) has mapPublicIpOnLaunch: true; "
                          "set it to false so nodes never get public IPs.")
        public_keys = [k for k in config["publicSubnetTagKeys"] if k in tags]
        if public_keys:
            findings.fail(f"Subnet is tagged both as a node subnet ({', '.join(node_keys)}) and as a public "
                          f"load-balancer subnet ({', '.join(public_keys)}); nodes must run in private subnets only.")
    elif resource_type == LAUNCH_TEMPLATE:
        for index, nic in enumerate(as_list(props.get("networkInterfaces"))):
            value = as_bool(get(nic, "associatePublicIpAddress"))
            if is_unknown(value):
                findings.cannot_judge(f"networkInterfaces[{index}].associatePublicIpAddress")
            elif value is True:
                findings.fail(f"networkInterfaces[{index}].associatePublicIpAddress is true; node launch "
                              "templates must not associate public IP addresses.")
    elif resource_type == LAUNCH_CONFIGURATION:  # what a real preview shows for pulumi-eks' default node group
        value = as_bool(props.get("associatePublicIpAddress"))
        if is_unknown(value):
            findings.cannot_judge("associatePublicIpAddress")
        elif value is True:
            findings.fail("associatePublicIpAddress is true; node launch configurations must not assign public IPs.")
    elif resource_type == EKS_COMPONENT or resource_type in EKS_SELF_MANAGED:
        # Remote components: judged only on inputs present (a real preview shows them as {}); the launch
        # configuration or template pulumi-eks registers for the nodes is judged where it appears.
        if resource_type == EKS_COMPONENT:
            skip = as_bool(props.get("skipDefaultNodeGroup"))
            if skip is True:
                return
            if is_unknown(skip):
                findings.cannot_judge("skipDefaultNodeGroup")
                return
        if "nodeAssociatePublicIpAddress" not in props:
            return
        flag = as_bool(props["nodeAssociatePublicIpAddress"])
        if is_unknown(flag):
            findings.cannot_judge("nodeAssociatePublicIpAddress")
        elif flag is not False:
            findings.fail("nodeAssociatePublicIpAddress is true; set it to false (or skipDefaultNodeGroup: true) "
                          "so worker nodes get no public IPs.")
    elif resource_type == EC2_NODE_CLASS:
        value = as_bool(get(props, "spec", "associatePublicIPAddress"))
        if is_unknown(value):
            findings.cannot_judge("spec.associatePublicIPAddress")
        elif value is True:
            findings.fail("EC2NodeClass spec.associatePublicIPAddress is true; Karpenter nodes must not get public "
                          "IPs.")


no_public_node_ips = resource_policy(
    name="no-public-node-ips",
    description="Worker nodes never get public IPs (node subnets, launch templates, node groups, node classes).",
    enforcement_level=MANDATORY,
    check=_check_no_public_node_ips,
    config=NODE_SUBNET_CONFIG,
)


# ---------------------------------------------------------------------------------------------------------------
# nodes-in-private-subnets
# ---------------------------------------------------------------------------------------------------------------

def _node_subnet_refs(view: StackView, resource) -> list[str]:
    """The input properties holding the subnets a node-producing resource puts nodes into."""
    props = view.p(resource)
    if resource.resource_type in (EKS_NODE_GROUP, EKS_MANAGED_NODE_GROUP):
        return ["subnetIds"]
    if resource.resource_type in EKS_SELF_MANAGED:
        return ["nodeSubnetIds"]
    if resource.resource_type == EKS_COMPONENT:
        # Where the default node group goes is only known when the program's inputs say whether there is one.
        if "skipDefaultNodeGroup" not in props or as_bool(props.get("skipDefaultNodeGroup")) is not False:
            return []
        if props.get("nodeSubnetIds"):
            return ["nodeSubnetIds"]
        if props.get("privateSubnetIds"):
            return ["privateSubnetIds"]
        if props.get("publicSubnetIds"):
            return ["publicSubnetIds"]
        return ["subnetIds"]
    return []


def _check_nodes_in_private_subnets(view: StackView, config, findings, args):
    subnets = view.of_type(SUBNET)
    node_producers = view.of_type(EKS_NODE_GROUP, EKS_MANAGED_NODE_GROUP, EKS_COMPONENT, *EKS_SELF_MANAGED)
    for producer in node_producers:
        props = view.p(producer)
        for prop in _node_subnet_refs(view, producer):
            if producer.resource_type == EKS_COMPONENT and prop == "publicSubnetIds":
                findings.fail(f"{describe(producer)} puts its default node group in publicSubnetIds (no "
                              "privateSubnetIds given); give privateSubnetIds or skip the default node group.",
                              producer.urn)
                continue
            value = props.get(prop)
            if contains_unknown(value) and not getattr(producer, "property_dependencies", None):
                findings.cannot_judge(f"{producer.name}.{prop}")
            for subnet in view.related(producer, prop, subnets) if value is not None else []:
                if is_public_subnet(view.p(subnet), config) is True:
                    findings.fail(f"{describe(producer)} places nodes in public subnet '{subnet.name}' via {prop}; "
                                  "nodes must run in private subnets.", producer.urn)
    for node_class in view.of_type(EC2_NODE_CLASS):
        terms = get(view.p(node_class), "spec", "subnetSelectorTerms")
        if is_unknown(terms):
            findings.cannot_judge(f"{node_class.name}.spec.subnetSelectorTerms")
            continue
        for index, term in enumerate(as_list(terms)):
            tags = get(term, "tags", default={})
            tags = tags if is_unknown(tags) else tags or {}  # an unknown is falsy: `or {}` would read it as no tags
            if is_unknown(tags) or not isinstance(tags, Mapping):
                findings.cannot_judge(f"{node_class.name}.spec.subnetSelectorTerms[{index}].tags")
                continue
            public_keys = [k for k in tags if k in config["publicSubnetTagKeys"]]
            if public_keys:
                findings.fail(f"EC2NodeClass '{node_class.name}' subnetSelectorTerms[{index}] selects subnets by "
                              f"{', '.join(public_keys)} (public load-balancer subnets); select private subnets, "
                              "e.g. by karpenter.sh/discovery.", node_class.urn)
                continue
            subnet_id = get(term, "id")
            if not tags and not subnet_id:
                findings.fail(f"EC2NodeClass '{node_class.name}' subnetSelectorTerms[{index}] selects no private "
                              "subnet tag or id.", node_class.urn)
                continue
            if tags and not any(k in config["nodeSubnetTagKeys"] for k in tags):
                findings.fail(f"EC2NodeClass '{node_class.name}' subnetSelectorTerms[{index}] selects by "
                              f"{sorted(tags)}; select private subnets by one of {config['nodeSubnetTagKeys']}.",
                              node_class.urn)
                continue
            # Every subnet in the stack this term selects must be private.
            for subnet in subnets:
                subnet_props = view.p(subnet)
                subnet_tags = tags_of(subnet_props)
                selected = tags and all(
                    key in subnet_tags and (value in ("*", None) or subnet_tags[key] == value or is_unknown(value)
                                            or is_unknown(subnet_tags[key]))
                    for key, value in tags.items())
                if subnet_id and not is_unknown(subnet_id):
                    selected = selected or subnet_id in view.identity_strings(subnet)
                if selected and is_public_subnet(subnet_props, config) is True:
                    findings.fail(f"EC2NodeClass '{node_class.name}' subnetSelectorTerms[{index}] selects public "
                                  f"subnet '{subnet.name}'; Karpenter nodes must land in private subnets.",
                                  node_class.urn)


nodes_in_private_subnets = stack_policy(
    name="nodes-in-private-subnets",
    description="Node groups and Karpenter EC2NodeClass subnet selectors place nodes in private subnets only.",
    enforcement_level=MANDATORY,
    check=_check_nodes_in_private_subnets,
    config=NODE_SUBNET_CONFIG,
)


# ---------------------------------------------------------------------------------------------------------------
# eks-endpoint-private
# ---------------------------------------------------------------------------------------------------------------

ENDPOINT_CONFIG = {
    "forbiddenPublicCidrs": {"type": "array", "items": {"type": "string"}, "default": ["0.0.0.0/0", "::/0"],
                             "description": "CIDRs that may never reach a public EKS API endpoint."},
    "minPublicCidrPrefixLength": {"type": "integer", "minimum": 0, "maximum": 128, "default": 16,
                                  "description": "Shortest prefix allowed in publicAccessCidrs (IPv4)."},
}


def _endpoint_violation(public, cidrs, config, prefix: str) -> Any:
    if is_unknown(public):
        return UNKNOWN
    if public is False:
        return None
    if is_unknown(cidrs) or contains_unknown(cidrs):
        return UNKNOWN
    if cidrs is None or len(cidrs) == 0:
        return (f"{prefix}endpointPublicAccess is on and publicAccessCidrs is unset (AWS defaults to 0.0.0.0/0); "
                "turn the public endpoint off or restrict publicAccessCidrs.")
    bad = []
    for cidr in cidrs:
        if cidr in config["forbiddenPublicCidrs"]:
            bad.append(cidr)
            continue
        try:
            network = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            bad.append(cidr)
            continue
        if network.version == 4 and network.prefixlen < int(config["minPublicCidrPrefixLength"]):
            bad.append(cidr)
    if bad:
        # int(): the engine sends config numbers as JSON numbers (doubles), which would read "/16.0"
        return (f"{prefix}endpointPublicAccess is on with publicAccessCidrs {bad}; turn the public endpoint off "
                f"or allow only specific networks (prefix /{int(config['minPublicCidrPrefixLength'])} or longer).")
    return None


def _check_endpoint_private(resource_type, props, config, findings, args):
    if resource_type == EKS_COMPONENT:
        if "endpointPublicAccess" not in props:
            return  # a remote component's inputs may be absent; its aws:eks/cluster:Cluster child is judged
        public = as_bool(props["endpointPublicAccess"])
        result = _endpoint_violation(public, props.get("publicAccessCidrs"), config, "")
    elif resource_type == EKS_CLUSTER:
        vpc = props.get("vpcConfig") or {}
        if is_unknown(vpc):
            findings.cannot_judge("vpcConfig")
            return
        public = as_bool(vpc.get("endpointPublicAccess", True))
        result = _endpoint_violation(public, vpc.get("publicAccessCidrs"), config, "vpcConfig.")
    else:
        return
    if result is UNKNOWN:
        findings.cannot_judge("endpointPublicAccess/publicAccessCidrs")
    elif result:
        findings.fail(result)


eks_endpoint_private = resource_policy(
    name="eks-endpoint-private",
    description="The EKS API endpoint is private, or public only to narrow CIDRs (never 0.0.0.0/0 or ::/0).",
    enforcement_level=MANDATORY,
    check=_check_endpoint_private,
    config=ENDPOINT_CONFIG,
)


POLICIES = [
    no_public_node_ips,
    nodes_in_private_subnets,
    eks_endpoint_private,
]
