"""What a stack costs: GPU replicas (on-demand and Spot), the fixed costs around them, a month under its schedule.

Pure functions over the validated config and the catalog's dated prices (`REGION_PRICES`).
Usage-based charges that depend on traffic volume (GB processed, LCUs) are listed as rates, not guessed; per-request
charges (API Gateway, WAF, CloudFront) are folded into the price per million output tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

from vllm_eks.planning.catalog import HOURS_PER_MONTH, REGION_PRICES, RegionPrices

HOURS_PER_WEEK = 168
# Customer managed KMS keys the stack creates: GpuCluster (EKS secrets encryption) and ModelStore (weights bucket).
STACK_KMS_KEYS = 2


class CostError(ValueError):
    """A stack the price table cannot price, naming the setting and what the table knows."""


@dataclass(frozen=True)
class CostItem:
    item: str
    quantity: float
    unit: str
    usd_per_hour: float  # all of the quantity


@dataclass(frozen=True)
class ReplicaCost:
    replicas: int
    on_demand: int
    spot: int
    usd_per_hour: float


def region_prices(region: str) -> RegionPrices:
    if region not in REGION_PRICES:
        raise CostError(
            f"aws:region: got {region!r}, expected a region in the price table ({', '.join(sorted(REGION_PRICES))}); "
            f"add its prices to vllm_eks/planning/catalog.py REGION_PRICES"
        )
    return REGION_PRICES[region]


def spot_usd_per_hour(on_demand_usd_per_hour: float, spot_discount: float) -> float:
    return on_demand_usd_per_hour * (1 - spot_discount)


def replica_split(capacity_type: str, replicas: int, on_demand_replicas: int) -> tuple[int, int]:
    """(on-demand, Spot) replicas: the on-demand baseline first when Spot only bursts."""
    if capacity_type == "on-demand":
        return replicas, 0
    if capacity_type == "spot":
        return 0, replicas
    on_demand = min(replicas, on_demand_replicas)
    return on_demand, replicas - on_demand


def gpu_usd_per_hour(prices: RegionPrices, region: str, instance_type: str) -> float:
    """The on-demand price of a GPU instance in the stack's region, never another region's."""
    if instance_type not in prices.gpu_instance_usd_per_hour:
        raise CostError(
            f"aws:region: no on-demand price for {instance_type} in {region} in vllm_eks/planning/catalog.py REGION_PRICES "
            f"(it prices {', '.join(sorted(prices.gpu_instance_usd_per_hour))}); add it from https://aws.amazon.com/ec2/pricing/on-demand/"
        )
    return prices.gpu_instance_usd_per_hour[instance_type]


def replica_cost(model, instance_type: str, replicas: int, spot_discount: float, price: float) -> ReplicaCost:
    """$/h of `replicas` replicas of a model (`stack_config.ModelConfig`) on its instance type at `price` $/h each."""
    on_demand, spot = replica_split(model.capacity_type, replicas, model.on_demand_replicas)
    return ReplicaCost(replicas, on_demand, spot, on_demand * price + spot * spot_usd_per_hour(price, spot_discount))


def fixed_costs(config, prices: RegionPrices, waf_rule_count: int) -> list[CostItem]:
    """The stack's hourly charges that do not depend on GPU replicas or traffic (`stack_config.StackConfig`);
    `waf_rule_count` is the edge's web ACL rules as `vllm_eks.edge.edge_specs.waf_rules` builds them."""
    network, edge = config.network, config.edge
    nat_gateways = 1 if network.nat_gateways == "single" else network.availability_zones
    endpoint_hours = len(network.interface_endpoints) * network.availability_zones
    system = config.cluster.system_nodes
    system_type = system.instance_types[0]
    if system_type not in prices.system_node_usd_per_hour:
        raise CostError(
            f"cluster.systemNodes.instanceTypes[0]: got {system_type!r}, expected an instance type in the price table "
            f"({', '.join(prices.system_node_usd_per_hour)}); add its price to vllm_eks/planning/catalog.py REGION_PRICES"
        )
    # One internal vLLM key for the whole stack (InternalApiKey), one per consumer, CloudFront's origin-verify secret.
    secrets = 1 + len(edge.consumers) + (1 if edge.cloudfront else 0)
    return [
        CostItem("EKS control plane (standard support)", 1, "cluster", prices.eks_cluster_usd_per_hour),
        CostItem("NAT gateways", nat_gateways, "gateway", nat_gateways * prices.nat_gateway_usd_per_hour),
        CostItem(
            "interface endpoints (per AZ)",
            endpoint_hours,
            "endpoint-AZ",
            endpoint_hours * prices.interface_endpoint_usd_per_hour_per_az,
        ),
        CostItem(
            f"system nodes ({system_type}, desired size)",
            system.desired_size,
            "node",
            system.desired_size * prices.system_node_usd_per_hour[system_type],
        ),
        CostItem("internal ALB (hourly, LCUs extra)", 1, "load balancer", prices.alb_usd_per_hour),
        CostItem(
            f"WAF web ACL + {waf_rule_count} rules",
            1,
            "web ACL",
            (prices.waf_usd_per_acl_month + waf_rule_count * prices.waf_usd_per_rule_month) / HOURS_PER_MONTH,
        ),
        CostItem("KMS customer managed keys", STACK_KMS_KEYS, "key", STACK_KMS_KEYS * prices.kms_key_usd_per_month / HOURS_PER_MONTH),
        CostItem("Secrets Manager secrets", secrets, "secret", secrets * prices.secret_usd_per_month / HOURS_PER_MONTH),
    ]


