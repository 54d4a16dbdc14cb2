"""`preflight plan`: capacity, throughput, start-up time and cost of a stack, from the config it deploys.

`build_plan(stack, config)` returns one plain dict (camelCase keys, the shape `preflight/plan_schema.json`
describes); `plan_cli` prints it as text, Markdown or JSON. Every figure comes from the pure modules in
`vllm_eks/planning/` (sizing, throughput, startup_time, cost) and the dated facts in `vllm_eks/planning/catalog.py`.
"""

from __future__ import annotations

from typing import Any

from vllm_eks.planning.catalog import (
    HOURS_PER_MONTH,
    PRICE_SNAPSHOT_DATE,
    SPOT_DISCOUNT_SOURCE,
)
from vllm_eks.planning.cost import (
    fixed_costs,
    gpu_usd_per_hour,
    monthly_hours_in_window,
    region_prices,
    replica_cost,
    spot_usd_per_hour,
    usage_rates,
    usd_per_million_output_tokens,
    usd_per_million_requests,
    window_hours_per_week,
)
from vllm_eks.autoscaling.scaled_object import working_hours_replicas
from vllm_eks.planning.sizing import GIB
from vllm_eks.edge.edge_specs import waf_rules
from vllm_eks.planning.startup_time import estimate_startup
from vllm_eks.planning.throughput import estimate_throughput, replicas_for_load
from stack_checks import check_stack
from stack_config import project_sections

THROUGHPUT_METHOD = "roofline estimate (decode, memory-bandwidth bound): an upper bound"


def build_plan(stack: str, raw_config: dict[str, Any], rps: float | None = None) -> dict[str, Any]:
    """The plan for a stack's `config:` mapping (keys as in Pulumi.<stack>.yaml); `rps` sizes replicas for a load."""
    region = str(raw_config.get("aws:region", "us-east-1"))
    # Every config-time problem at once; the start-up budget is a verdict in the plan's table instead.
    checked = check_stack(project_sections(raw_config), startup_budgets=False)
    config, capacity_plans = checked.config, checked.capacity_plans
    prices = region_prices(region)
    workload = config.plan
    hours = config.autoscaling.working_hours
    window_month_hours = monthly_hours_in_window(hours.start, hours.end) if hours else 0.0

    models = [
        _model_plan(model, capacity_plans[model.name], config, window_month_hours, rps, prices, region)
        for model in config.models
    ]
    edge = config.edge
    waf_rule_count = len(waf_rules("plan", edge.max_body_kib, edge.rate_limit_per_key_5min, edge.rate_limit_per_ip_5min))
    fixed = fixed_costs(config, prices, waf_rule_count)
    fixed_per_hour = sum(item.usd_per_hour for item in fixed)
    at_min = fixed_per_hour + sum(model["cost"]["atMinReplicas"]["usdPerHour"] for model in models)
    at_max = fixed_per_hour + sum(model["cost"]["atMaxReplicas"]["usdPerHour"] for model in models)
    return {
        "stack": stack,
        "region": region,
        "priceSnapshot": PRICE_SNAPSHOT_DATE,
        "assumptions": {
            "typicalPromptTokens": workload.typical_prompt_tokens,
            "typicalOutputTokens": workload.typical_output_tokens,
            "utilisation": workload.utilisation,
            "spotDiscount": workload.spot_discount,
            "spotDiscountSource": SPOT_DISCOUNT_SOURCE,
            "throughputMethod": THROUGHPUT_METHOD,
            "rps": rps,
        },
        "models": models,
        "totals": {
            "fixedCosts": [
                {"item": item.item, "quantity": item.quantity, "unit": item.unit, "usdPerHour": item.usd_per_hour}
                for item in fixed
            ],
            "fixedUsdPerHour": fixed_per_hour,
            "usdPerHourAtMinReplicas": at_min,
            "usdPerHourAtMaxReplicas": at_max,
            "schedule": {
                "workingHours": (
                    {"timezone": hours.timezone, "start": hours.start, "end": hours.end} if hours else None
                ),
                "windowHoursPerWeek": window_hours_per_week(hours.start, hours.end) if hours else None,
                "windowHoursPerMonth": window_month_hours if hours else None,
                "hoursPerMonth": HOURS_PER_MONTH,
            },
            "usdPerMonth": fixed_per_hour * HOURS_PER_MONTH + sum(model["cost"]["usdPerMonth"] for model in models),
            "usdPerMonthAtMaxReplicas": at_max * HOURS_PER_MONTH,
            "perRequestUsdPerMillion": usd_per_million_requests(config, prices),
            "usageRatesNotIncluded": usage_rates(config, prices),
        },
    }


