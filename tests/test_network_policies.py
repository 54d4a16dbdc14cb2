"""NetworkPolicies of the serving namespaces: strict schema validation and the flows they allow, as rendered."""

from __future__ import annotations

import pytest

from components.network_policies import default_deny, router_policy, serving_namespace_policies, vllm_policy
from rendered import resources_of
from k8s_schemas import manifest, validate_core

VLLM = {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": "m"}
ROUTER = {"app.kubernetes.io/name": "vllm-router", "app.kubernetes.io/instance": "m"}
SCRAPER = {"app.kubernetes.io/name": "prometheus"}
ALB_SUBNETS = ["10.0.0.0/19", "10.0.32.0/19"]


def _policies_in(snapshot, namespace_prefix="vllm-"):
    return [
        r for r in resources_of(snapshot, "kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if r["props"]["metadata"]["namespace"].startswith(namespace_prefix)
        and r["props"]["metadata"].get("labels", {}).get("app.kubernetes.io/part-of") == "vllm-eks-edge"
    ]


def test_pure_policies_are_valid_kubernetes_objects():
    for policy in serving_namespace_policies("vllm-m", VLLM, ROUTER, ALB_SUBNETS, "10.0.0.0/16", "monitoring", SCRAPER):
        validate_core(policy)


def test_default_deny_selects_every_pod_both_directions():
    spec = default_deny("vllm-m")["spec"]
    assert spec == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_vllm_accepts_its_port_only_from_the_router_and_the_scraper():
    spec = vllm_policy("vllm-m", VLLM, ROUTER, "monitoring", SCRAPER)["spec"]
    assert spec["podSelector"] == {"matchLabels": VLLM}
    (rule,) = spec["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8000}]
    peers = rule["from"]
    assert {"podSelector": {"matchLabels": ROUTER}} in peers
    scraper = next(p for p in peers if "namespaceSelector" in p)
    assert scraper == {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}, "podSelector": {"matchLabels": SCRAPER}}
    assert not any("ipBlock" in p for p in peers)
    egress_ports = sorted(port["port"] for rule in spec["egress"] for port in rule["ports"])
    assert egress_ports == [53, 53, 443]


def test_router_accepts_only_the_alb_subnets_and_reaches_only_its_model():
    spec = router_policy("vllm-m", ROUTER, VLLM, ALB_SUBNETS, "10.0.0.0/16", "monitoring", SCRAPER)["spec"]
    request_rule, metrics_rule = spec["ingress"]
    assert request_rule["from"] == [{"ipBlock": {"cidr": cidr}} for cidr in ALB_SUBNETS]
    assert request_rule["ports"] == [{"protocol": "TCP", "port": 8000}]
    assert metrics_rule["ports"] == [{"protocol": "TCP", "port": 29000}]
    assert "ipBlock" not in metrics_rule["from"][0]
    to_vllm = spec["egress"][0]
    assert to_vllm == {"to": [{"podSelector": {"matchLabels": VLLM}}], "ports": [{"protocol": "TCP", "port": 8000}]}
    api_server = spec["egress"][2]
    assert api_server["to"] == [{"ipBlock": {"cidr": "10.0.0.0/16"}}] and api_server["ports"] == [{"protocol": "TCP", "port": 443}]


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
