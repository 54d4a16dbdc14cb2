"""The plan's cost items stated whole for prod and dev (us-east-1 list prices, catalog.py REGION_PRICES with their
pricing pages), the per-request and traffic rates with and without CloudFront, and the cron arithmetic of the
working-hours window (KEDA cron scaler: standard five-field cron, 0 and 7 both Sunday; on at start, off at end)."""

from __future__ import annotations

import pytest

from test_stack_config import sections_of
from stack_config import load_stack_config
from vllm_eks.planning.catalog import REGION_PRICES
from vllm_eks.planning.cost import (
    CostError,
    CostItem,
    _cron_values,
    fixed_costs,
    monthly_hours_in_window,
    replica_cost,
    replica_split,
    usage_rates,
    usd_per_million_output_tokens,
    usd_per_million_requests,
    window_hours_per_week,
)

PRICES = REGION_PRICES["us-east-1"]


def _config(stack: str, **edge):
    sections = sections_of(stack)
    sections["edge"] = {**sections["edge"], **edge}
    return load_stack_config(sections)


def test_prod_fixed_costs():
    """prod (Pulumi.prod.yaml): 3 zones with a NAT gateway each, 5 interface endpoints, 3 m7i.xlarge system nodes,
    2 consumers and CloudFront; WAF $5/ACL + $1/rule-month, KMS $1/key-month, secrets $0.40/month over 730 h."""
    assert fixed_costs(_config("prod"), PRICES, 7) == [
        CostItem("EKS control plane (standard support)", 1, "cluster", 0.10),
        CostItem("NAT gateways", 3, "gateway", pytest.approx(0.135)),
        CostItem("interface endpoints (per AZ)", 15, "endpoint-AZ", pytest.approx(0.15)),
        CostItem("system nodes (m7i.xlarge, desired size)", 3, "node", pytest.approx(0.6048)),
        CostItem("internal ALB (hourly, LCUs extra)", 1, "load balancer", 0.0225),
        CostItem("WAF web ACL + 7 rules", 1, "web ACL", pytest.approx(12 / 730)),
        CostItem("KMS customer managed keys", 2, "key", pytest.approx(2 / 730)),
        CostItem("Secrets Manager secrets", 4, "secret", pytest.approx(1.6 / 730)),  # internal key, 2 consumers, origin-verify
    ]


def test_dev_fixed_costs_with_one_nat_gateway_and_without_cloudfronts_secret():
    costs = fixed_costs(_config("dev", cloudfront=False, domainName=None, certificateArn=None), PRICES, 5)
    assert [(c.item, c.quantity, round(c.usd_per_hour, 6)) for c in costs] == [
        ("EKS control plane (standard support)", 1, 0.1), ("NAT gateways", 1, 0.045),
        ("interface endpoints (per AZ)", 6, 0.06), ("system nodes (m7i.large, desired size)", 2, 0.2016),
        ("internal ALB (hourly, LCUs extra)", 1, 0.0225), ("WAF web ACL + 5 rules", 1, round(10 / 730, 6)),
        ("KMS customer managed keys", 2, round(2 / 730, 6)), ("Secrets Manager secrets", 2, round(0.8 / 730, 6))]


def test_a_system_node_type_without_a_price_is_an_error_naming_the_setting_and_the_known_types():
    sections = sections_of("dev")
    sections["cluster"] = {**sections.get("cluster", {}), "systemNodes": {"instanceTypes": ["c7g.large"]}}
    with pytest.raises(CostError) as error:
        fixed_costs(load_stack_config(sections), PRICES, 5)
    assert str(error.value) == (
        "cluster.systemNodes.instanceTypes[0]: got 'c7g.large', expected an instance type in the price table (m7i.large, "
        "m7i.xlarge, m7i.2xlarge, m6i.large, m6i.xlarge, m6i.2xlarge); add its price to vllm_eks/planning/catalog.py REGION_PRICES")


