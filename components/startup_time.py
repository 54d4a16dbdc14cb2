"""Start-up time of a vLLM replica against its startup-probe budget.

Pure functions over the catalog: estimate = weights ÷ S3 streaming rate + engine start (imports, torch.compile,
CUDA-graph capture). A model whose estimate exceeds `startupBudgetSeconds` would be killed by its startup probe
while still loading, over and over; `check_startup_budgets` makes that a config-load error instead.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from components.catalog import S3_STREAMING_BYTES_PER_SECOND, VLLM_ENGINE_START_SECONDS
from components.sizing import CapacityPlan

GB = 1e9


@dataclass(frozen=True)
class StartupEstimate:
    weight_bytes: int
    weights_seconds: float
    engine_start_seconds: float
    budget_seconds: int

    @property
    def estimate_seconds(self) -> float:
        return self.weights_seconds + self.engine_start_seconds

    @property
    def within_budget(self) -> bool:
        return self.estimate_seconds <= self.budget_seconds


class StartupBudgetError(ValueError):
    """Models whose estimated start-up exceeds their startup-probe budget, one line each (raised at config load)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("start-up budget too short:\n" + "\n".join(f"  {line}" for line in problems))


def estimate_startup(weight_bytes: int, budget_seconds: int) -> StartupEstimate:
    return StartupEstimate(
        weight_bytes=weight_bytes,
        weights_seconds=weight_bytes / S3_STREAMING_BYTES_PER_SECOND,
        engine_start_seconds=VLLM_ENGINE_START_SECONDS,
        budget_seconds=budget_seconds,
    )


def check_startup_budgets(
    models: Iterable, plans: Mapping[str, CapacityPlan], indices: Iterable[int] | None = None
) -> dict[str, StartupEstimate]:
    """Estimate every configured model (`stack_config.ModelConfig`); raise StartupBudgetError naming both numbers.

    `indices` are the models' positions in the stack's `models` list when only some of them are checked.
    """
    estimates: dict[str, StartupEstimate] = {}
    problems: list[str] = []
    for index, model in zip(itertools.count() if indices is None else indices, models):
        plan = plans[model.name]
        estimate = estimate_startup(plan.weight_bytes, model.startup_budget_seconds)
        estimates[model.name] = estimate
        if not estimate.within_budget:
            needed = math.ceil(estimate.estimate_seconds / 60) * 60
            problems.append(
                f"models[{index}].startupBudgetSeconds: got {model.startup_budget_seconds} for {model.name} "
                f"({model.catalog_model} on {plan.instance_type}), expected at least the estimated start-up of "
                f"{estimate.estimate_seconds:.0f} s ({plan.weight_bytes / GB:.1f} GB of weights at "
                f"{S3_STREAMING_BYTES_PER_SECOND / GB:g} GB/s from S3 = {estimate.weights_seconds:.0f} s, plus "
                f"{estimate.engine_start_seconds:.0f} s engine start): set it to {needed} or more, or quantize the model"
            )
    if problems:
        raise StartupBudgetError(problems)
    return estimates
