"""Render Observability and Autoscaling for a stack: from the real `__main__.py` once it composes them, otherwise
from a minimal program with a Kubernetes provider of its own and the names VllmService registers (vllm-<model>).
"""

from __future__ import annotations

import textwrap
from functools import lru_cache
from pathlib import Path
import tempfile

from preflight.render import read_stack_config, render_config, render_stack

_PROGRAM = textwrap.dedent(
    '''
    import pulumi
    import pulumi_kubernetes as k8s

    from components.autoscaling import Autoscaling
    from components.catalog import ALB_CLOUDWATCH_NAMESPACE, ALB_REQUEST_COUNT_METRIC
    from components.observability import Observability
    from components.vllm_pod import pod_labels
    from stack_config import SECTIONS, load_stack_config

    config = load_stack_config({section: pulumi.Config().get_object(section) for section in SECTIONS})
    region = pulumi.Config("aws").require("region")
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
    scaling = config.autoscaling
    hours = scaling.working_hours
    Autoscaling("autoscaling", {
        "k8s_provider": provider,
        "region": region,
        "oidc_provider_arn": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/HARNESS",
        "oidc_issuer": "oidc.eks.us-east-1.amazonaws.com/id/HARNESS",
        "prometheus_url": observability.prometheus_url,
        "policy": {
            "queue_threshold_per_replica": scaling.queue_threshold_per_replica,
            "polling_interval_seconds": scaling.polling_interval_seconds,
            "scale_down_window_seconds": scaling.scale_down_window_seconds,
            "scale_up_window_seconds": scaling.scale_up_window_seconds,
            "fallback_replicas": scaling.fallback_replicas,
        },
        "working_hours": {"timezone": hours.timezone, "start": hours.start, "end": hours.end} if hours else None,
        "models": [
            {
                "model": m.name,
                "served_model_name": m.served_name,
                "namespace": f"vllm-{m.name}",
                "deployment_name": f"vllm-{m.name}",
                "min_replicas": m.min_replicas,
                "max_replicas": m.max_replicas,
                "on_demand_replicas": m.on_demand_replicas,
                "wake_up": {
                    "namespace": ALB_CLOUDWATCH_NAMESPACE,
                    "metric_name": ALB_REQUEST_COUNT_METRIC,
                    "dimensions": {"LoadBalancer": "app/harness/0123456789abcdef",
                                   "TargetGroup": f"targetgroup/{m.name}/0123456789abcdef"},
                } if m.min_replicas == 0 else None,
            }
            for m in config.models
        ],
        "system_node_selector": system,
    })
    '''
)


@lru_cache(maxsize=None)
def rendered(stack: str) -> dict:
    snapshot = render_stack(stack)
    if any(resource["type"] == "vllm-eks:index:Autoscaling" for resource in snapshot["resources"]):
        return snapshot
    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / "__main__.py").write_text(_PROGRAM)
        return render_config(stack, read_stack_config(stack), Path(directory))
