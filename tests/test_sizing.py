"""The capacity planner against figures computed by hand (catalog facts, vLLM's block-granular KV cache)."""

from __future__ import annotations

import dataclasses

import pytest

from vllm_eks.planning.catalog import GPU_INSTANCES, MODELS
from vllm_eks.planning.sizing import (
    SizingError,
    cheapest_fitting_plan,
    fit_problem,
    kv_bytes_per_token,
    plan_capacity,
    plan_models,
    pod_resources,
    tensor_parallel_problem,
)
from stack_config import ModelConfig

GIB = 2**30
OVERHEAD = 2 * GIB  # catalog VLLM_GPU_OVERHEAD_GIB
# CUDA-reported totals (catalog GPU_REPORTED_MEMORY_MIB) × 0.92, truncated to bytes:
A10G_USABLE = 22_214_879_477  # 23 028 MiB = 24 146 608 128 B × 0.92
L4_USABLE = 22_220_667_617  # 23 034 MiB = 24 152 899 584 B × 0.92
L40S_USABLE = 44_441_335_234  # 46 068 MiB = 48 305 799 168 B × 0.92


def _model(**overrides) -> ModelConfig:
    fields = {"name": "m", "servedName": "m", "catalogModel": "qwen3-8b", "s3Prefix": "models/m", "maxModelLen": 32768}
    return ModelConfig.model_validate({**fields, **overrides})


def test_kv_bytes_per_token_use_kv_heads_not_hidden_size():
    # 2 (K,V) × layers × KV heads × head_dim × 2 bytes (bf16)
    assert kv_bytes_per_token(MODELS["qwen3-8b"], "auto") == 2 * 36 * 8 * 128 * 2 == 147_456
    assert kv_bytes_per_token(MODELS["qwen3-1.7b"], "auto") == 2 * 28 * 8 * 128 * 2 == 114_688 == 112 * 1024
    assert kv_bytes_per_token(MODELS["llama-3.1-70b"], "auto") == 2 * 80 * 8 * 128 * 2 == 327_680
    # A hidden-size formula (2 × layers × hidden × 2) would give twice as much for Qwen3-1.7B (hidden 2048).
    assert kv_bytes_per_token(MODELS["qwen3-1.7b"], "auto") * 2 == 2 * 28 * 2048 * 2


def test_kv_heads_are_replicated_when_tensor_parallelism_exceeds_them():
    # 8 KV heads over TP 4: 2 per GPU, no replication, same total.
    assert kv_bytes_per_token(MODELS["qwen3-8b"], "auto", tensor_parallel_size=4) == 147_456
    # Over TP 16, each GPU still holds one head: 16 heads' worth in total.
    assert kv_bytes_per_token(MODELS["qwen3-32b"], "auto", tensor_parallel_size=16) == 2 * 64 * 16 * 128 * 2


def test_qwen3_8b_on_g5_12xlarge():
    plan = plan_capacity(
        model_name="qwen3-8b", catalog_model="qwen3-8b", instance_type="g5.12xlarge",
        max_model_len=32768, gpu_memory_utilization=0.92,
    )  # fmt: skip
    assert plan.tensor_parallel_size == 4 == plan.pod.gpus
    assert plan.dtype == "bfloat16"
    assert plan.weight_bytes == 8_190_000_000 * 2 == 16_380_000_000
    assert plan.weight_bytes_per_gpu == 4_095_000_000
    assert plan.usable_bytes_per_gpu == A10G_USABLE
    assert plan.kv_cache_bytes_per_gpu == A10G_USABLE - 4_095_000_000 - OVERHEAD == 15_972_395_829
    assert plan.kv_bytes_per_token == 147_456
    assert plan.kv_bytes_per_token_per_gpu == 2 * 36 * 2 * 128 * 2 == 36_864
    # whole blocks of 16 tokens: 15 972 395 829 // (36 864 × 16) = 27 079 blocks
    assert plan.kv_capacity_tokens == 27_079 * 16 == 433_264
    assert plan.max_concurrent_sequences == 433_264 // 32768 == 13
    assert plan.on_demand_usd_per_hour == pytest.approx(5.672)
    assert fit_problem(plan) is None


