"""vLLM engine arguments from the typed model config, mapped onto the library's ServedModel as the program does
(program_args.served_model; pure; the contract tests parse them with vLLM itself)."""

from __future__ import annotations

import json

from vllm_eks.serving.engine_args import engine_arguments, streamer_extra_config
from vllm_eks.planning.serving_plan import serving_plan
from vllm_eks.planning.sizing import plan_models
from program_args import served_model
from stack_config import ModelConfig

S3_URI = "s3://weights-bucket/models/qwen3-8b"


def _model(**overrides) -> ModelConfig:
    fields = {
        "name": "qwen3-8b", "servedName": "qwen3-8b", "catalogModel": "qwen3-8b", "s3Prefix": "models/qwen3-8b",
        "maxModelLen": 32768, "instanceType": "g5.12xlarge",
    }  # fmt: skip
    return ModelConfig.model_validate({**fields, **overrides})


def _args(model: ModelConfig, location: str = S3_URI, shutdown: int = 600) -> list[str]:
    plan = serving_plan(plan_models([model])[model.name])
    return engine_arguments(served_model(model), plan, model_location=location, shutdown_timeout_seconds=shutdown)


def _value(args: list[str], flag: str) -> str:
    assert args.count(flag) == 1, f"{flag} appears {args.count(flag)} times in {args}"
    return args[args.index(flag) + 1]


def test_prod_model_streams_from_s3_with_tensor_parallel_4():
    args = _args(_model())
    assert _value(args, "--model") == S3_URI
    assert _value(args, "--served-model-name") == "qwen3-8b"
    assert _value(args, "--tensor-parallel-size") == "4"
    assert float(_value(args, "--gpu-memory-utilization")) == 0.92
    assert _value(args, "--max-model-len") == "32768"
    assert _value(args, "--dtype") == "auto"
    assert "--enable-chunked-prefill" in args and "--enable-prefix-caching" in args
    assert _value(args, "--load-format") == "runai_streamer"
    assert json.loads(_value(args, "--model-loader-extra-config")) == {
        "concurrency": 32,  # 15.3 GiB of weights: the 8–40 GiB tier
        "memory_limit": 8 * 2**30,  # min(8 GiB, 159 GiB pod / 4 / 4 ranks)
        "distributed": True,
    }
    assert (_value(args, "--host"), _value(args, "--port")) == ("0.0.0.0", "8000")
    assert _value(args, "--shutdown-timeout") == "600"
    assert json.loads(_value(args, "--logging-config")) == {"formatter": "json"}
    assert _value(args, "--disable-access-log-for-endpoints") == "/health,/metrics"


def test_family_flags_come_from_the_catalog():
    args = _args(_model())
    assert _value(args, "--reasoning-parser") == "qwen3"
    assert _value(args, "--tool-call-parser") == "hermes" and "--enable-auto-tool-choice" in args
    llama = _args(_model(name="llama", servedName="llama", catalogModel="llama-3.1-8b", instanceType="g6e.xlarge"))
    assert _value(llama, "--tool-call-parser") == "llama3_json" and "--reasoning-parser" not in llama


def test_small_model_streams_with_fewer_readers_and_no_distribution():
    model = _model(name="small", catalogModel="qwen3-1.7b", maxModelLen=16384, instanceType="g6.2xlarge")
    plan = serving_plan(plan_models([model])["small"])
    # An int, not 1544003584.0: vLLM refuses to start on a float ("memory_limit must be an integer >= -1",
    # vllm/model_executor/model_loader/runai_streamer_loader.py), then sets RUNAI_STREAMER_MEMORY_LIMIT from it.
    assert json.dumps(streamer_extra_config(plan)) == f'{{"concurrency": 16, "memory_limit": {23 * 2**30 // 4}}}'


def test_every_rank_shares_the_reading_from_two_ranks_up():
    """vLLM's Run:ai loader: `distributed` lets the tensor-parallel ranks split the files instead of each reading
    all of them; with one rank there is nothing to share."""
    model = _model(name="small", catalogModel="qwen3-1.7b", maxModelLen=16384, instanceType="g6.2xlarge")
    plan = serving_plan(plan_models([model])["small"])
    assert "distributed" not in streamer_extra_config(plan)
    assert streamer_extra_config({**plan, "tensor_parallel_size": 2})["distributed"] is True


def test_no_api_key_in_argv():
    args = _args(_model(loraAdapters=[{"name": "sql", "s3Prefix": "adapters/sql"}]))
    assert not any(arg.startswith("--api-key") for arg in args)


def test_s3_sync_fallback_points_at_the_local_copy():
    args = _args(_model(loadFormat="s3-sync"), location="/models/qwen3-8b")
    assert _value(args, "--model") == "/models/qwen3-8b"
    assert "--load-format" not in args and "--model-loader-extra-config" not in args


def test_pre_quantized_awq_is_detected_by_vllm_not_forced():
    assert "--quantization" not in _args(_model(quantization="awq"))
    assert "--quantization" not in _args(_model(quantization="gptq"))
    assert _value(_args(_model(quantization="fp8")), "--quantization") == "fp8"


def test_lora_adapters_and_speculative_decoding():
    args = _args(
        _model(
            loraAdapters=[{"name": "sql", "s3Prefix": "adapters/sql", "rank": 64}, {"name": "chat", "s3Prefix": "adapters/chat"}],
            speculative={"method": "ngram", "numSpeculativeTokens": 4, "promptLookupMax": 4},
        )
    )
    assert "--enable-lora" in args
    assert _value(args, "--max-loras") == "2"
    assert _value(args, "--max-lora-rank") == "64"
    start = args.index("--lora-modules") + 1
    assert args[start : start + 2] == ["sql=/adapters/sql", "chat=/adapters/chat"]
    assert json.loads(_value(args, "--speculative-config")) == {"method": "ngram", "num_speculative_tokens": 4, "prompt_lookup_max": 4}


