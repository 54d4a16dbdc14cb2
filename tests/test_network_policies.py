"""NetworkPolicies of the serving namespaces: strict schema validation and the flows they allow, as rendered."""

from __future__ import annotations

import ipaddress

import pytest

from vllm_eks.network.network_policies import default_deny, router_policy, serving_namespace_policies, vllm_policy
from rendered import resource_named, resources_of
from k8s_schemas import manifest, validate_core

VLLM = {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": "m"}
ROUTER = {"app.kubernetes.io/name": "vllm-router", "app.kubernetes.io/instance": "m"}
SCRAPER = {"app.kubernetes.io/name": "prometheus"}
ALB_SUBNETS = ["10.0.255.192/27", "10.0.255.224/27"]
API_ADDRESS = "172.20.0.1"
S3_CIDRS = ["52.216.0.0/15", "3.5.0.0/19"]
# Cluster DNS: the CoreDNS pods in kube-system carry `k8s-app: kube-dns` (Kubernetes docs, "Debugging DNS Resolution":
# `kubectl get pods --namespace=kube-system -l k8s-app=kube-dns`; the EKS CoreDNS add-on keeps that label), and
# answer on port 53 over UDP, and over TCP for large answers.
DNS_EGRESS = {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                      "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
              "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}


def _policies_in(snapshot, namespace_prefix="vllm-"):
    return [
        r for r in resources_of(snapshot, "kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if r["props"]["metadata"]["namespace"].startswith(namespace_prefix)
        and r["props"]["metadata"].get("labels", {}).get("app.kubernetes.io/part-of") == "vllm-eks-edge"
    ]


def test_pure_policies_are_valid_kubernetes_objects():
    for policy in serving_namespace_policies("vllm-m", VLLM, ROUTER, ALB_SUBNETS, "10.0.0.0/16", API_ADDRESS, S3_CIDRS, "monitoring", SCRAPER):
        validate_core(policy)


def test_default_deny_selects_every_pod_both_directions():
    spec = default_deny("vllm-m")["spec"]
    assert spec == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_vllm_accepts_its_port_only_from_the_router_and_the_scraper():
    spec = vllm_policy("vllm-m", VLLM, ROUTER, "10.0.0.0/16", S3_CIDRS, "monitoring", SCRAPER)["spec"]
    assert spec["podSelector"] == {"matchLabels": VLLM}
    (rule,) = spec["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8000}]
    peers = rule["from"]
    assert {"podSelector": {"matchLabels": ROUTER}} in peers
    scraper = next(p for p in peers if "namespaceSelector" in p)
    assert scraper == {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}, "podSelector": {"matchLabels": SCRAPER}}
    assert not any("ipBlock" in p for p in peers)
    # Out: cluster DNS, and HTTPS to the VPC (interface endpoints) and S3's addresses (the weights), nothing else.
    assert spec["egress"] == [DNS_EGRESS, {"to": [{"ipBlock": {"cidr": "10.0.0.0/16"}}, {"ipBlock": {"cidr": "3.5.0.0/19"}},
                                                   {"ipBlock": {"cidr": "52.216.0.0/15"}}],
                                            "ports": [{"protocol": "TCP", "port": 443}]}]


def test_router_accepts_only_the_alb_subnets_and_reaches_only_its_model():
    spec = router_policy("vllm-m", ROUTER, VLLM, ALB_SUBNETS, "10.0.0.0/16", API_ADDRESS, "monitoring", SCRAPER)["spec"]
    request_rule, metrics_rule = spec["ingress"]
    assert request_rule["from"] == [{"ipBlock": {"cidr": cidr}} for cidr in ALB_SUBNETS]
    assert request_rule["ports"] == [{"protocol": "TCP", "port": 8000}]
    assert metrics_rule["ports"] == [{"protocol": "TCP", "port": 29000}]
    assert "ipBlock" not in metrics_rule["from"][0]
    to_vllm = spec["egress"][0]
    assert to_vllm == {"to": [{"podSelector": {"matchLabels": VLLM}}], "ports": [{"protocol": "TCP", "port": 8000}]}
    assert spec["egress"][1] == DNS_EGRESS
    api_service, api_endpoints = spec["egress"][2:]
    assert api_service == {"to": [{"ipBlock": {"cidr": "172.20.0.1/32"}}], "ports": [{"protocol": "TCP", "port": 443}]}
    assert api_endpoints["to"] == [{"ipBlock": {"cidr": "10.0.0.0/16"}}] and api_endpoints["ports"] == [{"protocol": "TCP", "port": 443}]


@pytest.mark.parametrize("stack", ["dev_snapshot", "prod_snapshot"])
def test_rendered_policies_are_valid_and_cover_every_serving_namespace(stack, request):
    snapshot = request.getfixturevalue(stack)
    policies = _policies_in(snapshot)
    namespaces = {p["props"]["metadata"]["namespace"] for p in policies}
    routers = [d for d in resources_of(snapshot, "kubernetes:apps/v1:Deployment") if d["props"]["metadata"]["name"] == "vllm-router"]
    assert namespaces == {d["props"]["metadata"]["namespace"] for d in routers}
    for policy in policies:
        validate_core(manifest(policy))
    for namespace in namespaces:
        names = {p["props"]["metadata"]["name"] for p in policies if p["props"]["metadata"]["namespace"] == namespace}
        assert names == {"default-deny", "vllm-from-router", "router-from-alb"}
    for policy in policies:
        for rule in policy["props"]["spec"].get("ingress", []):
            for peer in rule["from"]:
                assert peer.get("ipBlock", {}).get("cidr") != "0.0.0.0/0", "nothing admits the whole internet"


def _router_policy_of(snapshot):
    return next(p["props"] for p in _policies_in(snapshot) if p["props"]["metadata"]["name"] == "router-from-alb")


def _admits(rule, address: str) -> bool:
    return any("ipBlock" in peer and ipaddress.ip_address(address) in ipaddress.ip_network(peer["ipBlock"]["cidr"])
               for peer in rule["from"])


@pytest.mark.parametrize("stack", ["dev_snapshot", "prod_snapshot"])
def test_no_pod_address_reaches_the_router_serving_port(stack, request):
    """vllm-router 0.1.17 serves POST /add_worker, /remove_worker, /list_workers on its serving port without
    authentication (measured here, ../shared/FACTS.md "vLLM router"); only the network fences them. With the VPC CNI
    every pod takes an address of its node's (private) subnet (AWS, "Amazon VPC CNI"), so the serving port must
    admit the ALB's own subnets and no address of any node subnet."""
    snapshot = request.getfixturevalue(stack)
    subnets = {r["name"]: r["props"] for r in resources_of(snapshot, "aws:ec2/subnet:Subnet")}
    node_subnets = [props["cidrBlock"] for name, props in subnets.items() if "-private-" in name]
    load_balancer_subnets = [props["cidrBlock"] for name, props in subnets.items() if "-load-balancer-" in name]
    (alb,) = resources_of(snapshot, "aws:lb/loadBalancer:LoadBalancer")
    # The ALB sits in exactly the load-balancer subnets (mock ids are "<resource name>-<hash>-id").
    assert [subnet.rsplit("-", 2)[0] for subnet in alb["props"]["subnets"]] == sorted(
        name for name in subnets if "-load-balancer-" in name)
    request_rule = _router_policy_of(snapshot)["spec"]["ingress"][0]
    assert request_rule["ports"] == [{"protocol": "TCP", "port": 8000}]
    for cidr in node_subnets:
        network = ipaddress.ip_network(cidr)
        for pod_address in (network[4], network[network.num_addresses // 2], network[-2]):
            assert not _admits(request_rule, str(pod_address)), f"a pod at {pod_address} reaches the router"
    admitted = [ipaddress.ip_network(peer["ipBlock"]["cidr"]) for peer in request_rule["from"]]
    assert sorted(map(str, admitted)) == sorted(load_balancer_subnets)
    assert all(not a.overlaps(ipaddress.ip_network(n)) for a in admitted for n in node_subnets)


@pytest.mark.parametrize("stack", ["dev_snapshot", "prod_snapshot"])
def test_router_reaches_the_kubernetes_service_address(stack, request):
    """aws/amazon-network-policy-controller-k8s pkg/resolvers/endpoints.go adds Service ClusterIPs only for
    pod-selector peers, never ipBlock peers, and the agent sees the ClusterIP before kube-proxy translates it; the
    router's discovery client dials the `kubernetes` Service, the first address of the cluster's Service range
    (Kubernetes, "Service ClusterIP allocation")."""
    snapshot = request.getfixturevalue(stack)
    service_range = resource_named(snapshot, "eks:index:Cluster", "cluster-eks")["offlineOnlyProgramInputs"]["kubernetesServiceIpAddressRange"]
    api_address = ipaddress.ip_network(service_range).network_address + 1
    egress = _router_policy_of(snapshot)["spec"]["egress"]
    assert {"to": [{"ipBlock": {"cidr": f"{api_address}/32"}}], "ports": [{"protocol": "TCP", "port": 443}]} in egress
    vpc = resources_of(snapshot, "aws:ec2/vpc:Vpc")[0]["props"]["cidrBlock"]
    assert not ipaddress.ip_network(service_range).overlaps(ipaddress.ip_network(vpc))


@pytest.mark.parametrize("stack", ["dev_snapshot", "prod_snapshot"])
def test_vllm_reaches_https_only_in_the_vpc_and_s3_ranges(stack, request):
    """AWS, "Gateway endpoints for Amazon S3": traffic to S3's public ranges (the com.amazonaws.<region>.s3 managed
    prefix list) is routed through the endpoint; NetworkPolicy ipBlocks cannot name a prefix list, so its CIDRs are
    copied. Everything else at 443 (the interface endpoints) is inside the VPC; nothing else is open."""
    snapshot = request.getfixturevalue(stack)
    from preflight.mocks import S3_PREFIX_LIST_CIDRS

    vpc = resources_of(snapshot, "aws:ec2/vpc:Vpc")[0]["props"]["cidrBlock"]
    for policy in (p["props"] for p in _policies_in(snapshot) if p["props"]["metadata"]["name"] == "vllm-from-router"):
        https = [rule for rule in policy["spec"]["egress"] if rule["ports"] == [{"protocol": "TCP", "port": 443}]]
        (rule,) = https
        cidrs = [peer["ipBlock"]["cidr"] for peer in rule["to"]]
        assert cidrs == [vpc, *sorted(S3_PREFIX_LIST_CIDRS)]
        assert "0.0.0.0/0" not in cidrs
