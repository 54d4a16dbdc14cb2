"""`preflight plan`: hand-computed capacity and roofline figures, start-up budget at config load, cost and schedule,
and the three output formats (text, Markdown tables checked on structure, JSON checked against its schema)."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import jsonschema
import pytest

from vllm_eks.planning.catalog import GPU_INSTANCES, HOURS_PER_MONTH, MODELS
from vllm_eks.planning.cost import CostError, replica_split, window_hours_per_week
from vllm_eks.planning.sizing import kv_bytes_per_token, plan_capacity
from vllm_eks.planning.startup_time import StartupBudgetError, check_startup_budgets
from vllm_eks.planning.throughput import estimate_throughput, replicas_for_load
from rendered import resources_of
from preflight.plan import build_plan
from preflight.plan_cli import main as plan_main
from preflight.render import read_stack_config, render_config
from stack_config import load_stack_config

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "plan_structure.md"
MIB, GIB = 1024**2, 1024**3


@pytest.fixture(scope="module")
def prod_plan() -> dict:
    return build_plan("prod", read_stack_config("prod"))


@pytest.fixture(scope="module")
def dev_plan() -> dict:
    return build_plan("dev", read_stack_config("dev"))


def _kv_capacity_by_hand(reported_mib: int, utilisation: float, weights_per_gpu: int, kv_per_token_per_gpu: int) -> int:
    usable = int(reported_mib * MIB * utilisation)
    kv_cache = usable - weights_per_gpu - 2 * GIB  # catalog: 2 GiB vLLM overhead per GPU
    return kv_cache // (kv_per_token_per_gpu * 16) * 16  # whole 16-token blocks


# --- fit -----------------------------------------------------------------------------------------------------------
def test_qwen3_8b_on_g5_12xlarge_matches_the_hand_computed_fit(prod_plan):
    fit = prod_plan["models"][0]["fit"]
    kv_per_token = 2 * 36 * 8 * 128 * 2  # K and V × layers × KV heads × head dim × bf16 bytes
    assert kv_per_token == 147_456 == fit["kvBytesPerToken"] == kv_bytes_per_token(MODELS["qwen3-8b"], "auto")
    assert fit["kvBytesPerTokenPerGpu"] == 2 * 36 * (8 // 4) * 128 * 2 == 36_864  # TP 4: two KV heads per GPU
    assert (fit["instanceType"], fit["gpus"], fit["tensorParallelSize"]) == ("g5.12xlarge", 4, 4)
    weights = round(8.19e9 * 2)
    assert fit["weightBytes"] == weights == 16_380_000_000
    capacity = _kv_capacity_by_hand(23028, 0.92, math.ceil(weights / 4), 36_864)
    assert fit["kvCapacityTokens"] == capacity == 433_264
    assert fit["maxConcurrentSequencesAtMaxModelLen"] == capacity // 32_768 == 13
    assert fit["maxConcurrentSequencesAtTypicalRequest"] == capacity // (1024 + 256) == 338


def test_qwen3_1_7b_on_g6_2xlarge_matches_the_hand_computed_fit(dev_plan):
    fit = dev_plan["models"][0]["fit"]
    assert fit["kvBytesPerToken"] == 2 * 28 * 8 * 128 * 2 == 114_688  # about 112 KiB (FACTS: KV heads, not hidden size)
    weights = round(2.03e9 * 2)
    assert fit["weightBytes"] == weights
    capacity = _kv_capacity_by_hand(23034, 0.92, weights, 114_688)
    assert fit["kvCapacityTokens"] == capacity == 139_616
    assert fit["maxConcurrentSequencesAtMaxModelLen"] == capacity // 16_384 == 8


# --- throughput ----------------------------------------------------------------------------------------------------
def test_roofline_for_qwen3_8b_on_g5_12xlarge_by_hand(prod_plan):
    batch = min(256, 433_264 // (1024 + 256))  # vLLM's default --max-num-seqs caps the 338 that fit
    weights_per_gpu = 16_380_000_000 / 4
    kv_read = batch * (1024 + 256 / 2) * 36_864  # every sequence's KV, half-way through its output
    step_seconds = (weights_per_gpu + kv_read) / 600e9  # A10G: 600 GB/s
    throughput = prod_plan["models"][0]["throughput"]
    assert throughput["batchSize"] == batch == 256
    assert throughput["bytesPerStepPerGpu"] == pytest.approx(weights_per_gpu + kv_read)
    assert throughput["decodeTokensPerSecond"] == pytest.approx(batch / step_seconds) == pytest.approx(10_263, abs=1)
    assert throughput["requestsPerSecond"] == pytest.approx(batch / step_seconds / 256)
    single = 1 / ((weights_per_gpu + (1024 + 128) * 36_864) / 600e9)
    assert throughput["singleStreamTokensPerSecond"] == pytest.approx(single)
    assert throughput["publishedBenchmark"] is None  # none published for this pair: no borrowed figure


# Memory bandwidth per GPU, GB/s, from NVIDIA's data sheets: A10G 600, L4 300, L40S 864, A100 40GB (SXM) 1555,
# H100 SXM 3350; and the GPU each instance carries (AWS instance-type pages for g5, g6, g6e, p4d, p5).
DATASHEET_GPU_BANDWIDTH_GBPS = {"A10G": 600, "L4": 300, "L40S": 864, "A100-40GB": 1555, "H100": 3350}
PUBLISHED_GPU_OF_FAMILY = {"g5": "A10G", "g6": "L4", "g6e": "L40S", "p4d": "A100-40GB", "p5": "H100"}


@pytest.mark.parametrize("instance_type", sorted(GPU_INSTANCES))
def test_decode_is_estimated_at_the_datasheet_bandwidth_of_the_instances_gpu(instance_type):
    """The roofline divides by the GPU's data-sheet memory bandwidth, whatever the instance size."""
    gpu = PUBLISHED_GPU_OF_FAMILY[instance_type.split(".")[0]]
    assert GPU_INSTANCES[instance_type].gpu_model == gpu
    plan = plan_capacity(model_name="m", catalog_model="qwen3-1.7b", instance_type=instance_type, max_model_len=4096,
                         gpu_memory_utilization=0.9)
    estimate = estimate_throughput(plan, 1024, 256)
    assert estimate.memory_bandwidth_bytes_per_second == DATASHEET_GPU_BANDWIDTH_GBPS[gpu] * 1e9