def usd_per_million_requests(config, prices: RegionPrices) -> dict[str, float]:
    """Per-request charges along the edge (no fixed fee): API Gateway REST, WAF and, when enabled, CloudFront."""
    charges = {
        "API Gateway REST": prices.api_gateway_rest_usd_per_million_requests,
        "WAF": prices.waf_usd_per_million_requests,
    }
    if config.edge.cloudfront:
        charges["CloudFront HTTPS requests"] = prices.cloudfront_usd_per_million_https_requests
    return charges


def usage_rates(config, prices: RegionPrices) -> dict[str, str]:
    """Traffic-volume charges the plan does not estimate, with their rates, so a reader can apply them."""
    rates = {
        "NAT gateway data processed": f"${prices.nat_gateway_usd_per_gb}/GB",
        "interface endpoint data processed": f"${prices.interface_endpoint_usd_per_gb}/GB",
        "ALB capacity units": f"${prices.alb_usd_per_lcu_hour}/LCU-hour",
    }
    if config.edge.cloudfront:
        rates["CloudFront data transfer out"] = f"${prices.cloudfront_usd_per_gb_out}/GB"
    return rates


def usd_per_million_output_tokens(usd_per_hour: float, tokens_per_second: float, utilisation: float) -> float:
    return usd_per_hour / (tokens_per_second * 3600 * utilisation) * 1e6


# --- schedule ------------------------------------------------------------------------------------------------------
def window_hours_per_week(start_cron: str, end_cron: str) -> float:
    """Hours per week between a start and an end cron (KEDA cron trigger semantics: on at start, off at end)."""
    starts, ends = _week_minutes(start_cron), _week_minutes(end_cron)
    on = False
    on_minutes = 0
    for lap in range(2):  # the first lap finds the state the window is in when the week begins
        for minute in range(HOURS_PER_WEEK * 60):
            if minute in starts:
                on = True
            if minute in ends:
                on = False
            on_minutes += on and lap == 1
    return on_minutes / 60


def monthly_hours_in_window(start_cron: str, end_cron: str) -> float:
    return window_hours_per_week(start_cron, end_cron) * HOURS_PER_MONTH / HOURS_PER_WEEK


def _week_minutes(cron: str) -> set[int]:
    """Minutes of a week (0 = Monday 00:00) a five-field cron fires; day of month and month must be '*'."""
    minute_field, hour_field, day_of_month, month, day_of_week = cron.split()
    if day_of_month != "*" or month != "*":
        raise CostError(
            f"autoscaling.workingHours: got {cron!r}, expected a weekly cron ('*' for day of month and month) "
            f"for the plan to count hours"
        )
    minutes = _cron_values(minute_field, 0, 59)
    hours = _cron_values(hour_field, 0, 23)
    weekdays = {value % 7 for value in _cron_values(day_of_week, 0, 7)}  # cron: 0 and 7 are Sunday
    return {
        day * 1440 + hour * 60 + minute
        for day in range(7)
        if (day + 1) % 7 in weekdays  # day 0 is Monday = cron 1
        for hour in hours
        for minute in minutes
    }


def _cron_values(field: str, low: int, high: int) -> set[int]:
    values: set[int] = set()
    for part in field.split(","):
        span, _, step = part.partition("/")
        if span == "*":
            first, last = low, high
        elif "-" in span:
            first, last = (int(bound) for bound in span.split("-"))
        else:
            first = last = int(span)
        values.update(range(first, last + 1, int(step) if step else 1))
    return values
