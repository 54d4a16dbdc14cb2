"""The capacity planner's side branches: a KV-head count TP cannot split, quantized weights in the summary, the
error's shape and the plans it keeps, and a fixed instance that does not fit when no instance would."""

from __future__ import annotations

import dataclasses

import pytest

from test_sizing import _model
from vllm_eks.planning.catalog import GPU_INSTANCES, MODELS
from vllm_eks.planning.sizing import SizingError, plan_models, tensor_parallel_problem, weight_bytes


def test_a_tp_size_that_neither_divides_nor_multiplies_the_kv_heads_is_refused():
    """vLLM's tensor parallelism splits KV heads across ranks or replicates them (vllm/model_executor/layers/linear.py
    QKVParallelLinear: `num_kv_heads % tp_size == 0` or `tp_size % num_kv_heads == 0`)."""
    spec = dataclasses.replace(MODELS["qwen3-8b"], attention_heads=24, kv_heads=6)
    assert tensor_parallel_problem(spec, 4) == "tensor parallel size 4 neither divides nor is a multiple of its 6 KV heads"
    assert tensor_parallel_problem(spec, 3) is None  # divides 6
    assert tensor_parallel_problem(spec, 12) is None  # a multiple of 6: heads replicated
    assert tensor_parallel_problem(spec, 6) is None


def test_quantized_weights_are_priced_per_weight_and_named_in_the_summary():
    """AWQ/GPTQ 4-bit with group scales counted as 0.5625 byte per weight, FP8 as 1 (catalog QUANTIZATION_WEIGHT_BYTES)."""
    spec = MODELS["qwen3-8b"]
    assert weight_bytes(spec, "auto", "awq") == 4_606_875_000  # 8.19e9 x 0.5625
    assert weight_bytes(spec, "auto", "fp8") == 8_190_000_000
    assert weight_bytes(spec, "float16") == 16_380_000_000
    plan = plan_models([_model(instanceType="g5.12xlarge", quantization="fp8")])["m"]
    assert plan.summary().splitlines()[0] == "m (qwen3-8b) on g5.12xlarge: 4x A10G, tensor parallel 4, bfloat16, fp8"
    assert plan.summary().splitlines()[1] == "  weights                7.63 GiB  (1.91 GiB per GPU)"


def test_the_sizing_error_lists_each_problem_indented_and_keeps_the_plans_that_fit():
    with pytest.raises(SizingError) as raised:
        plan_models([_model(name="ok", instanceType="g5.12xlarge"), _model(name="long", maxModelLen=65536)], indices=[3, 5])
    assert str(raised.value) == (
        "invalid model sizing:\n  models[5].maxModelLen: got 65536 for long (qwen3-8b), expected at most the model's "
        "native context of 32768 tokens")
    assert list(raised.value.plans) == ["ok"] and raised.value.plans["ok"].instance_type == "g5.12xlarge"


def test_a_fixed_instance_that_does_not_fit_when_none_would_says_what_to_change(monkeypatch):
    for instance_type in [name for name in GPU_INSTANCES if name != "g5.xlarge"]:
        monkeypatch.delitem(GPU_INSTANCES, instance_type)
    with pytest.raises(SizingError) as raised:
        plan_models([_model(catalogModel="llama-3.1-70b", maxModelLen=8192, instanceType="g5.xlarge")])
    [problem] = raised.value.problems
    assert problem.endswith(
        "; expected an instance that fits: no catalog instance fits llama-3.1-70b at maxModelLen 8192 (lower "
        "maxModelLen, quantize, or add a larger instance to the catalog)")
    assert problem.startswith("models[0].instanceType: got 'g5.xlarge' for m (llama-3.1-70b, 131.5 GiB of bfloat16 "
                              "weights, 1x A10G): its weights (131.5 GiB per GPU)")
    with pytest.raises(SizingError) as auto:
        plan_models([_model(catalogModel="llama-3.1-70b", maxModelLen=8192, instanceType="auto")])
    assert auto.value.problems == [
        "models[0].instanceType: got 'auto' for m, but no catalog instance fits llama-3.1-70b at maxModelLen 8192 "
        "(lower maxModelLen, quantize, or add a larger instance to the catalog)"]