def test_typical_request_larger_than_the_kv_cache_is_refused_naming_the_setting():
    plan = plan_capacity(
        model_name="m", catalog_model="qwen3-8b", instance_type="g5.xlarge", max_model_len=4096, gpu_memory_utilization=0.92
    )
    with pytest.raises(ValueError, match="typicalPromptTokens"):
        estimate_throughput(plan, plan.kv_capacity_tokens, 1)
    # Exactly one typical request fits: a batch of one, estimated rather than refused.
    assert estimate_throughput(plan, plan.kv_capacity_tokens - 1, 1).batch_size == 1


# --- replicas for a load -------------------------------------------------------------------------------------------
def test_rps_changes_the_replica_count(prod_plan):
    per_replica = prod_plan["models"][0]["throughput"]["requestsPerSecond"]  # about 40 requests/s
    idle = replicas_for_load(0, per_replica, 2, 8, 10)
    assert (idle.replicas, idle.replicas_needed, idle.exceeds_max_replicas) == (2, 0, False)  # no load needs none
    trickle = replicas_for_load(0.2, per_replica, 0, 8, 10)  # a request every 5 s wakes a model scaled to zero
    assert (trickle.replicas, trickle.replicas_needed) == (1, 1)
    assert replicas_for_load(100, per_replica, 2, 8, 10).replicas == math.ceil(100 / per_replica) == 3
    beyond = replicas_for_load(1000, per_replica, 2, 8, 10)
    assert (beyond.replicas, beyond.replicas_needed, beyond.exceeds_max_replicas) == (8, 25, True)
    assert beyond.queue_wait_seconds_at_threshold == pytest.approx(10 / per_replica)
    with_rps = build_plan("prod", read_stack_config("prod"), rps=100)["models"][0]["scaling"]
    assert (with_rps["replicasForRps"], with_rps["exceedsMaxReplicas"]) == (3, False)


def test_text_plan_says_when_a_load_needs_more_than_max_replicas(capsys):
    """prod runs qwen3-8b with maxReplicas 8 (Pulumi.prod.yaml) at about 40 requests/s per replica (the plan's
    throughput row), so 1000 requests/s needs ceil(1000 / 40.09) = 25 replicas: the text plan caps the load's replicas
    at 8 and names the 25 it would take; 100 requests/s fits (3 replicas, no note)."""
    assert _scaling_row(capsys, "1000").endswith(" 1000 8 (needs 25: above maxReplicas)")
    assert _scaling_row(capsys, "100").endswith(" 100 3")


