"""Facts that change: GPU instances, models, releases, metric names, prices.

Everything here is data with its source. Code elsewhere computes from it; no other module holds a fact
that a vendor can change. Update a value together with its source comment and date.
"""

from dataclasses import dataclass

# --- GPU instances ------------------------------------------------------------------------------------------
# Specs: https://aws.amazon.com/ec2/instance-types/g5/ , /g6/ , /g6e/ , /p4/ , /p5/ (checked 2026-11).
# On-demand Linux prices, us-east-1: https://aws.amazon.com/ec2/pricing/on-demand/ (snapshot 2026-11; P4d/P5
# after the June 2025 price reduction, https://aws.amazon.com/about-aws/whats-new/2025/06/pricing-usage-model-ec2-instances-nvidia-gpus/).
# Memory bandwidth per GPU from NVIDIA data sheets: A10G 600 GB/s, L4 300 GB/s, L40S 864 GB/s,
# A100 40GB 1555 GB/s, H100 SXM 3350 GB/s.


@dataclass(frozen=True)
class GpuInstance:
    gpu_model: str
    gpu_count: int
    gpu_memory_gib: int  # per GPU
    gpu_memory_bandwidth_gbps: int  # per GPU, GB/s
    vcpu: int
    memory_gib: int
    on_demand_usd_per_hour: float  # us-east-1


GPU_INSTANCES: dict[str, GpuInstance] = {
    "g5.xlarge": GpuInstance("A10G", 1, 24, 600, 4, 16, 1.006),
    "g5.2xlarge": GpuInstance("A10G", 1, 24, 600, 8, 32, 1.212),
    "g5.4xlarge": GpuInstance("A10G", 1, 24, 600, 16, 64, 1.624),
    "g5.12xlarge": GpuInstance("A10G", 4, 24, 600, 48, 192, 5.672),
    "g5.48xlarge": GpuInstance("A10G", 8, 24, 600, 192, 768, 16.288),
    "g6.xlarge": GpuInstance("L4", 1, 24, 300, 4, 16, 0.8048),
    "g6.2xlarge": GpuInstance("L4", 1, 24, 300, 8, 32, 0.9776),
    "g6.4xlarge": GpuInstance("L4", 1, 24, 300, 16, 64, 1.3232),
    "g6.12xlarge": GpuInstance("L4", 4, 24, 300, 48, 192, 4.6016),
    "g6.48xlarge": GpuInstance("L4", 8, 24, 300, 192, 768, 13.3504),
    "g6e.xlarge": GpuInstance("L40S", 1, 48, 864, 4, 32, 1.861),
    "g6e.2xlarge": GpuInstance("L40S", 1, 48, 864, 8, 64, 2.24208),
    "g6e.12xlarge": GpuInstance("L40S", 4, 48, 864, 48, 384, 10.49264),
    "g6e.48xlarge": GpuInstance("L40S", 8, 48, 864, 192, 1536, 30.13118),
    "p4d.24xlarge": GpuInstance("A100-40GB", 8, 40, 1555, 96, 1152, 21.96),
    "p5.48xlarge": GpuInstance("H100", 8, 80, 3350, 192, 2048, 55.04),
}

# --- Models -----------------------------------------------------------------------------------------------------
# Architecture numbers from each model's config.json on Hugging Face (checked 2026-11):
# https://huggingface.co/Qwen/Qwen3-1.7B , Qwen/Qwen3-8B , Qwen/Qwen3-32B , meta-llama/Llama-3.1-8B-Instruct ,
# meta-llama/Llama-3.1-70B-Instruct , mistralai/Mistral-7B-Instruct-v0.3 . Parameter counts from the model cards.
# Qwen3 native context is 32 768 tokens (longer only with YaRN rope scaling, which we do not enable).


@dataclass(frozen=True)
class ModelSpec:
    hugging_face_id: str
    parameters_billion: float
    layers: int
    attention_heads: int
    kv_heads: int
    head_dim: int
    max_context: int
    default_dtype: str
    # Per-family vLLM flags (reasoning/tool parsers), kept here so the engine-argument builder stays generic.
    family_flags: tuple[str, ...] = ()


_QWEN3_FLAGS = ("--reasoning-parser", "qwen3", "--enable-auto-tool-choice", "--tool-call-parser", "hermes")
_LLAMA31_FLAGS = ("--enable-auto-tool-choice", "--tool-call-parser", "llama3_json")
_MISTRAL_FLAGS = ("--enable-auto-tool-choice", "--tool-call-parser", "mistral")

MODELS: dict[str, ModelSpec] = {
    "qwen3-1.7b": ModelSpec("Qwen/Qwen3-1.7B", 2.03, 28, 16, 8, 128, 32768, "bfloat16", _QWEN3_FLAGS),
    "qwen3-8b": ModelSpec("Qwen/Qwen3-8B", 8.19, 36, 32, 8, 128, 32768, "bfloat16", _QWEN3_FLAGS),
    "qwen3-32b": ModelSpec("Qwen/Qwen3-32B", 32.8, 64, 64, 8, 128, 32768, "bfloat16", _QWEN3_FLAGS),
    "llama-3.1-8b": ModelSpec(
        "meta-llama/Llama-3.1-8B-Instruct", 8.03, 32, 32, 8, 128, 131072, "bfloat16", _LLAMA31_FLAGS
    ),
    "llama-3.1-70b": ModelSpec(
        "meta-llama/Llama-3.1-70B-Instruct", 70.6, 80, 64, 8, 128, 131072, "bfloat16", _LLAMA31_FLAGS
    ),
    "mistral-7b": ModelSpec(
        "mistralai/Mistral-7B-Instruct-v0.3", 7.25, 32, 32, 8, 128, 32768, "bfloat16", _MISTRAL_FLAGS
    ),
}

DTYPE_BYTES: dict[str, float] = {"bfloat16": 2, "float16": 2, "float32": 4}
# Bytes per weight after quantization (4-bit AWQ/GPTQ ≈ 0.5 byte plus scales; FP8 = 1 byte).
QUANTIZATION_WEIGHT_BYTES: dict[str, float] = {"awq": 0.5625, "gptq": 0.5625, "fp8": 1.0}

# --- Kubernetes / EKS ----------------------------------------------------------------------------------------------
# EKS standard support calendar: https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html
# 1.35 is in standard support until 2027-03; rendered objects are validated against it and the next minor.
EKS_DEFAULT_VERSION = "1.35"
EKS_SUPPORTED_VERSIONS = ("1.33", "1.34", "1.35", "1.36")
KUBERNETES_VALIDATION_VERSIONS = ("1.35.0", "1.36.0")

# --- Interface endpoints the stack knows how to create (service suffixes of com.amazonaws.<region>.<svc>) ----------
INTERFACE_ENDPOINT_SERVICES = ("ecr.api", "ecr.dkr", "sts", "logs", "secretsmanager", "monitoring")
