"""Security pillar, cluster: NetworkPolicies are enforced at all, the router's serving port is fenced, and images
come from the account's registry."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Any

from _aws import EKS_CLUSTER, EKS_COMPONENT, NODE_SUBNET_CONFIG, SUBNET, tags_of
from _kubernetes import container_label, containers, containers_unknown, namespace_of, pod_labels, pod_spec, same_namespace, \
    selector_matches
from _router import ROUTER_CONFIG, router_workloads, serving_ports
from _stack import MANDATORY, StackView, describe, resource_policy, stack_policy
from _values import UNKNOWN, as_bool, as_list, as_number, contains_unknown, get, is_unknown

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
    `enableNetworkPolicy` is on. pulumi-eks (nodejs/eks/addons/cni-addon.ts) turns vpcCniOptions into an
    `eks:index:VpcCniAddon` whose `aws:eks/addon:Addon` child carries it in configurationValues. A real preview shows
    the `eks:index:Cluster` with empty inputs: an absent vpcCniOptions is judged by the offline pass (provider
    defaults) and by the add-on itself wherever it appears, never failed here."""
    addons = [a for a in view.of_type(EKS_ADDON) if view.p(a).get("addonName") == "vpc-cni"]
    evidence: list[tuple[Any, Any]] = [(a, _addon_enables_network_policy(view.p(a))) for a in addons]
    for addon in view.of_type(EKS_VPC_CNI_ADDON):
        if "enableNetworkPolicy" in view.p(addon):
            evidence.append((addon, as_bool(view.p(addon).get("enableNetworkPolicy"))))
    if any(value is True for _, value in evidence):
        return
    components = view.of_type(EKS_COMPONENT)
    component_urns = {c.urn for c in components}
    for cluster in components:
        props = view.p(cluster)
        if "vpcCniOptions" not in props:
            continue
        value = as_bool(get(props, "vpcCniOptions", "enableNetworkPolicy"))
        if is_unknown(value):
            findings.cannot_judge(f"{describe(cluster)} vpcCniOptions.enableNetworkPolicy")
        elif value is not True:
            _fail_not_enforced(findings, cluster)
    for resource, value in evidence:
        if is_unknown(value):
            findings.cannot_judge(f"{describe(resource)} enableNetworkPolicy")
        else:
            _fail_not_enforced(findings, resource)
    if evidence:
        return
    # A plain aws.eks.Cluster (not pulumi-eks') with no vpc-cni add-on of the stack: EKS installs the self-managed
    # VPC CNI, which does not enforce NetworkPolicy.
    for cluster in view.of_type(EKS_CLUSTER):
        if view.parent_urn(cluster) not in component_urns:
            _fail_not_enforced(findings, cluster)


def _fail_not_enforced(findings, resource) -> None:
    findings.fail(f"{describe(resource)}: the VPC CNI does not enforce NetworkPolicy, so every NetworkPolicy of "
                  "the stack is ignored and any pod reaches vLLM's keyless routes. Set vpcCniOptions."
                  "enableNetworkPolicy: true (or the vpc-cni add-on's configurationValues "
                  '{"enableNetworkPolicy": "true"}).', resource.urn)


# ---------------------------------------------------------------------------------------------------------------
# router-serving-port-from-alb-only
# ---------------------------------------------------------------------------------------------------------------

LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
ROUTER_FENCE_CONFIG = {**ROUTER_CONFIG, **NODE_SUBNET_CONFIG}


def _rule_admits(rule: Mapping, ports: set) -> bool:
    rule_ports = as_list(rule.get("ports"))
    if not rule_ports:
        return True  # no ports: every port
    for entry in rule_ports:
        port = get(entry, "port")
        if port is None:
            return True
        number = as_number(port)
        end = as_number(get(entry, "endPort")) if get(entry, "endPort") is not None else number
        if port in ports or (number is not None and any(
                isinstance(p, float) and number <= p <= end for p in ports)):
            return True
    return False


def _subnet_ids_of(props: Mapping) -> list:
    ids = as_list(props.get("subnetIds")) + as_list(props.get("privateSubnetIds")) + as_list(props.get("publicSubnetIds"))
    return ids + as_list(get(props, "vpcConfig", "subnetIds"))


EXTERNAL_SUBNETS = "external"


