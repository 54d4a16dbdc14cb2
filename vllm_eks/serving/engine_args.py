"""vLLM engine arguments: the served model and its serving plan in, the server's argument list out.

Pure and plain: no Pulumi. The list becomes the container's `args` after the entrypoint
(`python3 -m vllm.entrypoints.openai.api_server "$@"`). The API key never appears here: the entrypoint
exports `VLLM_API_KEY` from a mounted file.
"""

from __future__ import annotations

import json
from typing import Any

from vllm_eks.planning.catalog import MODELS, RUNAI_STREAMER_CONCURRENCY_BY_WEIGHTS_GIB, RUNAI_STREAMER_MAX_BUFFER_GIB
from vllm_eks.planning.serving_plan import ServingPlan
from vllm_eks.planning.sizing import GIB
from vllm_eks.network.ports import VLLM_PORT
from vllm_eks.serving.served_model import ServedModel

ADAPTERS_DIR = "/adapters"
# Probes and scrapes hit these every few seconds; leaving them out keeps the access log about real traffic.
QUIET_ENDPOINTS = ("/health", "/metrics")


def streamer_extra_config(plan: ServingPlan) -> dict[str, Any]:
    """`--model-loader-extra-config` for the Run:ai streamer, tuned to the checkpoint and the pod.

    concurrency: parallel S3 readers, more for bigger checkpoints. memory_limit: the CPU staging buffer of each
    TP rank, so that all ranks together stay within a quarter of the pod's memory. distributed: under tensor
    parallelism the ranks share the reading instead of each reading every file.
    """
    weight_gib = plan["weight_bytes"] / GIB
    concurrency = next(threads for limit, threads in RUNAI_STREAMER_CONCURRENCY_BY_WEIGHTS_GIB if weight_gib <= limit)
    buffer_bytes = min(RUNAI_STREAMER_MAX_BUFFER_GIB * GIB, plan["pod_memory_gib"] * GIB // (4 * plan["tensor_parallel_size"]))
    config: dict[str, Any] = {"concurrency": concurrency, "memory_limit": buffer_bytes}
    if plan["tensor_parallel_size"] > 1:
        config["distributed"] = True
    return config


def engine_arguments(
    model: ServedModel,
    plan: ServingPlan,
    *,
    model_location: str,
    shutdown_timeout_seconds: int,
) -> list[str]:
    """The vLLM server arguments for one model.

    model_location: `s3://bucket/prefix` when streaming, a local directory for the s3-sync fallback.
    shutdown_timeout_seconds: how long vLLM drains in-flight requests after SIGTERM (`--shutdown-timeout`).
    """
    spec = MODELS[model["catalog_model"]]
    args = [
        "--model", model_location,
        "--served-model-name", model["served_name"],
        "--tensor-parallel-size", str(plan["tensor_parallel_size"]),
        "--gpu-memory-utilization", str(model["gpu_memory_utilization"]),
        "--max-model-len", str(model["max_model_len"]),
        "--dtype", model["dtype"],
        "--enable-chunked-prefill",
        "--enable-prefix-caching",
    ]  # fmt: skip
    if model["load_format"] == "runai_streamer":
        args += ["--load-format", "runai_streamer", "--model-loader-extra-config", _json(streamer_extra_config(plan))]
    # AWQ/GPTQ exist only as pre-quantized checkpoints, which vLLM detects from their config and serves with the
    # fast Marlin kernels; forcing `--quantization awq` would select the slow kernel. FP8 is different: the flag
    # quantizes a bf16 checkpoint on load (and agrees with an FP8 checkpoint's own config).
    if model.get("quantization") == "fp8":
        args += ["--quantization", "fp8"]
    if model["lora_adapters"]:
        args += [
            "--enable-lora",
            "--max-loras", str(len(model["lora_adapters"])),
            "--max-lora-rank", str(max(adapter["rank"] for adapter in model["lora_adapters"])),
            "--lora-modules", *(f"{adapter['name']}={ADAPTERS_DIR}/{adapter['name']}" for adapter in model["lora_adapters"]),
        ]  # fmt: skip
    if speculative := model.get("speculative_config"):
        args += ["--speculative-config", _json(speculative)]
    args += list(spec.family_flags)
    thinking = model.get("thinking")
    if thinking is not None and spec.thinking_switch:
        # A request's own chat_template_kwargs still win (vLLM merges them over these defaults).
        args += ["--default-chat-template-kwargs", _json({spec.thinking_switch: thinking})]
    args += [
        "--host", "0.0.0.0",
        "--port", str(VLLM_PORT),
        "--logging-config", _json({"formatter": "json"}),
        "--disable-access-log-for-endpoints", ",".join(QUIET_ENDPOINTS),
        "--shutdown-timeout", str(shutdown_timeout_seconds),
    ]  # fmt: skip
    return args


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