def _scaling_row(capsys, rps: str) -> str:
    """The text plan's Scaling row of prod's one model under `--rps`, with the column padding collapsed."""
    assert plan_main(["--stack", "prod", "--rps", rps]) == 0
    section = capsys.readouterr().out.split("Scaling:\n", 1)[1].split("\n\n", 1)[0]
    [row] = [" ".join(line.split()) for line in section.splitlines() if line.split()[0] == "qwen3-8b"]
    return row


# --- start-up budget -----------------------------------------------------------------------------------------------
def _seventy_b_config(load_format: str = "runai_streamer") -> dict:
    config = copy.deepcopy(read_stack_config("dev"))
    config["vllm-eks:models"] = [
        dict(config["vllm-eks:models"][0], catalogModel="llama-3.1-70b", instanceType="g6e.12xlarge", maxModelLen=8192,
             loadFormat=load_format)
    ]
    return config


def test_a_70b_model_synced_to_local_disk_over_its_300_s_budget_fails_at_config_load_naming_every_stage():
    """s3-sync: vLLM's safetensors loader reads 141.2 GB from the gp3-backed copy at the published 16.06 GB / 47.99 s."""
    with pytest.raises(Exception) as raised:
        render_config("dev", _seventy_b_config("s3-sync"))
    assert type(raised.value).__name__ == "RunError"
    message = str(raised.value)
    weights = 70.6e9 * 2
    stream = weights / (16.06e9 / 47.99)
    estimate = stream + 94 + 106  # engine init + compile/graph capture (tensorfuse, cold)
    assert "models[0].startupBudgetSeconds: got 300 for qwen3-1-7b (llama-3.1-70b on g6e.12xlarge, s3-sync)" in message
    assert f"estimated start-up of {estimate:.0f} s (weight stream {stream:.0f} s + engine init 94 s + " in message
    assert "compile/graph capture 106 s" in message and "image pull" not in message and "weight copy" not in message
    assert f"set it to {math.ceil(estimate / 60) * 60} or more" in message


def test_the_same_70b_model_streamed_from_s3_fits_300_s_and_a_synced_one_fits_a_larger_budget():
    """runai_streamer: 141.2 GB at the published 3.5 GiB/s (g6e.12xlarge's 100 Gbps network does not cap it)."""
    from vllm_eks.planning.sizing import plan_models

    config = _seventy_b_config()
    streamed = load_stack_config({"models": config["vllm-eks:models"], "edge": config["vllm-eks:edge"], "observability": config["vllm-eks:observability"]})
    estimates = check_startup_budgets(streamed.models, plan_models(streamed.models))
    estimate = estimates["qwen3-1-7b"]
    assert estimate.stage("weight stream").seconds == pytest.approx(141.2e9 / (3.5 * GIB))
    assert estimate.estimate_seconds == pytest.approx(141.2e9 / (3.5 * GIB) + 200)
    assert estimate.pod_start_seconds == pytest.approx(estimate.estimate_seconds + 12.64e9 / (20e9 / 360))
    synced = _seventy_b_config("s3-sync")
    synced["vllm-eks:models"][0]["startupBudgetSeconds"] = 660
    validated = load_stack_config({"models": synced["vllm-eks:models"], "edge": config["vllm-eks:edge"], "observability": config["vllm-eks:observability"]})
    assert check_startup_budgets(validated.models, plan_models(validated.models))["qwen3-1-7b"].within_budget
    over = load_stack_config({"models": _seventy_b_config("s3-sync")["vllm-eks:models"], "edge": config["vllm-eks:edge"], "observability": config["vllm-eks:observability"]})
    with pytest.raises(StartupBudgetError) as raised:
        check_startup_budgets(over.models, plan_models(over.models))
    # A heading, then one indented line per model, each naming its setting.
    heading, *lines = str(raised.value).split("\n")
    assert heading == "start-up budget too short:" and raised.value.problems == [line.removeprefix("  ") for line in lines]
    assert [line[:41] for line in lines] == ["  models[0].startupBudgetSeconds: got 300"]


