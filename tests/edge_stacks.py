"""Render the Edge for a stack: from the real `__main__.py` once it composes it, otherwise from a minimal program
(the real Network and Observability, a Kubernetes provider of its own, and the names and labels VllmService
registers) so the edge tests run before the composition lands. Import the fixtures to use them:
`from edge_stacks import dev_snapshot, prod_snapshot`.
"""

from __future__ import annotations

import tempfile
import textwrap
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from preflight.render import read_stack_config, render_config

_PROGRAM = textwrap.dedent(
    '''
    import pulumi
    import pulumi_kubernetes as k8s

    from components.edge import Edge
    from components.network import Network, plan_subnets
    from components.observability import Observability
    from components.vllm_pod import pod_labels
    from stack_config import SECTIONS, load_stack_config

    config = load_stack_config({section: pulumi.Config().get_object(section) for section in SECTIONS})
    region = pulumi.Config("aws").require("region")
    stack = pulumi.get_stack()
    network = Network("network", {
        "cidr": config.network.cidr,
        "availability_zone_count": config.network.availability_zones,
        "nat_gateways": config.network.nat_gateways,
        "interface_endpoints": list(config.network.interface_endpoints),
        "flow_log_retention_days": config.network.flow_log_retention_days,
        "cluster_name": f"vllm-eks-{stack}",
        "region": region,
    })
    provider = k8s.Provider("harness-cluster", kubeconfig="{}")
    system = {"vllm-eks/node-role": "system"}
    alerts = config.observability.alerts
    observability = Observability("observability", {
        "k8s_provider": provider,
        "retention_days": config.observability.prometheus_retention_days,
        "storage_gib": config.observability.prometheus_storage_gib,
        "grafana": config.observability.grafana,
        "alerts": {
            "ttft_p95_seconds": alerts.ttft_p95_seconds,
            "kv_cache_usage_ratio": alerts.kv_cache_usage_ratio,
            "requests_waiting": alerts.requests_waiting,
            "error_ratio": alerts.error_ratio,
        },
        "scrape_targets": [
            {"model": m.name, "namespace": f"vllm-{m.name}", "pod_labels": pod_labels(m.name)} for m in config.models
        ],
        "system_node_selector": system,
        "gpu_taint_key": "nvidia.com/gpu",
        "gpu_node_label": "karpenter.k8s.aws/instance-gpu-count",
    })
    edge = Edge("edge", {
        "edge": config.edge,
        "models": [
            {"name": m.name, "served_name": m.served_name, "namespace": f"vllm-{m.name}", "pod_labels": pod_labels(m.name)}
            for m in config.models
        ],
        "internal_key_secret_arn": f"arn:aws:secretsmanager:{region}:123456789012:secret:harness/api-key-AbCdEf",
        "region": region,
        "vpc_id": network.vpc_id,
        "vpc_cidr": config.network.cidr,
        "private_subnet_ids": network.private_subnet_ids,
        "private_subnet_cidrs": plan_subnets(config.network.cidr, config.network.availability_zones).private,
        "cluster_name": f"vllm-eks-{stack}",
        "oidc_provider_arn": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/HARNESS",
        "oidc_issuer": "oidc.eks.us-east-1.amazonaws.com/id/HARNESS",
        "node_security_group_ids": ["sg-0123456789abcdef0"],
        "system_node_selector": system,
        "k8s_provider": provider,
        "scraper_namespace": observability.namespace,
        "scraper_pod_labels": observability.prometheus_pod_labels,
        "monitoring": observability,
        "log_retention_days": config.observability.log_retention_days,
    })
    STACK_OUTPUTS = {
        "apiEndpoint": edge.endpoint,
        "consumerKeySecretArns": edge.consumer_key_secret_arns,
        "edgeLoadBalancerArnSuffix": edge.load_balancer_arn_suffix,
        "edgeTargetGroupArnSuffixes": edge.target_group_arn_suffixes,
    }
    '''
)


def render_edge(stack: str, config: dict[str, Any] | None = None) -> dict:
    """The snapshot of `stack` (or of `config` under that stack name) with the Edge in it."""
    config = config if config is not None else read_stack_config(stack)
    snapshot = render_config(stack, config)
    if any(resource["type"] == "vllm-eks:index:Edge" for resource in snapshot["resources"]):
        return snapshot
    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / "__main__.py").write_text(_PROGRAM)
        return render_config(stack, config, Path(directory))


@lru_cache(maxsize=None)
def rendered(stack: str) -> dict:
    return render_edge(stack)


@pytest.fixture(scope="session")
def dev_snapshot() -> dict:
    return rendered("dev")


@pytest.fixture(scope="session")
def prod_snapshot() -> dict:
    return rendered("prod")
