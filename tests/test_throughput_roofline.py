"""The decode roofline and the replicas a load needs, against figures worked out by hand: qwen3-8b on g5.12xlarge
(config.json: 36 layers, 8 KV heads of 128 dims; 4 A10G at 600 GB/s each, NVIDIA A10G data sheet), vLLM's default
--max-num-seqs (vllm/engine/arg_utils.py get_batch_defaults: 256, 1024 on >= 70 GiB GPUs other than A100)."""

from __future__ import annotations

import dataclasses

import pytest

from vllm_eks.planning.catalog import VLLM_DEFAULT_MAX_NUM_SEQS
from vllm_eks.planning.serving_plan import serving_plan
from vllm_eks.planning.sizing import plan_capacity
from vllm_eks.planning.throughput import estimate_throughput, replicas_for_load, typical_batch_size

PLAN = plan_capacity(model_name="m", catalog_model="qwen3-8b", instance_type="g5.12xlarge", max_model_len=32768,
                     gpu_memory_utilization=0.92)
WEIGHTS_PER_GPU = 4_095_000_000  # 16.38e9 B of bf16 weights over 4 ranks
KV_PER_TOKEN_PER_GPU = 2 * 36 * 2 * 128 * 2  # K and V x layers x (8 KV heads / 4 ranks) x dims x 2 bytes = 36 864


def test_the_roofline_at_the_typical_request():
    assert (PLAN.weight_bytes_per_gpu, PLAN.kv_bytes_per_token_per_gpu, PLAN.kv_capacity_tokens) == (
        WEIGHTS_PER_GPU, KV_PER_TOKEN_PER_GPU, 433_264)
    estimate = estimate_throughput(PLAN, 1024, 256)
    step_bytes = WEIGHTS_PER_GPU + 256 * 1152 * KV_PER_TOKEN_PER_GPU  # batch 256 (433 264 // 1 280 = 338, capped)
    assert dataclasses.astuple(estimate)[:-1] == pytest.approx((
        256, 1152.0, step_bytes, 600e9, step_bytes / 600e9, 256 * 600e9 / step_bytes,
        600e9 / (WEIGHTS_PER_GPU + 1152 * KV_PER_TOKEN_PER_GPU), 600e9 / step_bytes))
    assert estimate.published is None and estimate.memory_bandwidth_bytes_per_second == 600e9
    assert round(estimate.decode_tokens_per_second) == 10263 and round(estimate.single_stream_tokens_per_second, 1) == 145.0


def test_the_batch_is_what_the_kv_cache_holds_up_to_vllms_default_max_num_seqs():
    assert VLLM_DEFAULT_MAX_NUM_SEQS == {"A10G": 256, "L4": 256, "L40S": 256, "A100-40GB": 256, "H100": 1024}
    assert typical_batch_size(PLAN, 2048, 1280) == 433_264 // 3328 == 130
    assert typical_batch_size(PLAN, 100, 60) == 256
    h100 = dataclasses.replace(PLAN, gpu_model="H100")
    assert typical_batch_size(h100, 100, 60) == 1024
    with pytest.raises(ValueError, match=r"^m: a typical request of 500000 tokens does not fit its KV cache of 433264 "
                                         r"tokens \(lower plan\.typicalPromptTokens/typicalOutputTokens\)$"):
        estimate_throughput(PLAN, 499_000, 1000)


def test_replicas_for_a_load_round_up_clamp_to_the_bounds_and_say_when_max_is_short():
    at_max = replicas_for_load(40, 10, 1, 4, 20)
    assert dataclasses.astuple(at_max) == (40, 4, 4, False, 2.0)
    over = replicas_for_load(40.5, 10, 1, 4, 20)
    assert dataclasses.astuple(over) == (40.5, 5, 4, True, 2.0)
    idle = replicas_for_load(0, 10, 2, 4, 5)
    assert dataclasses.astuple(idle) == (0, 0, 2, False, 0.5)
    assert replicas_for_load(0.01, 10, 0, 4, 5).replicas == 1


def test_the_serving_plan_carries_the_figures_the_pod_needs():
    assert serving_plan(PLAN) == {"instance_type": "g5.12xlarge", "tensor_parallel_size": 4, "weight_bytes": 16_380_000_000,
                                  "pod_cpu": 39, "pod_memory_gib": 159}