def test_a_small_instance_network_caps_the_stream():
    """g6.2xlarge has "up to 10 Gbps" (1.25 GB/s), below the streamer's published 3.5 GiB/s."""
    from vllm_eks.planning.startup_time import estimate_startup

    estimate = estimate_startup(4_060_000_000, 300, "g6.2xlarge", "runai_streamer")
    assert estimate.stage("weight stream").seconds == pytest.approx(4.06e9 / 1.25e9)
    assert "capped by the node's network" in estimate.stage("weight stream").basis
    assert [stage.name for stage in estimate.stages] == ["image pull", "weight stream", "engine init", "compile/graph capture"]
    assert [stage.in_probe_budget for stage in estimate.stages] == [False, True, True, True]


# Network bandwidth in Gbps as AWS publishes it per instance type ("Network Bandwidth (Gbps)" on
# aws.amazon.com/ec2/instance-types/g5, /g6, /g6e, /p4, /p5; sizes up to 4xlarge are "up to" burst figures). The fixed
# figures match aws/karpenter-provider-aws pkg/providers/instancetype/zz_generated.bandwidth.go (generated from EC2
# DescribeInstanceTypes, in Mbit/s): g5/g6.12xlarge 40000, g5/g6.48xlarge and g6e.12xlarge 100000, g6e.48xlarge and
# p4d.24xlarge 400000, p5.48xlarge 3200000. (That file lists the burstable sizes by their lower baseline instead.)
# On-demand Linux, us-east-1, the 2026-11 snapshot of https://aws.amazon.com/ec2/pricing/on-demand/ (P4d and P5 after
# the June 2025 reduction, https://aws.amazon.com/about-aws/whats-new/2025/06/pricing-usage-model-ec2-instances-nvidia-gpus/).
# (network Gbps, us-east-1 on-demand $/h) per GPU instance, from the pages above.
PUBLISHED_GPU_INSTANCES = {
    "g5.xlarge": (10, 1.006), "g5.2xlarge": (10, 1.212), "g5.4xlarge": (25, 1.624), "g5.12xlarge": (40, 5.672),
    "g5.48xlarge": (100, 16.288), "g6.xlarge": (10, 0.8048), "g6.2xlarge": (10, 0.9776), "g6.4xlarge": (25, 1.3232),
    "g6.12xlarge": (40, 4.6016), "g6.48xlarge": (100, 13.3504), "g6e.xlarge": (20, 1.861),
    "g6e.2xlarge": (20, 2.24208), "g6e.12xlarge": (100, 10.49264), "g6e.48xlarge": (400, 30.13118),
    "p4d.24xlarge": (400, 21.96), "p5.48xlarge": (3200, 55.04),
}  # fmt: skip


@pytest.mark.parametrize("instance_type", sorted(GPU_INSTANCES))
def test_s3_sync_copies_weights_at_the_published_network_rate(instance_type):
    """The s3-sync init container's copy is bounded by the node's network: 10 GB over N Gbps takes 80 / N seconds."""
    from vllm_eks.planning.startup_time import estimate_startup

    estimate = estimate_startup(10_000_000_000, 900, instance_type, "s3-sync")
    assert estimate.stage("weight copy").seconds == pytest.approx(80 / PUBLISHED_GPU_INSTANCES[instance_type][0])


def test_both_stacks_start_within_their_budget(prod_plan, dev_plan):
    for plan in (prod_plan, dev_plan):
        startup = plan["models"][0]["startup"]
        assert startup["withinBudget"] and startup["estimateSeconds"] < startup["budgetSeconds"] == 300


# --- cost ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("instance_type", sorted(GPU_INSTANCES))
def test_a_us_east_1_gpu_node_costs_its_published_on_demand_price(instance_type):
    """What the plan charges a GPU node in us-east-1 and what `instanceType: auto` ranks by are both the published
    price (a second copy of the page, so an edited catalog value shows here)."""
    from vllm_eks.planning.catalog import REGION_PRICES
    from vllm_eks.planning.cost import gpu_usd_per_hour

    published = PUBLISHED_GPU_INSTANCES[instance_type][1]
    assert gpu_usd_per_hour(REGION_PRICES["us-east-1"], "us-east-1", instance_type) == published
    assert GPU_INSTANCES[instance_type].on_demand_usd_per_hour == published


