"""Start-up time of a vLLM replica, stage by stage, against its startup-probe budget.

Pure functions over the catalog. The stages are the ones vLLM's own log shows (tests/contract measures them and fails
when this module names a stage the log lacks):
- image pull: before the container starts, so outside the probe's budget (shown, not checked);
- weight copy (s3-sync only): the init container's `aws s3 sync`, also before the vLLM container starts;
- weight stream: weights ÷ the published Run:ai streamer S3 rate capped by the node's network (runai_streamer), or
  ÷ the published safetensors-loader rate from a gp3 volume (s3-sync's local copy);
- engine init (imports, engine and KV cache set-up) and compile/graph capture (torch.compile, CUDA graphs), cold.
A model whose in-budget stages exceed `startupBudgetSeconds` would be killed by its startup probe while still loading,
over and over; `check_startup_budgets` makes that a config-load error instead.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from vllm_eks.planning.catalog import (
    GPU_INSTANCE_NETWORK_GBPS,
    IMAGE_PULL_BYTES_PER_SECOND,
    IMAGE_PULL_SOURCE,
    LOCAL_GP3_SAFETENSORS_BYTES_PER_SECOND,
    LOCAL_GP3_SAFETENSORS_SOURCE,
    RUNAI_STREAMER_S3_BYTES_PER_SECOND,
    RUNAI_STREAMER_S3_SOURCE,
    VLLM_COMPILE_AND_GRAPH_CAPTURE_SECONDS,
    VLLM_ENGINE_INIT_SECONDS,
    VLLM_IMAGE_PULL_BYTES,
)
from vllm_eks.planning.sizing import CapacityPlan

GB = 1e9
IMAGE_PULL, WEIGHT_COPY, WEIGHT_STREAM = "image pull", "weight copy", "weight stream"
ENGINE_INIT, COMPILE = "engine init", "compile/graph capture"
ENGINE_SOURCE = "cold start of Llama-3.1-8B on L40S (tensorfuse.io, reducing GPU cold start)"


@dataclass(frozen=True)
class StartupStage:
    name: str
    seconds: float
    basis: str  # how the figure is computed, with its source
    in_probe_budget: bool  # False for what happens before the vLLM container starts


@dataclass(frozen=True)
class StartupEstimate:
    weight_bytes: int
    stages: tuple[StartupStage, ...]
    budget_seconds: int

    @property
    def estimate_seconds(self) -> float:
        """What the startup probe must wait for: the stages inside the vLLM container."""
        return sum(stage.seconds for stage in self.stages if stage.in_probe_budget)

    @property
    def pod_start_seconds(self) -> float:
        """From the pod landing on a fresh node to Ready: every stage, image pull included."""
        return sum(stage.seconds for stage in self.stages)

    @property
    def within_budget(self) -> bool:
        return self.estimate_seconds <= self.budget_seconds

    def stage(self, name: str) -> StartupStage:
        return next(stage for stage in self.stages if stage.name == name)


class StartupBudgetError(ValueError):
    """Models whose estimated start-up exceeds their startup-probe budget, one line each (raised at config load)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("start-up budget too short:\n" + "\n".join(f"  {line}" for line in problems))


def network_bytes_per_second(instance_type: str) -> float:
    return GPU_INSTANCE_NETWORK_GBPS[instance_type] * 1e9 / 8


def estimate_startup(weight_bytes: int, budget_seconds: int, instance_type: str, load_format: str) -> StartupEstimate:
    network = network_bytes_per_second(instance_type)
    stages = [StartupStage(IMAGE_PULL, VLLM_IMAGE_PULL_BYTES / IMAGE_PULL_BYTES_PER_SECOND,
                           f"{VLLM_IMAGE_PULL_BYTES / GB:.1f} GB image at {IMAGE_PULL_BYTES_PER_SECOND / 1e6:.0f} MB/s: "
                           f"{IMAGE_PULL_SOURCE}", False)]  # fmt: skip
    if load_format == "runai_streamer":
        rate = min(RUNAI_STREAMER_S3_BYTES_PER_SECOND, network)
        capped = " (capped by the node's network)" if rate < RUNAI_STREAMER_S3_BYTES_PER_SECOND else ""
        stages.append(StartupStage(WEIGHT_STREAM, weight_bytes / rate,
                                   f"{weight_bytes / GB:.1f} GB at {rate / GB:.2f} GB/s{capped}: {RUNAI_STREAMER_S3_SOURCE}",
                                   True))  # fmt: skip
    else:
        stages.append(StartupStage(WEIGHT_COPY, weight_bytes / network,
                                   f"{weight_bytes / GB:.1f} GB at the node's {network / GB:.2f} GB/s network "
                                   "(init container; a lower bound)", False))  # fmt: skip
        stages.append(StartupStage(WEIGHT_STREAM, weight_bytes / LOCAL_GP3_SAFETENSORS_BYTES_PER_SECOND,
                                   f"{weight_bytes / GB:.1f} GB at {LOCAL_GP3_SAFETENSORS_BYTES_PER_SECOND / GB:.2f} GB/s: "
                                   f"{LOCAL_GP3_SAFETENSORS_SOURCE}", True))  # fmt: skip
    stages.append(StartupStage(ENGINE_INIT, VLLM_ENGINE_INIT_SECONDS, f"imports, engine and KV cache set-up: {ENGINE_SOURCE}", True))
    stages.append(StartupStage(COMPILE, VLLM_COMPILE_AND_GRAPH_CAPTURE_SECONDS,
                               f"torch.compile 10 + 42 s, CUDA graph capture 54 s: {ENGINE_SOURCE}", True))  # fmt: skip
    return StartupEstimate(weight_bytes=weight_bytes, stages=tuple(stages), budget_seconds=budget_seconds)


def check_startup_budgets(
    models: Iterable, plans: Mapping[str, CapacityPlan], indices: Iterable[int] | None = None
) -> dict[str, StartupEstimate]:
    """Estimate every configured model (`stack_config.ModelConfig`); raise StartupBudgetError naming every stage.

    `indices` are the models' positions in the stack's `models` list when only some of them are checked.
    """
    estimates: dict[str, StartupEstimate] = {}
    problems: list[str] = []
    for index, model in zip(itertools.count() if indices is None else indices, models):
        plan = plans[model.name]
        estimate = estimate_startup(plan.weight_bytes, model.startup_budget_seconds, plan.instance_type, model.load_format)
        estimates[model.name] = estimate
        if not estimate.within_budget:
            needed = math.ceil(estimate.estimate_seconds / 60) * 60
            stages = " + ".join(f"{stage.name} {stage.seconds:.0f} s" for stage in estimate.stages if stage.in_probe_budget)
            problems.append(
                f"models[{index}].startupBudgetSeconds: got {model.startup_budget_seconds} for {model.name} "
                f"({model.catalog_model} on {plan.instance_type}, {model.load_format}), expected at least the estimated "
                f"start-up of {estimate.estimate_seconds:.0f} s ({stages}; {plan.weight_bytes / GB:.1f} GB of weights): "
                f"set it to {needed} or more, use runai_streamer, or quantize the model"
            )
    if problems:
        raise StartupBudgetError(problems)
    return estimates