def test_thinking_switch_renders_the_default_chat_template_kwargs():
    """vLLM 0.32 `--default-chat-template-kwargs` (JSON; request-level chat_template_kwargs take precedence,
    vllm/entrypoints/launchers/cli_args.py); Qwen3's switch is `enable_thinking` (Qwen/Qwen3-8B model card)."""
    assert json.loads(_value(_args(_model(thinking=False)), "--default-chat-template-kwargs")) == {"enable_thinking": False}
    assert json.loads(_value(_args(_model(thinking=True)), "--default-chat-template-kwargs")) == {"enable_thinking": True}
    assert "--default-chat-template-kwargs" not in _args(_model())


def test_thinking_on_is_refused_for_a_model_without_a_thinking_mode():
    import pytest

    from stack_config import StackConfigError, load_stack_config

    llama = {"name": "llama", "servedName": "llama", "catalogModel": "llama-3.1-8b", "s3Prefix": "models/llama",
             "maxModelLen": 8192, "thinking": True}
    edge = {"consumers": [{"name": "a", "requestsPerSecond": 1, "burst": 1}], "maxRequestSeconds": 175}
    quiet_alerts = {"alerting": {"allowNoReceiver": True}}
    with pytest.raises(StackConfigError, match=r"models\[0\]\.thinking: got True, expected false or unset: llama-3.1-8b has no thinking mode \(models with one: qwen3-1.7b, qwen3-32b, qwen3-8b\)"):
        load_stack_config({"models": [llama], "edge": edge, "observability": quiet_alerts})
    # A model that never thinks satisfies `false`, and nothing is rendered for it.
    quiet = load_stack_config({"models": [llama | {"thinking": False}], "edge": edge, "observability": quiet_alerts}).models[0]
    assert "--default-chat-template-kwargs" not in _args(quiet)


def test_whole_argument_lists_in_order():
    """The whole argv, so a changed, dropped or reordered flag shows. vLLM 0.32 `vllm serve --help` names every flag
    below; JSON values are compact with sorted keys (what the contract tests parse; a stable text means a re-render
    never rolls the Deployment for nothing)."""
    tail = ["--host", "0.0.0.0", "--port", "8000", "--logging-config", '{"formatter":"json"}',
            "--disable-access-log-for-endpoints", "/health,/metrics"]
    head = ["--served-model-name", "qwen3-8b", "--tensor-parallel-size", "4", "--gpu-memory-utilization", "0.92",
            "--max-model-len", "32768", "--dtype", "auto", "--enable-chunked-prefill", "--enable-prefix-caching"]
    qwen3 = ["--reasoning-parser", "qwen3", "--enable-auto-tool-choice", "--tool-call-parser", "hermes"]
    assert _args(_model()) == [
        "--model", S3_URI, *head,
        "--load-format", "runai_streamer",
        "--model-loader-extra-config", '{"concurrency":32,"distributed":true,"memory_limit":8589934592}',
        *qwen3, *tail, "--shutdown-timeout", "600"]
    everything = _model(loadFormat="s3-sync", quantization="fp8", thinking=False,
                        loraAdapters=[{"name": "sql", "s3Prefix": "adapters/sql", "rank": 64}],
                        speculative={"method": "ngram", "numSpeculativeTokens": 4, "promptLookupMax": 4})
    assert _args(everything, location="/models/qwen3-8b", shutdown=120) == [
        "--model", "/models/qwen3-8b", *head,
        "--quantization", "fp8",
        "--enable-lora", "--max-loras", "1", "--max-lora-rank", "64", "--lora-modules", "sql=/adapters/sql",
        "--speculative-config", '{"method":"ngram","num_speculative_tokens":4,"prompt_lookup_max":4}',
        *qwen3, "--default-chat-template-kwargs", '{"enable_thinking":false}', *tail, "--shutdown-timeout", "120"]


def test_streamer_readers_step_at_8_and_40_gib_and_the_buffer_is_a_quarter_of_the_pod_at_most_8_gib():
    """The catalog's tiers (RUNAI_STREAMER_CONCURRENCY_BY_WEIGHTS_GIB: up to 8 GiB 16 readers, up to 40 GiB 32, beyond
    64; each bound inclusive) and memory_limit = min(8 GiB, pod memory / 4 / TP ranks), an integer number of bytes
    (vllm/model_executor/model_loader/runai_streamer_loader.py)."""
    gib = 2**30

    def config(weight_gib: float, memory_gib: int = 64, ranks: int = 1) -> dict:
        return streamer_extra_config({"weight_bytes": int(weight_gib * gib), "pod_memory_gib": memory_gib,
                                      "tensor_parallel_size": ranks})

    assert [config(weight)["concurrency"] for weight in (8, 8.01, 40, 40.01)] == [16, 32, 32, 64]
    assert config(8, memory_gib=64)["memory_limit"] == 8 * gib  # 64 / 4 = 16 GiB, capped at 8
    assert config(8, memory_gib=20)["memory_limit"] == 5 * gib
    assert config(8, memory_gib=96, ranks=4) == {"concurrency": 16, "memory_limit": 6 * gib, "distributed": True}
