"""The planner's result in the shape a component takes: plain fields, expressible in a Pulumi package schema.

No `from __future__ import annotations` here: the provider's schema analyzer reads these annotations as types.
"""

from typing import TypedDict

from vllm_eks.planning.sizing import CapacityPlan


class ServingPlan(TypedDict):
    """The planner's figures a vLLM pod needs: where it runs and what it requests (`serving_plan`)."""

    instance_type: str
    """The GPU instance type of the model's nodes."""
    tensor_parallel_size: int
    """GPUs per replica (vLLM's --tensor-parallel-size)."""
    weight_bytes: int
    """Size of the checkpoint's weights."""
    pod_cpu: int
    """Whole cores one pod requests."""
    pod_memory_gib: int
    """Memory one pod requests, in GiB."""


def serving_plan(plan: CapacityPlan) -> ServingPlan:
    """The figures of a capacity plan that VllmService takes."""
    return {
        "instance_type": plan.instance_type,
        "tensor_parallel_size": plan.tensor_parallel_size,
        "weight_bytes": plan.weight_bytes,
        "pod_cpu": plan.pod.cpu,
        "pod_memory_gib": plan.pod.memory_gib,
    }