def _load_balancer_only_cidrs(view: StackView, config: Mapping) -> Any:
    """CIDRs of subnets that hold a load balancer and no node, cluster or pod: the only sources a router may admit."""
    subnets = view.of_type(SUBNET)
    node_subnets = {s.urn for s in subnets if any(k in tags_of(view.p(s)) for k in config["nodeSubnetTagKeys"])}
    for holder in view.resources:
        if holder.resource_type == LOAD_BALANCER:
            continue
        if any(key in view.p(holder) for key in ("subnetIds", "privateSubnetIds", "vpcConfig")):
            node_subnets |= {s.urn for s in subnets if view.refers_to(holder, "subnetIds", _subnet_ids_of(view.p(holder)), s)}
    cidrs = []
    for balancer in view.of_type(LOAD_BALANCER):
        value = view.p(balancer).get("subnets")
        if contains_unknown(value) and not view.resolve(balancer, "subnets", subnets):
            return value
        if as_list(value) and not view.resolve(balancer, "subnets", subnets):
            return EXTERNAL_SUBNETS  # subnets of an existing VPC, given by id: their CIDRs are not in this stack
        for subnet in view.resolve(balancer, "subnets", subnets):
            cidr = view.p(subnet).get("cidrBlock")
            if is_unknown(cidr):
                return cidr
            if subnet.urn not in node_subnets and isinstance(cidr, str):
                cidrs.append(ipaddress.ip_network(cidr, strict=False))
    return cidrs


def _selects(policy_props: Mapping, labels: Mapping) -> Any:
    selector = get(policy_props, "spec", "podSelector", default={})
    if contains_unknown(selector):
        return selector
    if not (get(selector, "matchLabels") or get(selector, "matchExpressions")):
        return True  # the empty selector: every pod of the namespace
    return selector_matches(selector, labels)


def _polices_ingress(policy_props: Mapping) -> bool:
    types = as_list(get(policy_props, "spec", "policyTypes"))
    return "Ingress" in types or not types  # no policyTypes: Ingress is implied


def _peer_problem(peer: Mapping, allowed: list) -> str | None:
    if "ipBlock" not in peer:
        return "pods (podSelector/namespaceSelector)"
    cidr = get(peer, "ipBlock", "cidr")
    try:
        network = ipaddress.ip_network(str(cidr), strict=False)
    except ValueError:
        return f"ipBlock {cidr}"
    if not any(network.subnet_of(block) for block in allowed if block.version == network.version):
        return f"ipBlock {cidr} (not within the load balancer's own subnets)"
    return None


def _check_router_fenced(view: StackView, config, findings, args):
    """vllm-router 0.1.17 serves /add_worker, /remove_worker, /list_workers without authentication on its serving
    port (../shared/FACTS.md); with the VPC CNI every pod takes an address of a node subnet, so only sources inside
    subnets that hold the load balancer alone keep other pods away from them."""
    routers = []
    for deployment, props, found in router_workloads(view, config):
        ports = [serving_ports(c) for c in found]
        routers.append((deployment, props, UNKNOWN if any(is_unknown(p) for p in ports) else set().union(*ports)))
    if not routers:
        return
    allowed = _load_balancer_only_cidrs(view, config)
    if is_unknown(allowed) or contains_unknown(allowed):
        findings.cannot_judge("load balancer subnets")
        return
    policies = view.of_type(NETWORK_POLICY)
    for deployment, props, ports in routers:
        labels = pod_labels(deployment.resource_type, props)
        namespace = namespace_of(props)
        if contains_unknown(labels) or is_unknown(namespace):
            findings.cannot_judge(f"{describe(deployment)} labels/namespace")
            continue
        if contains_unknown(ports):
            findings.cannot_judge(f"{describe(deployment)} serving port")
            continue
        selecting, undecided = [], []
        for policy in policies:
            policy_props = view.p(policy)
            verdicts = (same_namespace(namespace_of(policy_props), namespace), _selects(policy_props, labels))
            if contains_unknown(get(policy_props, "spec", "policyTypes")) or any(is_unknown(v) for v in verdicts):
                undecided.append(policy)
            elif all(v is True for v in verdicts) and _polices_ingress(policy_props):
                selecting.append((policy, policy_props))
        for policy in undecided:
            findings.cannot_judge(f"{describe(policy)} namespace/podSelector/policyTypes")
        if not selecting and not undecided:
            findings.fail(f"{describe(deployment)} runs a router whose admin routes have no authentication, and no "
                          "NetworkPolicy restricts its ingress: every pod can add or remove its workers.", deployment.urn)
            continue
        for policy, policy_props in selecting:
            ingress = get(policy_props, "spec", "ingress")
            if is_unknown(ingress):
                findings.cannot_judge(f"{describe(policy)} spec.ingress")
                continue
            for index, rule in enumerate(as_list(ingress)):
                if contains_unknown(rule):
                    findings.cannot_judge(f"{describe(policy)} spec.ingress[{index}]")
                    continue
                if not _rule_admits(rule, ports):
                    continue
                peers = as_list(get(rule, "from"))
                problems = ["every source (no `from`)"] if not peers else \
                    [p for p in (_peer_problem(peer, [] if allowed == EXTERNAL_SUBNETS else allowed) for peer in peers) if p]
                if allowed == EXTERNAL_SUBNETS:
                    # An ipBlock may well be the existing VPC's load-balancer subnet: judge it where that VPC is made.
                    for problem in [p for p in problems if p.startswith("ipBlock")]:
                        findings.outside_stack(f"{describe(policy)} ingress[{index}] {problem.split(' (')[0]} "
                                               "against the existing VPC's load-balancer subnets")
                    problems = [p for p in problems if not p.startswith("ipBlock")]
                for problem in problems:
                    findings.fail(f"{describe(policy)} ingress[{index}] admits {problem} to the router's serving port "
                                  f"of {describe(deployment)}, which also serves its unauthenticated admin routes; "
                                  "admit only the load balancer's own subnets (subnets no node or pod uses).",
                                  policy.urn)


