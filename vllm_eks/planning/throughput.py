"""Decode throughput of one replica, estimated with a memory-bandwidth roofline, and the replicas a load needs.

Decode is memory-bandwidth bound: every step each tensor-parallel rank reads its shard of the weights once plus
the KV cache of every sequence in the batch, and emits one token per sequence. So, per GPU,
    bytes per step = weights / TP + batch × average context × KV bytes per token per GPU
    step seconds   = bytes per step / GPU memory bandwidth
    tokens/s       = batch / step seconds
This is an upper bound (no kernel inefficiency, no prefill, no compute limit); the plan labels it an estimate and
shows a published measurement beside it where the catalog has one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vllm_eks.planning.catalog import (
    GPU_INSTANCES,
    PUBLISHED_DECODE_BENCHMARKS,
    VLLM_DEFAULT_MAX_NUM_SEQS,
    PublishedBenchmark,
)
from vllm_eks.planning.sizing import CapacityPlan

GB = 1e9


@dataclass(frozen=True)
class ThroughputEstimate:
    batch_size: int  # sequences decoded together at the typical request
    average_context_tokens: float
    bytes_per_step_per_gpu: float
    memory_bandwidth_bytes_per_second: float
    step_seconds: float
    decode_tokens_per_second: float  # the replica, all sequences
    single_stream_tokens_per_second: float  # one sequence alone (its inter-token rate)
    requests_per_second: float  # at the typical request's output length
    published: PublishedBenchmark | None


@dataclass(frozen=True)
class ReplicaEstimate:
    requests_per_second: float
    replicas_needed: int  # before the min/max clamp
    replicas: int  # what the autoscaler can give: clamped to [minReplicas, maxReplicas]
    exceeds_max_replicas: bool
    queue_wait_seconds_at_threshold: float  # queueing the threshold tolerates before a replica is added


def typical_batch_size(plan: CapacityPlan, prompt_tokens: int, output_tokens: int) -> int:
    """Sequences of the typical request that fit the KV cache at once, capped by vLLM's default --max-num-seqs."""
    return min(VLLM_DEFAULT_MAX_NUM_SEQS[plan.gpu_model], plan.kv_capacity_tokens // (prompt_tokens + output_tokens))


def decode_step_bytes_per_gpu(plan: CapacityPlan, batch_size: int, average_context_tokens: float) -> float:
    return plan.weight_bytes_per_gpu + batch_size * average_context_tokens * plan.kv_bytes_per_token_per_gpu


def estimate_throughput(plan: CapacityPlan, prompt_tokens: int, output_tokens: int) -> ThroughputEstimate:
    """The roofline at the typical request: batch as large as the KV cache allows, context half-way through decode."""
    batch = typical_batch_size(plan, prompt_tokens, output_tokens)
    if batch < 1:
        raise ValueError(
            f"{plan.model_name}: a typical request of {prompt_tokens + output_tokens} tokens does not fit its KV cache "
            f"of {plan.kv_capacity_tokens} tokens (lower plan.typicalPromptTokens/typicalOutputTokens)"
        )
    bandwidth = GPU_INSTANCES[plan.instance_type].gpu_memory_bandwidth_gbps * GB
    average_context = prompt_tokens + output_tokens / 2
    step_bytes = decode_step_bytes_per_gpu(plan, batch, average_context)
    step_seconds = step_bytes / bandwidth
    tokens_per_second = batch / step_seconds
    single_stream = 1 / (decode_step_bytes_per_gpu(plan, 1, average_context) / bandwidth)
    return ThroughputEstimate(
        batch_size=batch,
        average_context_tokens=average_context,
        bytes_per_step_per_gpu=step_bytes,
        memory_bandwidth_bytes_per_second=bandwidth,
        step_seconds=step_seconds,
        decode_tokens_per_second=tokens_per_second,
        single_stream_tokens_per_second=single_stream,
        requests_per_second=tokens_per_second / output_tokens,
        published=PUBLISHED_DECODE_BENCHMARKS.get((plan.catalog_model, plan.instance_type)),
    )


def replicas_for_load(
    requests_per_second: float,
    per_replica_requests_per_second: float,
    min_replicas: int,
    max_replicas: int,
    queue_threshold_per_replica: int,
) -> ReplicaEstimate:
    """Replicas the queue-depth autoscaler settles on for a steady load.

    KEDA adds replicas while more than `threshold` requests wait per replica; a queue only grows while the load
    exceeds what the running replicas serve, so it settles at ceil(load / per-replica rate). The threshold decides
    how much queueing is tolerated first: `threshold` waiting requests drain in threshold / rate seconds.
    """
    needed = math.ceil(requests_per_second / per_replica_requests_per_second) if requests_per_second > 0 else 0
    return ReplicaEstimate(
        requests_per_second=requests_per_second,
        replicas_needed=needed,
        replicas=min(max(needed, min_replicas), max_replicas),
        exceeds_max_replicas=needed > max_replicas,
        queue_wait_seconds_at_threshold=queue_threshold_per_replica / per_replica_requests_per_second,
    )
