"""The capacity planner: will a model fit an instance, with how much KV cache, and which instance is cheapest.

Pure functions over the catalog: no Pulumi, no I/O. `plan_models` is what `__main__.py` and `preflight` call;
the smaller functions are reused by `preflight plan`.

Memory model (per GPU, mirroring vLLM's start-up profile):
    usable   = CUDA-reported GPU memory × --gpu-memory-utilization
    kv cache = usable − weights / TP − VLLM_GPU_OVERHEAD_GIB
    tokens   = whole KV blocks of kv cache / (KV bytes per token on one GPU)
KV bytes per token use grouped-query attention: 2 (K and V) × layers × KV heads × head dim × dtype bytes.
Under tensor parallelism each GPU holds max(1, KV heads / TP) heads (vLLM replicates KV heads when TP exceeds
them), so a replica's total can exceed the single-GPU figure.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass

from vllm_eks.planning.catalog import (
    DTYPE_BYTES,
    GPU_INSTANCES,
    GPU_REPORTED_MEMORY_MIB,
    MODELS,
    POD_CPU_SHARE_OF_NODE,
    POD_MEMORY_SHARE_OF_NODE,
    POD_NODE_RESERVE_CPU,
    POD_NODE_RESERVE_MEMORY_GIB,
    QUANTIZATION_WEIGHT_BYTES,
    VLLM_GPU_OVERHEAD_GIB,
    VLLM_KV_BLOCK_SIZE,
    GpuInstance,
    ModelSpec,
)

GIB = 1024**3
MIB = 1024**2


class SizingError(ValueError):
    """Models that cannot be served as configured, one line each (raised at config load).

    `plans` holds the models that do fit, so later checks can still report on them in the same run.
    """

    def __init__(self, problems: list[str], plans: dict[str, CapacityPlan] | None = None):
        self.problems = problems
        self.plans = plans or {}
        super().__init__("invalid model sizing:\n" + "\n".join(f"  {line}" for line in problems))


@dataclass(frozen=True)
class PodResources:
    """What one vLLM pod requests (and is limited to) on its dedicated GPU node."""

    cpu: int  # whole cores
    memory_gib: int
    gpus: int


@dataclass(frozen=True)
class CapacityPlan:
    """The planner's figures for one model on one instance type."""

    model_name: str
    catalog_model: str
    instance_type: str
    gpu_model: str
    gpu_count: int
    tensor_parallel_size: int
    dtype: str
    quantization: str | None
    gpu_memory_utilization: float
    usable_bytes_per_gpu: int
    weight_bytes: int
    weight_bytes_per_gpu: int
    overhead_bytes_per_gpu: int
    kv_cache_bytes_per_gpu: int
    kv_bytes_per_token: int  # the whole replica (all TP ranks)
    kv_bytes_per_token_per_gpu: int
    kv_capacity_tokens: int
    max_model_len: int
    max_concurrent_sequences: int  # at full context
    on_demand_usd_per_hour: float
    pod: PodResources

    @property
    def fits(self) -> bool:
        return self.max_concurrent_sequences >= 1

    def summary(self) -> str:
        """The numbers a reviewer checks, one line each."""
        return "\n".join(
            [
                f"{self.model_name} ({self.catalog_model}) on {self.instance_type}: "
                f"{self.gpu_count}x {self.gpu_model}, tensor parallel {self.tensor_parallel_size}, {self.dtype}"
                + (f", {self.quantization}" if self.quantization else ""),
                f"  weights            {self.weight_bytes / GIB:8.2f} GiB  ({self.weight_bytes_per_gpu / GIB:.2f} GiB per GPU)",
                f"  usable per GPU     {self.usable_bytes_per_gpu / GIB:8.2f} GiB  (at --gpu-memory-utilization {self.gpu_memory_utilization})",
                f"  overhead per GPU   {self.overhead_bytes_per_gpu / GIB:8.2f} GiB  (activations, CUDA graphs, runtime)",
                f"  KV cache per GPU   {self.kv_cache_bytes_per_gpu / GIB:8.2f} GiB",
                f"  KV bytes per token {self.kv_bytes_per_token:8d}      ({self.kv_bytes_per_token_per_gpu} per GPU)",
                f"  KV capacity        {self.kv_capacity_tokens:8d} tokens",
                f"  max concurrent     {self.max_concurrent_sequences:8d} sequences at --max-model-len {self.max_model_len}",
                f"  pod requests       {self.pod.cpu} CPU, {self.pod.memory_gib} GiB, {self.pod.gpus} nvidia.com/gpu",
            ]
        )


# --- building blocks (reused by `preflight plan`) ---------------------------------------------------------------
def resolve_dtype(spec: ModelSpec, dtype: str) -> str:
    """vLLM's `--dtype auto` takes the checkpoint's dtype, which the catalog records."""
    return spec.default_dtype if dtype == "auto" else dtype