# ---------------------------------------------------------------------------------------------------------------
# images-from-private-registry
# ---------------------------------------------------------------------------------------------------------------

# An ECR private registry: <account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn] (AWS, "Amazon ECR private registry").
ECR_PRIVATE_REGISTRY = re.compile(r"^\d{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
IMAGE_SOURCE_CONFIG = {
    "allowedRegistries": {
        "type": "array", "items": {"type": "string"}, "default": [],
        "description": "Registries besides the account's ECR private registries that workloads may pull from "
                       "(e.g. a self-hosted mirror), as the image reference's first path segment.",
    },
    "exemptNamespaces": {
        "type": "array", "items": {"type": "string"}, "default": ["kube-system"],
        "description": "Namespaces whose workloads (EKS add-ons, node agents) are not judged.",
    },
}


def image_registry(image: str) -> str:
    """The registry of an image reference (Docker's rules: no dot, colon or localhost in the first segment: Docker Hub)."""
    first, _, rest = image.partition("/")
    return first if rest and ("." in first or ":" in first or first == "localhost") else "docker.io"


def _check_image_sources(resource_type, props, config, findings, args):
    """Docker, "Docker Hub usage and limits": anonymous pulls are limited per IPv4 address, and every node leaves
    through the NAT's address; ECR pull-through cache serves the same images from the account (AWS, "Sync an
    upstream registry with an Amazon ECR private registry")."""
    spec = pod_spec(resource_type, props)
    if spec is None:
        return
    namespace = namespace_of(props)
    if is_unknown(namespace):
        findings.cannot_judge("metadata.namespace")
        return
    if namespace in config["exemptNamespaces"]:
        return
    if containers_unknown(spec):
        findings.cannot_judge("pod spec containers")
    for container in containers(spec):
        image = container.get("image")
        if not isinstance(image, str) or is_unknown(image):
            findings.cannot_judge(f"{container_label(container)}.image")
            continue
        registry = image_registry(image)
        if not ECR_PRIVATE_REGISTRY.match(registry) and registry not in config["allowedRegistries"]:
            findings.fail(f"{container_label(container)} pulls {image} from {registry}, not from the account's ECR: "
                          "anonymous upstream pulls through one NAT address hit rate limits (Docker Hub: 10 an hour) "
                          "in a crash loop or a scale-out. Pull through an ECR pull-through cache rule, or list the "
                          "registry in allowedRegistries.")


POLICIES = [
    stack_policy(
        name="vpc-cni-network-policy-enforced",
        description="The VPC CNI add-on enforces Kubernetes NetworkPolicy (enableNetworkPolicy); otherwise every "
                    "NetworkPolicy is ignored.",
        enforcement_level=MANDATORY,
        check=_check_network_policy_enforced,
    ),
    stack_policy(
        name="router-serving-port-from-alb-only",
        description="A router's serving port (which also serves its unauthenticated admin routes) is admitted only "
                    "from subnets that hold the load balancer alone.",
        enforcement_level=MANDATORY,
        check=_check_router_fenced,
        config=ROUTER_FENCE_CONFIG,
    ),
    resource_policy(
        name="images-from-private-registry",
        description="Every workload image comes from the account's ECR (pull-through cache or pushed) or an "
                    "allowed registry, never anonymously from Docker Hub through the NAT.",
        enforcement_level=MANDATORY,
        check=_check_image_sources,
        config=IMAGE_SOURCE_CONFIG,
    ),
]