def test_cost_splits_on_demand_baseline_and_spot_burst(prod_plan):
    cost = prod_plan["models"][0]["cost"]
    price = 5.672  # g5.12xlarge, us-east-1 (PUBLISHED_GPU_INSTANCES)
    assert cost["atMinReplicas"] == {"replicas": 2, "onDemand": 2, "spot": 0, "usdPerHour": pytest.approx(2 * price)}
    assert cost["atMaxReplicas"] == {
        "replicas": 8, "onDemand": 2, "spot": 6, "usdPerHour": pytest.approx(2 * price + 6 * price * (1 - 0.5))
    }
    assert replica_split("on-demand", 8, 2) == (8, 0)
    assert replica_split("spot", 8, 2) == (0, 8)
    assert replica_split("on-demand-with-spot-burst", 1, 2) == (1, 0)


def test_price_per_million_output_tokens_follows_throughput_and_utilisation(prod_plan):
    model = prod_plan["models"][0]
    tokens_per_hour = model["throughput"]["decodeTokensPerSecond"] * 3600 * 0.5
    edge = (3.50 + 0.60 + 1.00) / 256  # per-request charges spread over one request's output tokens (per million)
    assert model["cost"]["edgeUsdPerMillionOutputTokens"] == pytest.approx(edge)
    assert model["cost"]["usdPerMillionOutputTokensOnDemand"] == pytest.approx(5.672 / tokens_per_hour * 1e6 + edge)


def test_hosted_api_price_and_spot_discount_come_from_config():
    config = copy.deepcopy(read_stack_config("prod"))
    config["vllm-eks:plan"] = {"hostedApiUsdPerMillionOutputTokens": 0.4, "spotDiscount": 0.7}
    cost = build_plan("prod", config)["models"][0]["cost"]
    assert cost["hostedApiUsdPerMillionOutputTokens"] == 0.4
    assert cost["instanceUsdPerHourSpot"] == pytest.approx(5.672 * 0.3)


def test_fixed_costs_follow_the_stack_config(prod_plan, dev_plan):
    prod = {item["item"]: item for item in prod_plan["totals"]["fixedCosts"]}
    assert prod["NAT gateways"]["quantity"] == 3 and prod["NAT gateways"]["usdPerHour"] == pytest.approx(3 * 0.045)
    assert prod["interface endpoints (per AZ)"]["quantity"] == 5 * 3
    assert prod["system nodes (m7i.xlarge, desired size)"]["usdPerHour"] == pytest.approx(3 * 0.2016)
    # One cluster at $0.10 per cluster per hour (Amazon EKS pricing, standard support).
    assert prod["EKS control plane (standard support)"]["quantity"] == 1
    assert prod["EKS control plane (standard support)"]["usdPerHour"] == 0.10
    assert prod["WAF web ACL + 6 rules"]["usdPerHour"] == pytest.approx((5 + 6) / HOURS_PER_MONTH)
    assert [(item["item"], item["quantity"], item["unit"]) for item in prod_plan["totals"]["fixedCosts"]] == [
        ("EKS control plane (standard support)", 1, "cluster"), ("NAT gateways", 3, "gateway"),
        ("interface endpoints (per AZ)", 15, "endpoint-AZ"), ("system nodes (m7i.xlarge, desired size)", 3, "node"),
        ("internal ALB (hourly, LCUs extra)", 1, "load balancer"), ("WAF web ACL + 6 rules", 1, "web ACL"),
        ("KMS customer managed keys", 2, "key"), ("Secrets Manager secrets", 4, "secret")]
    assert prod["Secrets Manager secrets"]["quantity"] == 1 + 2 + 1  # internal key, two consumers, origin-verify
    assert "CloudFront HTTPS requests" in prod_plan["totals"]["perRequestUsdPerMillion"]
    dev = {item["item"]: item for item in dev_plan["totals"]["fixedCosts"]}
    assert dev["NAT gateways"]["quantity"] == 1 and dev["interface endpoints (per AZ)"]["quantity"] == 3 * 2
    assert "CloudFront HTTPS requests" in dev_plan["totals"]["perRequestUsdPerMillion"]
    without_cloudfront = copy.deepcopy(read_stack_config("dev"))
    without_cloudfront["vllm-eks:edge"] = {"cloudfront": False, "consumers": [{"name": "a", "requestsPerSecond": 1, "burst": 1}]}
    assert "CloudFront HTTPS requests" not in build_plan("dev", without_cloudfront)["totals"]["perRequestUsdPerMillion"]


