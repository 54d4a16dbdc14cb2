"""Pure builders for the vLLM pod and its neighbours: labels, entrypoint, probes, scheduling, Deployment/Service/PDB specs.

Plain dicts in the Kubernetes API's own camelCase, so tests validate them as manifests. Values may be Pulumi
Outputs where noted (the builders only place them).
"""

from __future__ import annotations

import math
from typing import Any

from vllm_eks.planning.catalog import VLLM_RUN_AS_UID
from vllm_eks.network.ports import VLLM_PORT
from vllm_eks.serving.engine_args import ADAPTERS_DIR
from vllm_eks.planning.serving_plan import ServingPlan
from vllm_eks.planning.sizing import GIB

CONTAINER_NAME = "vllm"
# Tags are pinned (and digests optional): a node that has the image never asks the registry again, so a crash loop
# or a restart costs no pull (Kubernetes, "Images": imagePullPolicy).
PULL_POLICY = "IfNotPresent"
SERVICE_ACCOUNT_NAME = "vllm-server"
API_KEY_SECRET_NAME = "vllm-api-key"
API_KEY_SECRET_KEY = "api-key"
API_KEY_DIR = "/var/run/secrets/vllm"
API_KEY_PATH = f"{API_KEY_DIR}/{API_KEY_SECRET_KEY}"
HOME_DIR = "/home/vllm"
MODELS_DIR = "/models"
HEALTH_PATH = "/health"
# Seconds between SIGTERM's preStop and vLLM seeing it: the Service's endpoints and any load balancer
# stop sending new requests to a terminating pod within this window.
PRE_STOP_SECONDS = 15
# After vLLM's own drain (--shutdown-timeout): process teardown, GPU memory release.
TERMINATION_MARGIN_SECONDS = 15
GPU_NODE_POOLS = {
    "on-demand": ["gpu-on-demand"],
    "spot": ["gpu-spot"],
    "on-demand-with-spot-burst": ["gpu-on-demand", "gpu-spot"],
}
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}

# `exec` makes vLLM PID 1's successor so it receives SIGTERM directly; the key is read from the mounted
# file into the environment of that process only: never argv, never the pod spec's env, never a log line.
ENTRYPOINT_SCRIPT = (
    f'VLLM_API_KEY="$(cat {API_KEY_PATH})" || exit 1; export VLLM_API_KEY; '
    'exec python3 -m vllm.entrypoints.openai.api_server "$@"'
)


def pod_labels(model_name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": model_name}


def synced_model_dir(model_name: str) -> str:
    """Where the s3-sync fallback puts the checkpoint (`--model` then points here)."""
    return f"{MODELS_DIR}/{model_name}"


def container_command() -> list[str]:
    """`sh -c SCRIPT vllm ARGS...`: the script's "$@" is the container's `args` (the engine arguments)."""
    return ["/bin/sh", "-c", ENTRYPOINT_SCRIPT, "vllm"]


def termination_grace_seconds(shutdown_timeout_seconds: int) -> int:
    return PRE_STOP_SECONDS + shutdown_timeout_seconds + TERMINATION_MARGIN_SECONDS


def probes(startup_budget_seconds: int) -> dict[str, Any]:
    """Startup covers the whole load (S3 stream, CUDA graphs); liveness only starts after it and is lenient."""
    period = 10
    http = {"httpGet": {"path": HEALTH_PATH, "port": "http"}, "timeoutSeconds": 5}
    return {
        "startupProbe": {**http, "periodSeconds": period, "failureThreshold": math.ceil(startup_budget_seconds / period)},
        "readinessProbe": {**http, "periodSeconds": period, "failureThreshold": 3, "successThreshold": 1},
        # A busy engine answers /health slowly, not never: 5 misses 30 s apart before a restart.
        "livenessProbe": {**http, "timeoutSeconds": 10, "periodSeconds": 30, "failureThreshold": 5},
    }


def node_affinity(capacity_type: str, instance_type: str) -> dict[str, Any]:
    """Only the matching Karpenter GPU pools and the planned instance type; on-demand preferred for burst stacks."""
    pools = GPU_NODE_POOLS[capacity_type]
    affinity: dict[str, Any] = {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {
                    "matchExpressions": [
                        {"key": "karpenter.sh/nodepool", "operator": "In", "values": pools},
                        {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": [instance_type]},
                    ]
                }
            ]
        }
    }
    if len(pools) > 1:
        # Karpenter honours preferences first: the baseline fills the on-demand pool (bounded by its limits),
        # the burst beyond it lands on Spot.
        affinity["preferredDuringSchedulingIgnoredDuringExecution"] = [
            {"weight": 100, "preference": {"matchExpressions": [{"key": "karpenter.sh/nodepool", "operator": "In", "values": [pools[0]]}]}}
        ]
    return {"nodeAffinity": affinity}


