"""NetworkPolicies of a serving namespace: default deny, then exactly the flows the request path needs.

Enforced by the VPC CNI's network policy agent (`enableNetworkPolicy`). Flows allowed:
  ALB (its own subnets)   -> router :8000          (requests; the ALB's listener rules pass only /v1 routes, and
                             nothing but the ALB has an address there, so no pod reaches the router's admin routes)
  metrics scraper         -> router :29000, vLLM :8000 (/metrics)
  router                  -> vLLM pods of this model :8000
  router                  -> Kubernetes API :443   (service discovery lists/watches this namespace's pods: the
                             `kubernetes` Service ClusterIP it dials, and the endpoint ENIs in the VPC it reaches)
  vLLM                    -> 443 of the VPC (interface endpoints) and of S3's published ranges (gateway endpoint)
  every pod               -> cluster DNS :53
Pure functions: plain values in, Kubernetes objects (dicts) out.
"""

from __future__ import annotations

from typing import Any

from vllm_eks.network.ports import ROUTER_METRICS_PORT, ROUTER_PORT, VLLM_PORT

DNS_NAMESPACE = "kube-system"
DNS_POD_LABELS = {"k8s-app": "kube-dns"}  # CoreDNS pods as the EKS addon labels them


def _network_policy(
    name: str, namespace: str, pod_labels: dict[str, str], ingress: list[dict] | None = None, egress: list[dict] | None = None
) -> dict[str, Any]:
    """Both directions are always policed: a direction without rules allows nothing. No labels select every pod."""
    pod_selector = {"matchLabels": dict(pod_labels)} if pod_labels else {}
    spec: dict[str, Any] = {"podSelector": pod_selector, "policyTypes": ["Ingress", "Egress"]}
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/part-of": "vllm-eks-edge"}},
        "spec": spec,
    }


def _pods(labels: dict[str, str]) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": dict(labels)}}


def _pods_in_namespace(namespace: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}, **_pods(labels)}


def _tcp(port: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port}]


def _dns_egress() -> dict[str, Any]:
    return {
        "to": [_pods_in_namespace(DNS_NAMESPACE, DNS_POD_LABELS)],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }


def default_deny(namespace: str) -> dict[str, Any]:
    """Nothing in, nothing out, for every pod of the namespace, unless another policy allows it."""
    return _network_policy("default-deny", namespace, {})


def vllm_policy(
    namespace: str,
    vllm_pod_labels: dict[str, str],
    router_pod_labels: dict[str, str],
    vpc_cidr: str,
    s3_cidrs: list[str],
    scraper_namespace: str,
    scraper_pod_labels: dict[str, str],
) -> dict[str, Any]:
    """vLLM accepts its port only from this model's router and the metrics scraper, and reaches only HTTPS in the
    VPC (interface endpoints) and S3's addresses (NetworkPolicy cannot name a prefix list: its CIDRs are copied from
    the region's com.amazonaws.<region>.s3 managed prefix list, which the gateway endpoint routes)."""
    return _network_policy(
        "vllm-from-router",
        namespace,
        vllm_pod_labels,
        ingress=[
            {
                "from": [_pods(router_pod_labels), _pods_in_namespace(scraper_namespace, scraper_pod_labels)],
                "ports": _tcp(VLLM_PORT),
            }
        ],
        egress=[
            _dns_egress(),
            {"to": [{"ipBlock": {"cidr": cidr}} for cidr in [vpc_cidr, *sorted(s3_cidrs)]], "ports": _tcp(443)},
        ],
    )


def router_policy(
    namespace: str,
    router_pod_labels: dict[str, str],
    vllm_pod_labels: dict[str, str],
    alb_subnet_cidrs: list[str],
    vpc_cidr: str,
    kubernetes_api_address: str,
    scraper_namespace: str,
    scraper_pod_labels: dict[str, str],
) -> dict[str, Any]:
    """The router accepts requests only from the ALB's subnets and reaches only its model's vLLM pods."""
    return _network_policy(
        "router-from-alb",
        namespace,
        router_pod_labels,
        ingress=[
            {"from": [{"ipBlock": {"cidr": cidr}} for cidr in alb_subnet_cidrs], "ports": _tcp(ROUTER_PORT)},
            {"from": [_pods_in_namespace(scraper_namespace, scraper_pod_labels)], "ports": _tcp(ROUTER_METRICS_PORT)},
        ],
        egress=[
            {"to": [_pods(vllm_pod_labels)], "ports": _tcp(VLLM_PORT)},
            _dns_egress(),
            # The client dials the `kubernetes` Service ClusterIP, and the AWS network policy agent matches the
            # address before kube-proxy translates it; its controller adds ClusterIPs for pod-selector peers only,
            # never for ipBlock peers (aws/amazon-network-policy-controller-k8s pkg/resolvers/endpoints.go).
            {"to": [{"ipBlock": {"cidr": f"{kubernetes_api_address}/32"}}], "ports": _tcp(443)},
            # The EKS API endpoint's network interfaces live in the VPC (private endpoint): the translated address.
            {"to": [{"ipBlock": {"cidr": vpc_cidr}}], "ports": _tcp(443)},
        ],
    )


def serving_namespace_policies(
    namespace: str,
    vllm_pod_labels: dict[str, str],
    router_pod_labels: dict[str, str],
    alb_subnet_cidrs: list[str],
    vpc_cidr: str,
    kubernetes_api_address: str,
    s3_cidrs: list[str],
    scraper_namespace: str,
    scraper_pod_labels: dict[str, str],
) -> list[dict[str, Any]]:
    """All policies of one serving namespace, in the order they are created."""
    return [
        default_deny(namespace),
        vllm_policy(
            namespace, vllm_pod_labels, router_pod_labels, vpc_cidr, s3_cidrs, scraper_namespace, scraper_pod_labels
        ),
        router_policy(
            namespace,
            router_pod_labels,
            vllm_pod_labels,
            alb_subnet_cidrs,
            vpc_cidr,
            kubernetes_api_address,
            scraper_namespace,
            scraper_pod_labels,
        ),
    ]
