"""What a consumer of VllmService says about one model: what to load and how vLLM serves it."""

from typing import Any, NotRequired, TypedDict


class LoraAdapter(TypedDict):
    """A LoRA adapter served beside its base model."""

    name: str
    """The adapter's name as clients request it (a DNS label)."""
    s3_prefix: str
    """Where the adapter's files are in the weights bucket."""
    rank: int
    """The adapter's LoRA rank (vLLM's --max-lora-rank is the largest of them)."""


class ServedModel(TypedDict):
    """One model as vLLM serves it."""

    name: str
    """The model's short name (a DNS label): namespace, Deployment and labels derive from it."""
    served_name: str
    """The name clients send in `model` (vLLM's --served-model-name)."""
    catalog_model: str
    """The checkpoint's entry in vllm_eks.planning.catalog.MODELS (family flags, thinking switch)."""
    model_prefix: str
    """Where the weights are in the weights bucket."""
    dtype: str
    """vLLM's --dtype: auto, bfloat16 or float16."""
    quantization: NotRequired[str | None]
    """awq, gptq or fp8; absent for an unquantized checkpoint."""
    gpu_memory_utilization: float
    """vLLM's --gpu-memory-utilization (0.80-0.95)."""
    max_model_len: int
    """Longest context in tokens (vLLM's --max-model-len)."""
    load_format: str
    """runai_streamer (weights streamed from S3) or s3-sync (copied by an init container)."""
    lora_adapters: list[LoraAdapter]
    """LoRA adapters served beside the base model."""
    speculative_config: NotRequired[dict[str, Any] | None]
    """vLLM's --speculative-config (method, num_speculative_tokens, ...); absent for none."""
    thinking: NotRequired[bool | None]
    """Default thinking mode of a reasoning model; absent keeps the model's own default."""
    capacity_type: str
    """on-demand, spot or on-demand-with-spot-burst: the Karpenter pools the pods may use."""
    min_replicas: int
    """The Deployment's initial replicas (the autoscaler owns the count afterwards)."""
    startup_budget_seconds: int
    """How long a new pod may take to become ready (the startup probe's budget)."""
    image: NotRequired[str | None]
    """The vLLM image; absent means the catalog's VLLM_IMAGE."""
