"""Performance pillar: vLLM uses exactly the GPUs it requests, with a sane KV-cache memory share."""

from __future__ import annotations


from _kubernetes import flag_values, judged_as_vllm, vllm_containers
from _stack import ADVISORY, MANDATORY, resource_policy
from _values import UNKNOWN, as_number, fmt_number, get, is_unknown

GPU_RESOURCE = "nvidia.com/gpu"


def _flag_number(container, *flags, default=None):
    values = flag_values(container, *flags)
    if is_unknown(values):
        return UNKNOWN, None
    if not values:
        return default, None
    raw = values[-1]  # argparse: the last occurrence wins
    return as_number(raw), raw


def _check_tensor_parallel(resource_type, props, config, findings, args):
    if not judged_as_vllm(resource_type, props, findings):
        return
    for container in vllm_containers(resource_type, props):
        name = container.get("name", "?")
        limit = get(container, "resources", "limits", GPU_RESOURCE)
        if is_unknown(limit):
            findings.cannot_judge(f"{name}.resources.limits")
            continue
        tp, tp_raw = _flag_number(container, "--tensor-parallel-size", "-tp", default=1.0)
        pp, _ = _flag_number(container, "--pipeline-parallel-size", "-pp", default=1.0)
        dp, _ = _flag_number(container, "--data-parallel-size", "-dp", default=1.0)
        if any(is_unknown(v) for v in (tp, pp, dp)):
            findings.cannot_judge(f"{name} parallelism flags")
            continue
        if limit is None:
            if tp_raw is not None:
                findings.fail(f"vLLM container '{name}' sets --tensor-parallel-size {tp_raw} but has no "
                              f"{GPU_RESOURCE} limit; request the GPUs it shards across.")
            continue  # a CPU build of vLLM: no GPUs to match
        gpus = as_number(limit)
        if None in (tp, pp, dp, gpus):
            findings.fail(f"vLLM container '{name}' has a non-numeric --tensor-parallel-size, "
                          f"--pipeline-parallel-size, --data-parallel-size or {GPU_RESOURCE} limit.")
            continue
        needed = tp * pp * dp
        if needed != gpus:
            detail = f"--tensor-parallel-size {fmt_number(tp)}"
            if pp != 1.0 or dp != 1.0:
                detail += f" x pipeline {fmt_number(pp)} x data {fmt_number(dp)} = {fmt_number(needed)}"
            findings.fail(f"vLLM container '{name}' uses {detail} but its {GPU_RESOURCE} limit is {fmt_number(gpus)}; "
                          "they must be equal (too many fails at start, too few leaves paid GPUs idle).")


vllm_tensor_parallel_matches_gpus = resource_policy(
    name="vllm-tensor-parallel-matches-gpus",
    description="vLLM's --tensor-parallel-size (x pipeline/data parallel) equals the container's nvidia.com/gpu limit.",
    enforcement_level=MANDATORY,
    check=_check_tensor_parallel,
)


UTILIZATION_CONFIG = {
    "minUtilization": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.85,
                       "description": "Lowest --gpu-memory-utilization accepted (below wastes KV-cache memory)."},
    "maxUtilization": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.95,
                       "description": "Highest --gpu-memory-utilization accepted (above risks CUDA OOM)."},
}
VLLM_DEFAULT_GPU_MEMORY_UTILIZATION = 0.9  # vLLM's own default when the flag is absent


def _check_gpu_memory_utilization(resource_type, props, config, findings, args):
    if not judged_as_vllm(resource_type, props, findings):
        return
    low, high = float(config["minUtilization"]), float(config["maxUtilization"])
    for container in vllm_containers(resource_type, props):
        name = container.get("name", "?")
        value, raw = _flag_number(container, "--gpu-memory-utilization", default=VLLM_DEFAULT_GPU_MEMORY_UTILIZATION)
        if is_unknown(value):
            findings.cannot_judge(f"{name} --gpu-memory-utilization")
            continue
        if value is None:
            findings.fail(f"vLLM container '{name}' --gpu-memory-utilization {raw!r} is not a number.")
        elif not low <= value <= high:
            shown = raw if raw is not None else f"unset (vLLM default {VLLM_DEFAULT_GPU_MEMORY_UTILIZATION})"
            findings.fail(f"vLLM container '{name}' --gpu-memory-utilization is {shown}; keep it within "
                          f"{fmt_number(low)}-{fmt_number(high)} (policy config minUtilization/maxUtilization).")


vllm_gpu_memory_utilization_range = resource_policy(
    name="vllm-gpu-memory-utilization-range",
    description="vLLM's --gpu-memory-utilization lies within the configured range (default 0.85-0.95).",
    enforcement_level=ADVISORY,
    check=_check_gpu_memory_utilization,
    config=UTILIZATION_CONFIG,
)


POLICIES = [
    vllm_tensor_parallel_matches_gpus,
    vllm_gpu_memory_utilization_range,
]
