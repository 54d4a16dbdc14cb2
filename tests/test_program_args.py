"""The program's config mapped onto the library's Args (`program_args.py`) stated whole, and `check_stack`'s
remaining paths: the start-up budget left to the caller, a `models` that is not a list."""

from __future__ import annotations

import copy

import pytest

from program_args import edge_settings, served_model
from preflight.render import read_stack_config
from stack_checks import check_stack
from stack_config import ModelConfig, StackConfigError, load_stack_config, project_sections


def test_a_model_maps_every_setting_the_serving_components_read():
    model = ModelConfig.model_validate({
        "name": "chat", "servedName": "org/chat", "catalogModel": "qwen3-8b", "s3Prefix": "models/chat", "dtype": "float16",
        "maxModelLen": 8192, "quantization": "fp8", "gpuMemoryUtilization": 0.9, "loadFormat": "s3-sync",
        "loraAdapters": [{"name": "sql", "s3Prefix": "loras/sql", "rank": 32}], "thinking": False,
        "speculative": {"method": "ngram", "numSpeculativeTokens": 4, "promptLookupMax": 5},
        "capacityType": "spot", "minReplicas": 0, "maxReplicas": 3, "onDemandReplicas": 0, "startupBudgetSeconds": 600,
        "image": "vllm/vllm-openai:v0.32.0"})
    assert served_model(model) == {
        "name": "chat", "served_name": "org/chat", "catalog_model": "qwen3-8b", "model_prefix": "models/chat",
        "dtype": "float16", "quantization": "fp8", "gpu_memory_utilization": 0.9, "max_model_len": 8192,
        "load_format": "s3-sync", "lora_adapters": [{"name": "sql", "s3_prefix": "loras/sql", "rank": 32}],
        "speculative_config": {"method": "ngram", "num_speculative_tokens": 4, "prompt_lookup_max": 5},
        "thinking": False, "capacity_type": "spot", "min_replicas": 0, "startup_budget_seconds": 600,
        "image": "vllm/vllm-openai:v0.32.0"}
    plain = ModelConfig.model_validate({"name": "m", "servedName": "m", "catalogModel": "qwen3-8b",
                                        "huggingFaceId": "Qwen/Qwen3-8B", "maxModelLen": 4096})
    mapped = served_model(plain)
    assert (mapped["model_prefix"], mapped["speculative_config"], mapped["lora_adapters"], mapped["image"]) == (
        "models/m", None, [], None)


def test_the_edge_maps_every_setting_and_each_consumer():
    config = load_stack_config(project_sections(read_stack_config("prod")))
    edge = config.edge
    assert edge_settings(edge) == {
        "cloudfront": edge.cloudfront, "domain_name": edge.domain_name, "certificate_arn": edge.certificate_arn,
        "hosted_zone_id": edge.hosted_zone_id, "max_request_seconds": edge.max_request_seconds,
        "max_body_kib": edge.max_body_kib, "rate_limit_per_key_5min": edge.rate_limit_per_key_5min,
        "rate_limit_per_ip_5min": edge.rate_limit_per_ip_5min,
        "consumers": [{"name": c.name, "requests_per_second": c.requests_per_second, "burst": c.burst,
                       "monthly_quota": c.monthly_quota, "key_version": c.key_version} for c in edge.consumers],
        "manage_api_gateway_account": edge.manage_api_gateway_account}
    # the values differ from one another in prod, so a swapped pair would show
    assert (edge.max_request_seconds, edge.max_body_kib, edge.rate_limit_per_key_5min, edge.rate_limit_per_ip_5min) == (
        600, 64, 2000, 5000)


def test_the_budget_can_be_left_to_the_caller_and_a_models_value_that_is_no_list_is_one_problem():
    config = copy.deepcopy(read_stack_config("prod"))
    config["vllm-eks:models"][0] = dict(config["vllm-eks:models"][0], catalogModel="llama-3.1-70b",
                                        instanceType="g6e.12xlarge", maxModelLen=8192, loadFormat="s3-sync")
    checked = check_stack(project_sections(config), startup_budgets=False)  # `preflight plan` shows it as a verdict
    assert {name: plan.instance_type for name, plan in checked.capacity_plans.items()} == {"qwen3-8b": "g6e.12xlarge"}
    config["vllm-eks:models"] = "qwen3-8b"
    with pytest.raises(StackConfigError) as raised:
        check_stack(project_sections(config))
    assert raised.value.problems == ["models: got 'qwen3-8b', expected a list"]


def test_an_auto_model_that_fits_nowhere_is_not_budget_checked_on_a_made_up_instance(monkeypatch):
    from vllm_eks.planning.catalog import GPU_INSTANCES

    for instance_type in [name for name in GPU_INSTANCES if name not in ("g5.xlarge", "g6.xlarge")]:
        monkeypatch.delitem(GPU_INSTANCES, instance_type)
    config = copy.deepcopy(read_stack_config("prod"))
    config["vllm-eks:models"][0] = dict(config["vllm-eks:models"][0], catalogModel="llama-3.1-70b", instanceType="auto",
                                        maxModelLen=131072, loadFormat="s3-sync", gpuMemoryUtilization=0.8)
    with pytest.raises(StackConfigError) as raised:
        check_stack(project_sections(config))
    assert [problem.split(":")[0] for problem in raised.value.problems] == ["models[0].instanceType"]