def weight_bytes(spec: ModelSpec, dtype: str, quantization: str | None = None) -> int:
    per_weight = QUANTIZATION_WEIGHT_BYTES[quantization] if quantization else DTYPE_BYTES[resolve_dtype(spec, dtype)]
    return round(spec.parameters_billion * 1e9 * per_weight)


def kv_heads_per_gpu(spec: ModelSpec, tensor_parallel_size: int) -> int:
    """KV heads held by one TP rank; vLLM replicates them when TP exceeds the model's KV heads."""
    return max(1, spec.kv_heads // tensor_parallel_size)


def kv_bytes_per_token(spec: ModelSpec, dtype: str, tensor_parallel_size: int = 1) -> int:
    """KV-cache bytes per token for the whole replica (grouped-query attention: KV heads, not hidden size)."""
    return kv_bytes_per_token_per_gpu(spec, dtype, tensor_parallel_size) * tensor_parallel_size


def kv_bytes_per_token_per_gpu(spec: ModelSpec, dtype: str, tensor_parallel_size: int = 1) -> int:
    element = DTYPE_BYTES[resolve_dtype(spec, dtype)]
    return int(2 * spec.layers * kv_heads_per_gpu(spec, tensor_parallel_size) * spec.head_dim * element)


def tensor_parallel_problem(spec: ModelSpec, tensor_parallel_size: int) -> str | None:
    """Why vLLM would refuse this TP size for the model, or None when it accepts it."""
    if spec.attention_heads % tensor_parallel_size:
        return f"tensor parallel size {tensor_parallel_size} does not divide its {spec.attention_heads} attention heads"
    if spec.kv_heads % tensor_parallel_size and tensor_parallel_size % spec.kv_heads:
        return (
            f"tensor parallel size {tensor_parallel_size} neither divides nor is a multiple of its "
            f"{spec.kv_heads} KV heads"
        )
    return None


def usable_bytes_per_gpu(instance: GpuInstance, gpu_memory_utilization: float) -> int:
    return int(GPU_REPORTED_MEMORY_MIB[instance.gpu_model] * MIB * gpu_memory_utilization)


def pod_resources(instance: GpuInstance) -> PodResources:
    """Requests for the one vLLM pod on a node of this type, leaving room for the kubelet and DaemonSets."""
    cpu = math.floor(instance.vcpu * POD_CPU_SHARE_OF_NODE) - POD_NODE_RESERVE_CPU
    memory = math.floor(instance.memory_gib * POD_MEMORY_SHARE_OF_NODE) - POD_NODE_RESERVE_MEMORY_GIB
    return PodResources(cpu=cpu, memory_gib=memory, gpus=instance.gpu_count)


def plan_capacity(
    *,
    model_name: str,
    catalog_model: str,
    instance_type: str,
    max_model_len: int,
    gpu_memory_utilization: float,
    dtype: str = "auto",
    quantization: str | None = None,
) -> CapacityPlan:
    """Every figure for one model on one instance; does not judge (see `fit_problem`)."""
    spec = MODELS[catalog_model]
    instance = GPU_INSTANCES[instance_type]
    tensor_parallel_size = instance.gpu_count
    resolved_dtype = resolve_dtype(spec, dtype)
    weights = weight_bytes(spec, resolved_dtype, quantization)
    weights_per_gpu = math.ceil(weights / tensor_parallel_size)
    usable = usable_bytes_per_gpu(instance, gpu_memory_utilization)
    overhead = int(VLLM_GPU_OVERHEAD_GIB * GIB)
    kv_cache = usable - weights_per_gpu - overhead
    per_gpu_token = kv_bytes_per_token_per_gpu(spec, resolved_dtype, tensor_parallel_size)
    blocks = max(0, kv_cache) // (per_gpu_token * VLLM_KV_BLOCK_SIZE)
    capacity = blocks * VLLM_KV_BLOCK_SIZE
    return CapacityPlan(
        model_name=model_name,
        catalog_model=catalog_model,
        instance_type=instance_type,
        gpu_model=instance.gpu_model,
        gpu_count=instance.gpu_count,
        tensor_parallel_size=tensor_parallel_size,
        dtype=resolved_dtype,
        quantization=quantization,
        gpu_memory_utilization=gpu_memory_utilization,
        usable_bytes_per_gpu=usable,
        weight_bytes=weights,
        weight_bytes_per_gpu=weights_per_gpu,
        overhead_bytes_per_gpu=overhead,
        kv_cache_bytes_per_gpu=kv_cache,
        kv_bytes_per_token=per_gpu_token * tensor_parallel_size,
        kv_bytes_per_token_per_gpu=per_gpu_token,
        kv_capacity_tokens=capacity,
        max_model_len=max_model_len,
        max_concurrent_sequences=capacity // max_model_len,
        on_demand_usd_per_hour=instance.on_demand_usd_per_hour,
        pod=pod_resources(instance),
    )


def fit_problem(plan: CapacityPlan) -> str | None:
    """Why the plan cannot serve one full-length sequence (vLLM refuses to start then), or None."""
    tp_problem = tensor_parallel_problem(MODELS[plan.catalog_model], plan.tensor_parallel_size)
    if tp_problem:
        return tp_problem
    if plan.kv_cache_bytes_per_gpu <= 0:
        return (
            f"its weights ({plan.weight_bytes_per_gpu / GIB:.1f} GiB per GPU) and overhead "
            f"({plan.overhead_bytes_per_gpu / GIB:.1f} GiB) exceed the {plan.usable_bytes_per_gpu / GIB:.1f} GiB usable "
            f"per {plan.gpu_model} at --gpu-memory-utilization {plan.gpu_memory_utilization}"
        )
    if not plan.fits:
        return (
            f"its KV cache holds {plan.kv_capacity_tokens} tokens "
            f"({plan.kv_cache_bytes_per_gpu / GIB:.2f} GiB per GPU at {plan.kv_bytes_per_token_per_gpu} bytes/token), "
            f"fewer than one sequence of maxModelLen {plan.max_model_len}"
        )
    return None


def cheapest_fitting_plan(
    *,
    model_name: str,
    catalog_model: str,
    max_model_len: int,
    gpu_memory_utilization: float,
    dtype: str = "auto",
    quantization: str | None = None,
    instance_types: Iterable[str] = GPU_INSTANCES,
) -> CapacityPlan | None:
    """The cheapest instance (on-demand $/h) whose plan fits, or None when no catalog instance does."""
    candidates = sorted(instance_types, key=lambda name: (GPU_INSTANCES[name].on_demand_usd_per_hour, name))
    for instance_type in candidates:
        plan = plan_capacity(
            model_name=model_name,
            catalog_model=catalog_model,
            instance_type=instance_type,
            max_model_len=max_model_len,
            gpu_memory_utilization=gpu_memory_utilization,
            dtype=dtype,
            quantization=quantization,
        )
        if fit_problem(plan) is None:
            return plan
    return None


# --- the stack's models -----------------------------------------------------------------------------------------
def plan_models(models: Iterable, indices: Iterable[int] | None = None) -> dict[str, CapacityPlan]:
    """Plan every configured model (`stack_config.ModelConfig`), resolving `instanceType: auto`.

    Raises SizingError naming each model that cannot be served, its numbers and the cheapest instance that fits.
    `indices` are the models' positions in the stack's `models` list when only some of them are planned.
    """
    plans: dict[str, CapacityPlan] = {}
    problems: list[str] = []
    for index, model in zip(itertools.count() if indices is None else indices, models):
        setting = f"models[{index}]"
        spec = MODELS[model.catalog_model]
        common = {
            "model_name": model.name,
            "catalog_model": model.catalog_model,
            "max_model_len": model.max_model_len,
            "gpu_memory_utilization": model.gpu_memory_utilization,
            "dtype": model.dtype,
            "quantization": model.quantization,
        }
        if model.max_model_len > spec.max_context:
            problems.append(
                f"{setting}.maxModelLen: got {model.max_model_len} for {model.name} ({model.catalog_model}), "
                f"expected at most the model's native context of {spec.max_context} tokens"
            )
            continue
        cheapest = cheapest_fitting_plan(**common)
        if model.instance_type == "auto":
            if cheapest is None:
                problems.append(f"{setting}.instanceType: got 'auto' for {model.name}, but {_no_instance_fits(model)}")
            else:
                plans[model.name] = cheapest
            continue
        plan = plan_capacity(instance_type=model.instance_type, **common)
        problem = fit_problem(plan)
        if problem is None:
            plans[model.name] = plan
            continue
        alternative = (
            f"the cheapest instance that fits is {cheapest.instance_type} ({cheapest.gpu_count}x {cheapest.gpu_model}, "
            f"{cheapest.on_demand_usd_per_hour} $/h, {cheapest.max_concurrent_sequences} sequences at full context)"
            if cheapest
            else _no_instance_fits(model)
        )
        problems.append(
            f"{setting}.instanceType: got {model.instance_type!r} for {model.name} ({model.catalog_model}, "
            f"{plan.weight_bytes / GIB:.1f} GiB of {plan.quantization or plan.dtype} weights, "
            f"{plan.gpu_count}x {plan.gpu_model}): {problem}; expected an instance that fits: {alternative}"
        )
    if problems:
        raise SizingError(problems, plans)
    return plans


def _no_instance_fits(model) -> str:
    return (
        f"no catalog instance fits {model.catalog_model} at maxModelLen {model.max_model_len} "
        f"(lower maxModelLen, quantize, or add a larger instance to the catalog)"
    )
