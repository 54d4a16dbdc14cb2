"""Every config-time check of a stack in one run: schema, sizing and start-up budgets report together.

Without this, a user fixes the schema error, then meets the sizing error, then the start-up budget error, one
render at a time. `check_stack` runs each check on whatever the earlier ones left valid (a model that passes the
schema is still sized when another setting is wrong) and raises one `StackConfigError` listing every problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from vllm_eks.planning.sizing import CapacityPlan, SizingError, plan_capacity, plan_models
from vllm_eks.planning.startup_time import StartupBudgetError, check_startup_budgets
from stack_config import ModelConfig, StackConfig, StackConfigError, load_stack_config


@dataclass(frozen=True)
class CheckedStack:
    config: StackConfig
    capacity_plans: dict[str, CapacityPlan]


def check_stack(sections: Mapping[str, Any], *, startup_budgets: bool = True) -> CheckedStack:
    """Validate the sections, size every model and check its start-up budget; raise every problem at once.

    `startup_budgets=False` leaves the budget to the caller (`preflight plan` prints it as a verdict instead).
    """
    problems: list[str] = []
    config: StackConfig | None = None
    try:
        config = load_stack_config(dict(sections))
        indexed = list(enumerate(config.models))
    except StackConfigError as error:
        problems += error.problems
        indexed = _models_that_validate(sections.get("models"))
    indices, models = [index for index, _ in indexed], [model for _, model in indexed]
    try:
        plans = plan_models(models, indices)
    except SizingError as error:
        problems += error.problems
        plans = error.plans
    if startup_budgets:
        # Weights, and so start-up time, do not depend on the instance: a model that does not fit its configured
        # instance is still checked, so the budget problem is not held back until the sizing one is fixed.
        budget_plans = {**{model.name: _unjudged_plan(model) for model in models if model.instance_type != "auto"}, **plans}
        sized = [(index, model) for index, model in indexed if model.name in budget_plans]
        try:
            check_startup_budgets([model for _, model in sized], budget_plans, [index for index, _ in sized])
        except StartupBudgetError as error:
            problems += error.problems
    if problems or config is None:
        raise StackConfigError(problems)
    return CheckedStack(config, plans)


def _unjudged_plan(model: ModelConfig) -> CapacityPlan:
    return plan_capacity(
        model_name=model.name,
        catalog_model=model.catalog_model,
        instance_type=model.instance_type,
        max_model_len=model.max_model_len,
        gpu_memory_utilization=model.gpu_memory_utilization,
        dtype=model.dtype,
        quantization=model.quantization,
    )


def _models_that_validate(raw_models: Any) -> list[tuple[int, ModelConfig]]:
    """(index, model) for each entry of a broken stack's `models` that is valid on its own."""
    if not isinstance(raw_models, list):
        return []
    valid = []
    for index, raw in enumerate(raw_models):
        try:
            valid.append((index, ModelConfig.model_validate(raw)))
        except ValidationError:
            continue  # load_stack_config has already reported its problems
    return valid