def test_us_east_1_per_request_and_usage_rates_are_the_published_prices(prod_plan):
    """AWS pricing pages for us-east-1 (API Gateway REST: first 333 M requests; AWS WAF per million requests;
    CloudFront HTTPS requests and first 10 TB out, North America; NAT gateway and PrivateLink data processed; ALB
    LCU-hour), as vllm_eks/planning/catalog.py REGION_PRICES records them."""
    totals = prod_plan["totals"]
    assert totals["perRequestUsdPerMillion"] == {"API Gateway REST": 3.5, "WAF": 0.6, "CloudFront HTTPS requests": 1.0}
    assert totals["usageRatesNotIncluded"] == {
        "NAT gateway data processed": "$0.045/GB", "interface endpoint data processed": "$0.01/GB",
        "ALB capacity units": "$0.008/LCU-hour", "CloudFront data transfer out": "$0.085/GB"}
    assert totals["schedule"] == {"workingHours": None, "windowHoursPerWeek": None, "windowHoursPerMonth": None,
                                  "hoursPerMonth": 730}


def test_priced_resource_counts_match_the_rendered_prod_stack(prod_plan, prod_snapshot):
    fixed = {item["item"]: item["quantity"] for item in prod_plan["totals"]["fixedCosts"]}
    assert len(resources_of(prod_snapshot, "aws:ec2/natGateway:NatGateway")) == fixed["NAT gateways"]
    assert len(resources_of(prod_snapshot, "aws:kms/key:Key")) == fixed["KMS customer managed keys"]
    interface = [
        r for r in resources_of(prod_snapshot, "aws:ec2/vpcEndpoint:VpcEndpoint") if r["props"].get("vpcEndpointType") == "Interface"
    ]
    assert sum(len(r["props"]["subnetIds"]) for r in interface) == fixed["interface endpoints (per AZ)"]
    assert len(resources_of(prod_snapshot, "aws:secretsmanager/secret:Secret")) == fixed["Secrets Manager secrets"]
    assert len(resources_of(prod_snapshot, "aws:lb/loadBalancer:LoadBalancer")) == fixed["internal ALB (hourly, LCUs extra)"]


def test_a_region_without_prices_is_an_error_naming_it():
    config = copy.deepcopy(read_stack_config("prod"))
    config["aws:region"] = "eu-west-1"
    with pytest.raises(CostError, match="aws:region: got 'eu-west-1', expected a region in the price table"):
        build_plan("prod", config)


# --- schedule ------------------------------------------------------------------------------------------------------
def test_dev_monthly_hours_follow_its_working_hours_window(dev_plan):
    schedule = dev_plan["totals"]["schedule"]
    assert schedule["windowHoursPerWeek"] == 11 * 5  # 08:00-19:00, Monday to Friday
    assert schedule["windowHoursPerMonth"] == pytest.approx(55 * 730 / 168)
    cost = dev_plan["models"][0]["cost"]
    assert cost["atMinReplicas"]["usdPerHour"] == 0  # scaled to zero outside the window
    assert cost["inWorkingHours"]["replicas"] == 1  # the on-demand baseline the cron trigger holds
    assert cost["usdPerMonth"] == pytest.approx(55 * 730 / 168 * PUBLISHED_GPU_INSTANCES["g6.2xlarge"][1])
    fixed = dev_plan["totals"]["fixedUsdPerHour"]
    assert dev_plan["totals"]["usdPerMonth"] == pytest.approx(fixed * 730 + cost["usdPerMonth"])


def test_window_hours_count_overnight_and_listed_days():
    assert window_hours_per_week("0 22 * * *", "0 6 * * *") == 8 * 7
    assert window_hours_per_week("30 9 * * 1,3", "0 12 * * 1,3") == 2.5 * 2
    with pytest.raises(CostError, match="weekly cron"):
        window_hours_per_week("0 8 1 * *", "0 19 1 * *")


def test_a_star_minute_fires_from_minute_zero():
    """An asterisk stands for "first-last" of the field, and minutes run 0-59 (crontab(5)): `* 8 * * 1` first fires
    at 8:00, so on from then until 9:00 is one hour; an end of `* 9 * * 1` first fires at 9:00, also one hour."""
    assert window_hours_per_week("* 8 * * 1", "0 9 * * 1") == 1
    assert window_hours_per_week("0 8 * * 1", "* 9 * * 1") == 1