def topology_spread(labels: dict[str, str], min_replicas: int) -> list[dict[str, Any]]:
    """Spread over zones: a hard rule once two replicas are promised, a preference below that."""
    return [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "DoNotSchedule" if min_replicas >= 2 else "ScheduleAnyway",
            "labelSelector": {"matchLabels": dict(labels)},
        }
    ]


def container_resources(plan: ServingPlan) -> dict[str, Any]:
    """Requests equal limits (Guaranteed QoS: the last pod the kubelet would evict); GPUs = TP size."""
    amounts = {"cpu": str(plan["pod_cpu"]), "memory": f"{plan['pod_memory_gib']}Gi", "nvidia.com/gpu": str(plan["tensor_parallel_size"])}
    return {"requests": dict(amounts), "limits": dict(amounts)}


def shm_size_gib(plan: ServingPlan) -> int:
    """/dev/shm for vLLM's inter-process queues and NCCL under TP: a tenth of the pod's memory, 2–16 GiB."""
    return min(16, max(2, plan["pod_memory_gib"] // 10))


def sync_volume_gib(plan: ServingPlan) -> int:
    return math.ceil(plan["weight_bytes"] * 1.1 / GIB) + 1


def _security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": VLLM_RUN_AS_UID,
        "runAsGroup": VLLM_RUN_AS_UID,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_security_context() -> dict[str, Any]:
    """Pod-level identity of the vLLM pods and the weight sync job: one non-root UID/GID, fsGroup, default seccomp."""
    return {
        "runAsNonRoot": True,
        "runAsUser": VLLM_RUN_AS_UID,
        "runAsGroup": VLLM_RUN_AS_UID,
        "fsGroup": VLLM_RUN_AS_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _cache_environment() -> list[dict[str, str]]:
    """Every cache vLLM, Triton, torch.compile and Hugging Face write, moved onto the writable home emptyDir."""
    cache = f"{HOME_DIR}/.cache"
    values = {
        "HOME": HOME_DIR,
        "USER": "vllm",  # getpass.getuser() (torch inductor) fails for a UID without a passwd entry otherwise
        "XDG_CACHE_HOME": cache,
        "XDG_CONFIG_HOME": f"{HOME_DIR}/.config",
        "HF_HOME": f"{cache}/huggingface",
        "VLLM_CACHE_ROOT": f"{cache}/vllm",
        "VLLM_CONFIG_ROOT": f"{HOME_DIR}/.config/vllm",
        "TRITON_CACHE_DIR": f"{cache}/triton",
        "TORCHINDUCTOR_CACHE_DIR": f"{cache}/torchinductor",
        "NUMBA_CACHE_DIR": f"{cache}/numba",
        "TMPDIR": "/tmp",
    }
    return [{"name": name, "value": value} for name, value in values.items()]


def vllm_environment(region: str) -> list[dict[str, str]]:
    """Plain settings only; the API key is not among them (see ENTRYPOINT_SCRIPT)."""
    values = {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        # Weights come from S3; the nodes have no route to the Hugging Face hub and should not try.
        "HF_HUB_OFFLINE": "1",
        "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1",
        "VLLM_LOGGING_LEVEL": "INFO",
    }
    return _cache_environment() + [{"name": name, "value": value} for name, value in values.items()]


def fetch_container(
    *,
    model_name: str,
    image: str,
    bucket_name: Any,
    sync_prefix: str | None,
    adapters: list[tuple[str, str]],
    region: str,
) -> dict[str, Any]:
    """Init container copying weights (s3-sync fallback) and LoRA adapters from S3 into emptyDirs.

    bucket_name may be an Output (placed in env); sync_prefix is the model's prefix when the model is synced,
    None when it is streamed; adapters are (name, prefix) pairs.
    """
    steps = []
    if sync_prefix is not None:
        steps.append(f'aws s3 sync --only-show-errors "s3://$WEIGHTS_BUCKET/{sync_prefix}" {synced_model_dir(model_name)}')
    steps += [f'aws s3 sync --only-show-errors "s3://$WEIGHTS_BUCKET/{prefix}" {ADAPTERS_DIR}/{name}' for name, prefix in adapters]
    mounts = [{"name": "fetch-home", "mountPath": "/tmp"}]
    if sync_prefix is not None:
        mounts.append({"name": "models", "mountPath": MODELS_DIR})
    if adapters:
        mounts.append({"name": "adapters", "mountPath": ADAPTERS_DIR})
    return {
        "name": "fetch-weights",
        "image": image,
        "imagePullPolicy": PULL_POLICY,
        "command": ["/bin/sh", "-c", "set -eu; " + " && ".join(steps)],
        "env": [
            {"name": "WEIGHTS_BUCKET", "value": bucket_name},
            {"name": "HOME", "value": "/tmp"},
            {"name": "AWS_REGION", "value": region},
            {"name": "AWS_DEFAULT_REGION", "value": region},
        ],
        # Equal to its limits: the pod's QoS class counts init containers too, so one Burstable init container
        # would make the whole vLLM pod Burstable (Kubernetes, "Pod Quality of Service Classes").
        "resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}},
        "securityContext": _security_context(),
        "volumeMounts": mounts,
    }


def deployment_spec(
    *,
    model_name: str,
    image: str,
    engine_args: Any,
    plan: ServingPlan,
    capacity_type: str,
    min_replicas: int,
    startup_budget_seconds: int,
    shutdown_timeout_seconds: int,
    region: str,
    fetch: dict[str, Any] | None,
) -> dict[str, Any]:
    """The Deployment `spec` for one model (engine_args may be an Output of the argument list)."""
    labels = pod_labels(model_name)
    volumes: list[dict[str, Any]] = [
        {"name": "api-key", "secret": {"secretName": API_KEY_SECRET_NAME, "defaultMode": 0o440,
                                       "items": [{"key": API_KEY_SECRET_KEY, "path": API_KEY_SECRET_KEY}]}},
        {"name": "home", "emptyDir": {"sizeLimit": "20Gi"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "4Gi"}},
        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": f"{shm_size_gib(plan)}Gi"}},
    ]  # fmt: skip
    mounts: list[dict[str, Any]] = [
        {"name": "api-key", "mountPath": API_KEY_DIR, "readOnly": True},
        {"name": "home", "mountPath": HOME_DIR},
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "dshm", "mountPath": "/dev/shm"},
    ]
    init_containers = []
    if fetch is not None:
        init_containers.append(fetch)
        volumes.append({"name": "fetch-home", "emptyDir": {"sizeLimit": "1Gi"}})
        fetched = {mount["name"] for mount in fetch["volumeMounts"]}
        if "models" in fetched:
            # On the node's encrypted ephemeral disk, not memory: a multi-GB checkpoint would eat the pod's RAM.
            volumes.append({"name": "models", "emptyDir": {"sizeLimit": f"{sync_volume_gib(plan)}Gi"}})
            mounts.append({"name": "models", "mountPath": MODELS_DIR, "readOnly": True})
        if "adapters" in fetched:
            volumes.append({"name": "adapters", "emptyDir": {"sizeLimit": "10Gi"}})
            mounts.append({"name": "adapters", "mountPath": ADAPTERS_DIR, "readOnly": True})
    container = {
        "name": CONTAINER_NAME,
        "image": image,
        "imagePullPolicy": PULL_POLICY,
        "command": container_command(),
        "args": engine_args,
        "ports": [{"name": "http", "containerPort": VLLM_PORT, "protocol": "TCP"}],
        "env": vllm_environment(region),
        "resources": container_resources(plan),
        "securityContext": _security_context(),
        "volumeMounts": mounts,
        "lifecycle": {"preStop": {"exec": {"command": ["/bin/sh", "-c", f"sleep {PRE_STOP_SECONDS}"]}}},
        **probes(startup_budget_seconds),
    }
    pod_spec: dict[str, Any] = {
        "serviceAccountName": SERVICE_ACCOUNT_NAME,
        # IRSA does not need the API token: EKS's pod identity webhook projects its own STS token volume.
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": termination_grace_seconds(shutdown_timeout_seconds),
        "securityContext": pod_security_context(),
        "tolerations": [dict(GPU_TOLERATION)],
        "affinity": node_affinity(capacity_type, plan["instance_type"]),
        "topologySpreadConstraints": topology_spread(labels, min_replicas),
        "containers": [container],
        "volumes": volumes,
    }
    if init_containers:
        pod_spec["initContainers"] = init_containers
    return {
        "replicas": min_replicas,
        "selector": {"matchLabels": dict(labels)},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        # A new GPU node, a multi-GB image pull and the model load all fit before the rollout counts as stuck.
        "progressDeadlineSeconds": startup_budget_seconds + 1200,
        "revisionHistoryLimit": 3,
        "template": {"metadata": {"labels": dict(labels)}, "spec": pod_spec},
    }


def service_spec(model_name: str) -> dict[str, Any]:
    return {
        "type": "ClusterIP",
        "selector": pod_labels(model_name),
        "ports": [{"name": "http", "port": VLLM_PORT, "targetPort": "http", "protocol": "TCP"}],
    }


def disruption_budget_spec(model_name: str) -> dict[str, Any]:
    return {"minAvailable": 1, "selector": {"matchLabels": pod_labels(model_name)}}