def test_per_request_and_traffic_rates_follow_cloudfront():
    with_cdn, without = _config("prod"), _config("prod", cloudfront=False, domainName=None, certificateArn=None)
    assert usd_per_million_requests(with_cdn, PRICES) == {"API Gateway REST": 3.5, "WAF": 0.6, "CloudFront HTTPS requests": 1.0}
    assert usd_per_million_requests(without, PRICES) == {"API Gateway REST": 3.5, "WAF": 0.6}
    assert usage_rates(with_cdn, PRICES) == {
        "NAT gateway data processed": "$0.045/GB", "interface endpoint data processed": "$0.01/GB",
        "ALB capacity units": "$0.008/LCU-hour", "CloudFront data transfer out": "$0.085/GB"}
    assert "CloudFront data transfer out" not in usage_rates(without, PRICES)


def test_replicas_split_by_capacity_type_and_cost_at_the_spot_discount():
    assert replica_split("on-demand", 5, 2) == (5, 0)
    assert replica_split("spot", 5, 2) == (0, 5)
    assert replica_split("on-demand-with-spot-burst", 5, 2) == (2, 3)
    assert replica_split("on-demand-with-spot-burst", 1, 2) == (1, 0)

    class Model:
        capacity_type, on_demand_replicas = "on-demand-with-spot-burst", 1

    cost = replica_cost(Model, "g5.xlarge", 3, 0.6, 1.0)
    assert (cost.replicas, cost.on_demand, cost.spot, cost.usd_per_hour) == (3, 1, 2, pytest.approx(1.8))
    # $2/h at 1000 tokens/s and 50 % utilisation: 1.8 M tokens an hour -> $1.111 per million
    assert usd_per_million_output_tokens(2.0, 1000, 0.5) == pytest.approx(2 / 1.8, rel=1e-12)


def test_cron_fields_expand_lists_ranges_steps_and_stars():
    assert _cron_values("*/15", 0, 59) == {0, 15, 30, 45}
    assert _cron_values("1-5", 0, 7) == {1, 2, 3, 4, 5}
    assert _cron_values("8,12-13,20-23/2", 0, 23) == {8, 12, 13, 20, 22}
    assert _cron_values("7", 0, 7) == {7}


def test_window_hours_count_sunday_as_0_or_7_and_wrap_the_week():
    assert window_hours_per_week("0 8 * * 1-5", "0 19 * * 1-5") == 55
    assert window_hours_per_week("0 8 * * 0", "0 10 * * 0") == 2
    assert window_hours_per_week("0 8 * * 7", "0 10 * * 7") == 2
    assert window_hours_per_week("0 22 * * 7", "0 2 * * 1") == 4  # Sunday night into Monday
    assert window_hours_per_week("30 8 * * 6", "0 9 * * 6") == 0.5
    assert monthly_hours_in_window("0 8 * * 1-5", "0 19 * * 1-5") == pytest.approx(55 * 730 / 168)
    with pytest.raises(CostError, match=r"^autoscaling\.workingHours: got '0 8 1 \* \*', expected a weekly cron "
                                        r"\('\*' for day of month and month\) for the plan to count hours$"):
        window_hours_per_week("0 8 1 * *", "0 9 * * *")
    with pytest.raises(CostError, match="got '0 8 \\* 1 \\*'"):
        window_hours_per_week("0 8 * * *", "0 8 * 1 *")


def test_a_star_minute_field_fires_in_minute_59_too():
    """crontab(5) and cron(8): the minute field runs 0-59 and `*` stands for first-last, so `* 8 * * 1` fires at
    08:00 through 08:59. The plan's rule (cost.py window_hours_per_week): on at start, off at end, and a minute where
    both fire leaves the window off. With an end at 08:58 the window is on 08:00-08:58, off for the minute 08:58, and
    the start at 08:59 opens it again until next Monday's 08:58: the whole week (10080 minutes) but one minute."""
    assert window_hours_per_week("* 8 * * 1", "58 8 * * 1") == 10079 / 60
    assert monthly_hours_in_window("* 8 * * 1", "58 8 * * 1") == pytest.approx(10079 / 60 * 730 / 168)