# --- output formats ------------------------------------------------------------------------------------------------
def test_json_output_validates_against_the_schema_in_the_repo(capsys):
    schema = json.loads((ROOT / "preflight" / "plan_schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    for stack, extra in (("prod", []), ("dev", ["--rps", "12"])):
        assert plan_main(["--stack", stack, "--json", *extra]) == 0
        document = json.loads(capsys.readouterr().out)
        jsonschema.Draft202012Validator(schema).validate(document)
        assert document["stack"] == stack and document["models"]


def markdown_structure(markdown: str) -> str:
    """Headings, table headers and one placeholder row per data row: the shape, not the prices."""
    lines = markdown.splitlines()
    shape = []
    for index, line in enumerate(lines):
        if line.startswith("#") or not line:
            shape.append(line)
        elif line.startswith("| ---") or (index + 1 < len(lines) and lines[index + 1].startswith("| ---")):
            shape.append(line)  # a header row and its separator
        elif line.startswith("|"):
            cells = line.strip("|").split(" | ")
            shape.append("| " + " | ".join("." for _ in cells) + " |")
        else:
            shape.append(line.split(":")[0])
    return "\n".join(shape) + "\n"


def test_markdown_output_is_tables_with_the_golden_structure(capsys):
    assert plan_main(["--stack", "prod", "--markdown"]) == 0
    markdown = capsys.readouterr().out
    tables = [block for block in markdown.split("\n\n") if block.startswith("|")]
    assert len(tables) == 8
    for table in tables:
        rows = table.strip().splitlines()
        widths = {len(row.strip("|").split(" | ")) for row in rows}
        assert len(widths) == 1 and rows[1].startswith("| --- |") and len(rows) >= 3
    assert markdown_structure(markdown) == GOLDEN.read_text()


def test_text_output_is_the_default_and_names_every_section(capsys):
    assert plan_main(["--stack", "dev"]) == 0
    text = capsys.readouterr().out
    for section in ("Fit:", "Throughput (roofline estimate, an upper bound):", "Start-up:", "Start-up stages:",
                    "Cost per model:", "Stack totals:"):
        assert section in text


def test_ci_posts_the_markdown_plan_of_each_stack_to_the_job_summary():
    workflow = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    assert "for stack in dev prod" in workflow
    assert 'python -m preflight plan --stack "$stack" --markdown >> "$GITHUB_STEP_SUMMARY"' in workflow


def test_plan_of_models_over_their_budget_exits_1_naming_each(tmp_path, capsys):
    """`preflight plan` prints the plan, then names every model whose start-up estimate exceeds its budget."""
    config = _seventy_b_config("s3-sync")
    model = config["vllm-eks:models"][0]
    config["vllm-eks:models"] = [dict(model, name="big-a", servedName="big-a"), dict(model, name="big-b", servedName="big-b")]
    stack_file = tmp_path / "Pulumi.over.yaml"
    stack_file.write_text(json.dumps({"config": config}))  # JSON is YAML
    assert plan_main(["--stack-file", str(stack_file), "--json"]) == 1
    captured = capsys.readouterr()
    assert [m["startup"]["withinBudget"] for m in json.loads(captured.out)["models"]] == [False, False]
    assert captured.err.strip() == "error: start-up estimate exceeds startupBudgetSeconds for big-a, big-b"


def test_a_pipe_inside_a_markdown_cell_is_escaped():
    """GitHub Flavored Markdown spec, "Tables (extension)": a pipe in a cell's content is escaped as `\\|`, or it
    would split the cell."""
    from preflight.plan_cli import _markdown_row

    assert _markdown_row(["g5.xlarge | g6.xlarge", "2"]) == "| g5.xlarge \\| g6.xlarge | 2 |"


def test_the_start_up_budget_error_lists_each_model_on_its_own_line():
    """One heading, then one indented line per model that does not fit (the shape `preflight render` prints)."""
    error = StartupBudgetError(["models[0].startupBudgetSeconds: got 300, a", "models[1].startupBudgetSeconds: got 300, b"])
    assert str(error) == ("start-up budget too short:\n  models[0].startupBudgetSeconds: got 300, a\n"
                          "  models[1].startupBudgetSeconds: got 300, b")