def _model_plan(model, plan, config, window_month_hours: float, rps: float | None, prices, region: str) -> dict[str, Any]:
    workload = config.plan
    prompt, output = workload.typical_prompt_tokens, workload.typical_output_tokens
    throughput = estimate_throughput(plan, prompt, output)
    startup = estimate_startup(plan.weight_bytes, model.startup_budget_seconds, plan.instance_type, model.load_format)
    threshold = config.autoscaling.queue_threshold_per_replica
    discount = workload.spot_discount
    on_demand_price = gpu_usd_per_hour(prices, region, plan.instance_type)

    at_min = replica_cost(model, plan.instance_type, model.min_replicas, discount, on_demand_price)
    at_max = replica_cost(model, plan.instance_type, model.max_replicas, discount, on_demand_price)
    if config.autoscaling.working_hours:
        held = replica_cost(
            model,
            plan.instance_type,
            max(model.min_replicas, working_hours_replicas(model.on_demand_replicas)),
            discount,
            on_demand_price,
        )
        monthly = window_month_hours * held.usd_per_hour + (HOURS_PER_MONTH - window_month_hours) * at_min.usd_per_hour
    else:
        held = None
        monthly = HOURS_PER_MONTH * at_min.usd_per_hour

    spot_price = spot_usd_per_hour(on_demand_price, discount)
    per_request = sum(usd_per_million_requests(config, prices).values())
    edge_per_million_tokens = per_request / output  # a million output tokens is 1e6 / output requests
    on_demand_per_million = usd_per_million_output_tokens(
        on_demand_price, throughput.decode_tokens_per_second, workload.utilisation
    )
    spot_per_million = usd_per_million_output_tokens(spot_price, throughput.decode_tokens_per_second, workload.utilisation)
    hosted = workload.hosted_api_usd_per_million_output_tokens
    scaling: dict[str, Any] = {
        "minReplicas": model.min_replicas,
        "maxReplicas": model.max_replicas,
        "queueThresholdPerReplica": threshold,
        "rps": rps,
        "replicasForRps": None,
        "replicasNeededForRps": None,
        "exceedsMaxReplicas": None,
    }
    if rps is not None:
        load = replicas_for_load(rps, throughput.requests_per_second, model.min_replicas, model.max_replicas, threshold)
        scaling.update(
            replicasForRps=load.replicas,
            replicasNeededForRps=load.replicas_needed,
            exceedsMaxReplicas=load.exceeds_max_replicas,
        )
    scaling["queueWaitSecondsAtThreshold"] = threshold / throughput.requests_per_second
    published = throughput.published
    return {
        "name": model.name,
        "catalogModel": model.catalog_model,
        "fit": {
            "instanceType": plan.instance_type,
            "gpuModel": plan.gpu_model,
            "gpus": plan.gpu_count,
            "tensorParallelSize": plan.tensor_parallel_size,
            "dtype": plan.quantization or plan.dtype,
            "weightBytes": plan.weight_bytes,
            "weightGiB": plan.weight_bytes / GIB,
            "kvBytesPerToken": plan.kv_bytes_per_token,
            "kvBytesPerTokenPerGpu": plan.kv_bytes_per_token_per_gpu,
            "gpuMemoryUtilization": plan.gpu_memory_utilization,
            "kvCacheGiBPerGpu": plan.kv_cache_bytes_per_gpu / GIB,
            "kvCapacityTokens": plan.kv_capacity_tokens,
            "maxModelLen": plan.max_model_len,
            "maxConcurrentSequencesAtMaxModelLen": plan.max_concurrent_sequences,
            "maxConcurrentSequencesAtTypicalRequest": plan.kv_capacity_tokens // (prompt + output),
        },
        "throughput": {
            "method": THROUGHPUT_METHOD,
            "gpuMemoryBandwidthGBps": throughput.memory_bandwidth_bytes_per_second / 1e9,
            "batchSize": throughput.batch_size,
            "bytesPerStepPerGpu": throughput.bytes_per_step_per_gpu,
            "decodeTokensPerSecond": throughput.decode_tokens_per_second,
            "singleStreamTokensPerSecond": throughput.single_stream_tokens_per_second,
            "requestsPerSecond": throughput.requests_per_second,
            "publishedBenchmark": (
                {
                    "outputTokensPerSecond": published.output_tokens_per_second,
                    "concurrency": published.concurrency,
                    "source": published.source,
                }
                if published
                else None
            ),
        },
        "scaling": scaling,
        "startup": {
            "loadFormat": model.load_format,
            "stages": [
                {"name": stage.name, "seconds": stage.seconds, "basis": stage.basis, "inProbeBudget": stage.in_probe_budget}
                for stage in startup.stages
            ],
            "estimateSeconds": startup.estimate_seconds,
            "podStartSeconds": startup.pod_start_seconds,
            "budgetSeconds": startup.budget_seconds,
            "withinBudget": startup.within_budget,
        },
        "cost": {
            "capacityType": model.capacity_type,
            "onDemandReplicas": model.on_demand_replicas,
            "instanceUsdPerHourOnDemand": on_demand_price,
            "instanceUsdPerHourSpot": spot_price,
            "atMinReplicas": _replica_cost_dict(at_min),
            "atMaxReplicas": _replica_cost_dict(at_max),
            "inWorkingHours": _replica_cost_dict(held) if held else None,
            "usdPerMonth": monthly,
            "usdPerMillionOutputTokensOnDemand": on_demand_per_million + edge_per_million_tokens,
            "usdPerMillionOutputTokensSpot": spot_per_million + edge_per_million_tokens,
            "edgeUsdPerMillionOutputTokens": edge_per_million_tokens,
            "hostedApiUsdPerMillionOutputTokens": hosted,
        },
    }


def _replica_cost_dict(cost) -> dict[str, Any]:
    return {"replicas": cost.replicas, "onDemand": cost.on_demand, "spot": cost.spot, "usdPerHour": cost.usd_per_hour}