def test_qwen3_1_7b_on_g6_2xlarge():
    plan = plan_capacity(
        model_name="qwen3-1-7b", catalog_model="qwen3-1.7b", instance_type="g6.2xlarge",
        max_model_len=16384, gpu_memory_utilization=0.92,
    )  # fmt: skip
    assert plan.tensor_parallel_size == 1
    assert plan.weight_bytes == 2_030_000_000 * 2 == 4_060_000_000
    assert plan.kv_cache_bytes_per_gpu == L4_USABLE - 4_060_000_000 - OVERHEAD == 16_013_183_969
    assert plan.kv_bytes_per_token == 114_688
    assert plan.kv_capacity_tokens == (16_013_183_969 // (114_688 * 16)) * 16 == 8_726 * 16 == 139_616
    assert plan.max_concurrent_sequences == 139_616 // 16384 == 8


def test_llama_3_1_8b_on_g6e_xlarge_and_fp8_halves_the_weights():
    plan = plan_capacity(
        model_name="llama", catalog_model="llama-3.1-8b", instance_type="g6e.xlarge",
        max_model_len=32768, gpu_memory_utilization=0.92,
    )  # fmt: skip
    assert plan.weight_bytes == 16_060_000_000
    assert plan.kv_cache_bytes_per_gpu == L40S_USABLE - 16_060_000_000 - OVERHEAD == 26_233_851_586
    assert plan.kv_bytes_per_token == 2 * 32 * 8 * 128 * 2 == 131_072
    assert plan.kv_capacity_tokens == (26_233_851_586 // (131_072 * 16)) * 16 == 200_144
    assert plan.max_concurrent_sequences == 6
    fp8 = plan_capacity(
        model_name="llama", catalog_model="llama-3.1-8b", instance_type="g6e.xlarge",
        max_model_len=32768, gpu_memory_utilization=0.92, quantization="fp8",
    )  # fmt: skip
    assert fp8.weight_bytes == 8_030_000_000
    assert fp8.kv_bytes_per_token == plan.kv_bytes_per_token  # the KV cache stays bf16


def test_llama_3_1_70b_on_g6_2xlarge_is_rejected_naming_the_cheapest_instance_that_fits():
    with pytest.raises(SizingError) as raised:
        plan_models([_model(name="llama-70b", catalogModel="llama-3.1-70b", maxModelLen=8192, instanceType="g6.2xlarge")])
    message = str(raised.value)
    assert "models[0].instanceType: got 'g6.2xlarge' for llama-70b (llama-3.1-70b" in message
    assert "131.5 GiB of bfloat16 weights" in message  # 70.6e9 × 2 B
    assert "exceed the 20.7 GiB usable per L4" in message
    # Cheapest fit: g6e.12xlarge (4× L40S, $10.49/h): 35.3e9 B of weights per GPU leave
    # 44 441 335 234 − 35 300 000 000 − 2 GiB = 6 993 851 586 B → 5 335 blocks of 16 × 81 920 B → 85 360 tokens.
    assert "the cheapest instance that fits is g6e.12xlarge (4x L40S, 10.49264 $/h, 10 sequences at full context)" in message


def test_cheapest_fitting_plan_for_auto_and_its_kv_figures():
    plan = cheapest_fitting_plan(model_name="x", catalog_model="llama-3.1-70b", max_model_len=8192, gpu_memory_utilization=0.92)
    assert plan.instance_type == "g6e.12xlarge"
    assert plan.kv_cache_bytes_per_gpu == L40S_USABLE - 35_300_000_000 - OVERHEAD == 6_993_851_586
    assert plan.kv_capacity_tokens == (6_993_851_586 // (81_920 * 16)) * 16 == 5_335 * 16 == 85_360
    assert plan.max_concurrent_sequences == 85_360 // 8192 == 10
    # Qwen3-8B at 32k context does not fit one L4 (3.4 GiB of KV < one 32k sequence): the cheapest fit is one L40S.
    plans = plan_models([_model(instanceType="auto")])
    assert plans["m"].instance_type == "g6e.xlarge"


def test_context_longer_than_the_model_supports_is_rejected():
    with pytest.raises(SizingError, match=r"models\[0\]\.maxModelLen: got 65536 for m \(qwen3-8b\), expected at most the model's native context of 32768"):
        plan_models([_model(maxModelLen=65536, instanceType="g5.12xlarge")])


def test_no_instance_fits_names_the_limits(monkeypatch):
    for instance_type in [name for name in GPU_INSTANCES if name not in ("g5.xlarge", "g6.xlarge")]:
        monkeypatch.delitem(GPU_INSTANCES, instance_type)
    with pytest.raises(SizingError, match="no catalog instance fits llama-3.1-70b at maxModelLen 131072"):
        plan_models([_model(catalogModel="llama-3.1-70b", maxModelLen=131072, instanceType="auto", gpuMemoryUtilization=0.8)])


def test_every_problem_is_reported_at_once():
    with pytest.raises(SizingError) as raised:
        plan_models([_model(name="a", maxModelLen=65536), _model(name="b", catalogModel="llama-3.1-70b", instanceType="g5.xlarge")])
    assert [line.split(":")[0] for line in raised.value.problems] == ["models[0].maxModelLen", "models[1].instanceType"]


def test_tensor_parallel_must_divide_the_heads():
    assert tensor_parallel_problem(MODELS["qwen3-8b"], 4) is None
    assert tensor_parallel_problem(MODELS["qwen3-8b"], 3) == "tensor parallel size 3 does not divide its 32 attention heads"
    assert tensor_parallel_problem(MODELS["qwen3-32b"], 16) is None  # 16 > 8 KV heads: replicated, allowed


def test_pod_requests_leave_room_for_the_node():
    g5 = pod_resources(GPU_INSTANCES["g5.12xlarge"])  # 48 vCPU, 192 GiB
    assert (g5.cpu, g5.memory_gib, g5.gpus) == (int(48 * 0.85) - 1, int(192 * 0.85) - 4, 4) == (39, 159, 4)
    g6 = pod_resources(GPU_INSTANCES["g6.2xlarge"])  # 8 vCPU, 32 GiB
    assert (g6.cpu, g6.memory_gib, g6.gpus) == (5, 23, 1)
    # the smallest GPU node of the catalog still leaves the pod whole CPUs and GiB (g5.xlarge: 4 vCPU, 16 GiB)
    pods = [pod_resources(instance) for instance in GPU_INSTANCES.values()]
    assert (min(pod.cpu for pod in pods), min(pod.memory_gib for pod in pods)) == (2, 9)


def test_summary_prints_the_numbers():
    plan = plan_models([_model(name="qwen3-8b", instanceType="g5.12xlarge")])["qwen3-8b"]
    # 8.19 B bf16 weights = 15.26 GiB over 4 ranks; an A10G as CUDA reports it (22.49 GiB) x 0.92; KV: 36 layers x
    # 8 KV heads x 128 dims x (K, V) x 2 bytes
    assert plan.summary() == """\
qwen3-8b (qwen3-8b) on g5.12xlarge: 4x A10G, tensor parallel 4, bfloat16
  weights               15.26 GiB  (3.81 GiB per GPU)
  usable per GPU        20.69 GiB  (at --gpu-memory-utilization 0.92)
  overhead per GPU       2.00 GiB  (activations, CUDA graphs, runtime)
  KV cache per GPU      14.88 GiB
  KV bytes per token   147456      (36864 per GPU)
  KV capacity          433264 tokens
  max concurrent           13 sequences at --max-model-len 32768
  pod requests       39 CPU, 159 GiB, 4 nvidia.com/gpu"""


def test_preflight_render_prints_the_planner_numbers_of_the_stack():
    from preflight.__main__ import capacity_report

    report = capacity_report("prod", None)
    assert "qwen3-8b (qwen3-8b) on g5.12xlarge: 4x A10G, tensor parallel 4, bfloat16" in report
    assert "KV bytes per token   147456" in report
    assert "13 sequences at --max-model-len 32768" in report


# The hardware of each GPU instance the catalog knows, written out from AWS's instance pages ("Amazon EC2 G5 / G6 /
# G6e / P4d / P5 Instances", accelerated computing specifications): GPU, GPUs, GiB per GPU, vCPUs, GiB of memory.
# Prices change and are not pinned here; the sizing depends on these.
GPU_HARDWARE = {
    "g5.xlarge": ("A10G", 1, 24, 4, 16), "g5.2xlarge": ("A10G", 1, 24, 8, 32), "g5.4xlarge": ("A10G", 1, 24, 16, 64),
    "g5.12xlarge": ("A10G", 4, 24, 48, 192), "g5.48xlarge": ("A10G", 8, 24, 192, 768),
    "g6.xlarge": ("L4", 1, 24, 4, 16), "g6.2xlarge": ("L4", 1, 24, 8, 32), "g6.4xlarge": ("L4", 1, 24, 16, 64),
    "g6.12xlarge": ("L4", 4, 24, 48, 192), "g6.48xlarge": ("L4", 8, 24, 192, 768),
    "g6e.xlarge": ("L40S", 1, 48, 4, 32), "g6e.2xlarge": ("L40S", 1, 48, 8, 64),
    "g6e.12xlarge": ("L40S", 4, 48, 48, 384), "g6e.48xlarge": ("L40S", 8, 48, 192, 1536),
    "p4d.24xlarge": ("A100-40GB", 8, 40, 96, 1152), "p5.48xlarge": ("H100", 8, 80, 192, 2048),
}


def test_every_gpu_instance_has_its_published_hardware():
    assert {name: (spec.gpu_model, spec.gpu_count, spec.gpu_memory_gib, spec.vcpu, spec.memory_gib)
            for name, spec in GPU_INSTANCES.items()} == GPU_HARDWARE


def test_weights_larger_than_the_gpus_leave_no_kv_cache_and_no_fit():
    """141.2 GB of Llama-3.1-70B bf16 weights on one L4 (g6.2xlarge, 20.7 GiB usable): the KV budget is negative, which
    is zero blocks, not a negative count; zero sequences at full context is no fit, one sequence is the least that fits
    (vLLM refuses to start when max_model_len tokens do not fit the KV cache)."""
    plan = plan_capacity(
        model_name="llama-70b", catalog_model="llama-3.1-70b", instance_type="g6.2xlarge",
        max_model_len=8192, gpu_memory_utilization=0.92,
    )  # fmt: skip
    assert plan.kv_cache_bytes_per_gpu < 0
    assert (plan.kv_capacity_tokens, plan.max_concurrent_sequences, plan.fits) == (0, 0, False)
    assert dataclasses.replace(plan, max_concurrent_sequences=1).fits is True


def test_a_kv_budget_of_exactly_zero_is_the_weights_problem_and_one_byte_is_the_kv_problem():
    """Zero bytes left after weights and overhead means the weights leave no room at all: say so, not "0 tokens"."""
    plan = plan_capacity(
        model_name="llama-70b", catalog_model="llama-3.1-70b", instance_type="g6.2xlarge",
        max_model_len=8192, gpu_memory_utilization=0.92,
    )  # fmt: skip
    empty = dataclasses.replace(plan, kv_cache_bytes_per_gpu=0)
    assert fit_problem(empty) == ("its weights (131.5 GiB per GPU) and overhead (2.0 GiB) exceed the 20.7 GiB usable per "
                                  "L4 at --gpu-memory-utilization 0.92")
    one_byte = dataclasses.replace(plan, kv_cache_bytes_per_gpu=1)
    assert fit_problem(one_byte).startswith("its KV cache holds 0 tokens")


def test_a_kv_cache_smaller_than_one_sequence_is_said_in_tokens_and_gib():
    """Qwen3-8B bf16 on one L4 (g6.2xlarge) at 0.92: 20.69 GiB usable - 15.26 GiB of weights - 2.0 GiB overhead =
    3.44 GiB of KV cache, at 147 456 bytes a token 25 046 tokens, 25 040 in whole 16-token blocks (vLLM's default
    block size): less than one 32 768-token sequence."""
    plan = plan_capacity(model_name="m", catalog_model="qwen3-8b", instance_type="g6.2xlarge", max_model_len=32768,
                         gpu_memory_utilization=0.92)
    assert fit_problem(plan) == ("its KV cache holds 25040 tokens (3.44 GiB per GPU at 147456 bytes/token), fewer "
                                 "than one sequence of maxModelLen 32768")
