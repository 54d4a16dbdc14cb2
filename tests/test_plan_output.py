"""`preflight plan`'s text and Markdown renderings, stated whole for a hand-built plan: every heading, column, number
format and side branch (a published benchmark or none, a load above maxReplicas, no load, a model over its budget,
a working-hours window or none, a hosted-API price or none). The figures are made up; the format is the contract
(a reader compares the tables across stacks and pull requests, so a changed column or rounding is a changed interface).
"""

from __future__ import annotations

import copy

import pytest

from preflight.plan_cli import render_markdown, render_text

PLAN = {
    "stack": "demo", "region": "us-east-1", "priceSnapshot": "2026-11-30",
    "assumptions": {"typicalPromptTokens": 1000, "typicalOutputTokens": 250, "utilisation": 0.5, "spotDiscount": 0.6,
                    "spotDiscountSource": "spot advisor", "throughputMethod": "roofline", "rps": 3.0},
    "models": [
        {"name": "chat",
         "fit": {"instanceType": "g5.12xlarge", "gpus": 4, "gpuModel": "A10G", "tensorParallelSize": 4, "weightGiB": 15.256,
                 "kvBytesPerToken": 147456, "kvCapacityTokens": 123456, "maxConcurrentSequencesAtMaxModelLen": 3,
                 "maxModelLen": 32768, "maxConcurrentSequencesAtTypicalRequest": 98},
         "throughput": {"batchSize": 98, "decodeTokensPerSecond": 4321.6, "singleStreamTokensPerSecond": 44.06,
                        "requestsPerSecond": 17.286, "publishedBenchmark": None},
         "scaling": {"minReplicas": 1, "maxReplicas": 2, "queueThresholdPerReplica": 8, "queueWaitSecondsAtThreshold": 0.46,
                     "rps": 3.0, "replicasForRps": 2, "replicasNeededForRps": 3, "exceedsMaxReplicas": True},
         "startup": {"loadFormat": "runai_streamer", "estimateSeconds": 101.4, "budgetSeconds": 300, "withinBudget": True,
                     "podStartSeconds": 222.6,
                     "stages": [{"name": "node", "seconds": 120.2, "inProbeBudget": False, "basis": "Karpenter"},
                                {"name": "load", "seconds": 40.5, "inProbeBudget": True, "basis": "S3 stream"}]},
         "cost": {"capacityType": "mixed", "atMinReplicas": {"usdPerHour": 5.672, "onDemand": 1, "spot": 0},
                  "atMaxReplicas": {"usdPerHour": 7.94, "onDemand": 1, "spot": 1}, "usdPerMonth": 4140.56,
                  "usdPerMillionOutputTokensOnDemand": 0.72914, "usdPerMillionOutputTokensSpot": 0.2917,
                  "hostedApiUsdPerMillionOutputTokens": None}},
        {"name": "big|one",
         "fit": {"instanceType": "p4d.24xlarge", "gpus": 8, "gpuModel": "A100-40GB", "tensorParallelSize": 8, "weightGiB": 131.5,
                 "kvBytesPerToken": 327680, "kvCapacityTokens": 1000000, "maxConcurrentSequencesAtMaxModelLen": 7,
                 "maxModelLen": 131072, "maxConcurrentSequencesAtTypicalRequest": 800},
         "throughput": {"batchSize": 256, "decodeTokensPerSecond": 12345.4, "singleStreamTokensPerSecond": 20.04,
                        "requestsPerSecond": 49.381,
                        "publishedBenchmark": {"outputTokensPerSecond": 9876.5, "concurrency": 64, "source": "vendor page"}},
         "scaling": {"minReplicas": 0, "maxReplicas": 4, "queueThresholdPerReplica": 16, "queueWaitSecondsAtThreshold": 0.32,
                     "rps": None, "replicasForRps": None, "replicasNeededForRps": None, "exceedsMaxReplicas": None},
         "startup": {"loadFormat": "s3-sync", "estimateSeconds": 612.5, "budgetSeconds": 600, "withinBudget": False,
                     "podStartSeconds": 900.4, "stages": []},
         "cost": {"capacityType": "spot", "atMinReplicas": {"usdPerHour": 0.0, "onDemand": 0, "spot": 0},
                  "atMaxReplicas": {"usdPerHour": 52.5, "onDemand": 0, "spot": 4}, "usdPerMonth": 12345.6,
                  "usdPerMillionOutputTokensOnDemand": 1.2345, "usdPerMillionOutputTokensSpot": 0.5,
                  "hostedApiUsdPerMillionOutputTokens": 2.5}},
    ],
    "totals": {
        "fixedCosts": [{"item": "EKS control plane", "quantity": 1, "unit": "cluster", "usdPerHour": 0.1},
                       {"item": "NAT gateway", "quantity": 1.5, "unit": "gateway", "usdPerHour": 0.0675}],
        "fixedUsdPerHour": 0.1675, "usdPerHourAtMinReplicas": 5.8395, "usdPerHourAtMaxReplicas": 60.6075,
        "schedule": {"workingHours": {"timezone": "Europe/Berlin", "start": "0 8 * * 1-5", "end": "0 18 * * 1-5"},
                     "windowHoursPerWeek": 50.0, "windowHoursPerMonth": 217.3, "hoursPerMonth": 730},
        "usdPerMonth": 16608.4, "usdPerMonthAtMaxReplicas": 44243.5,
        "perRequestUsdPerMillion": {"API Gateway": 3.5, "WAF": 0.6},
        "usageRatesNotIncluded": {"CloudFront": "0.085 $/GB", "NAT": "0.045 $/GB"},
    },
}


TEXT = (
    'plan for stack demo (us-east-1, prices 2026-11-30)\n'
    '\n'
    'Fit:\n'
    '  model    instance      GPUs          TP  weights GiB  KV bytes/token  KV capacity tokens  seqs at maxModelLen  seqs at typical request\n'
    '  chat     g5.12xlarge   4x A10G       4   15.26        147,456         123,456             3 at 32,768          98\n'
    '  big|one  p4d.24xlarge  8x A100-40GB  8   131.50       327,680         1,000,000           7 at 131,072         800\n'
    '\n'
    'Throughput (roofline estimate, an upper bound):\n'
    '  model    batch  decode tokens/s  single-stream tokens/s  requests/s  published benchmark\n'
    '  chat     98     4,322            44.1                    17.29       none published for this model and instance\n'
    '  big|one  256    12,345           20.0                    49.38       9,876 at concurrency 64 (vendor page)\n'
    '\n'
    'Scaling:\n'
    '  model    min  max  queue threshold  queue wait at threshold s  load rps  replicas for load\n'
    '  chat     1    2    8                0.5                        3         2 (needs 3: above maxReplicas)\n'
    '  big|one  0    4    16               0.3                        -         - (pass --rps)\n'
    '\n'
    'Start-up:\n'
    '  model    load format     in probe budget s  budget s  verdict         pod start on a fresh node s\n'
    '  chat     runai_streamer  101                300       fits            223\n'
    '  big|one  s3-sync         612                600       EXCEEDS BUDGET  900\n'
    '\n'
    'Start-up stages:\n'
    '  model  stage  s    in probe budget                   basis\n'
    '  chat   node   120  no (before the container starts)  Karpenter\n'
    '  chat   load   40   yes                               S3 stream\n'
    '\n'
    'Cost per model:\n'
    '  model    capacity  $/h at min                   $/h at max                    $/month (schedule)  $/M output tokens on-demand  $/M output tokens Spot  hosted API $/M\n'
    '  chat     mixed     5.67 (1 on-demand + 0 Spot)  7.94 (1 on-demand + 1 Spot)   4,141               0.729                        0.292                   -\n'
    '  big|one  spot      0.00 (0 on-demand + 0 Spot)  52.50 (0 on-demand + 4 Spot)  12,346              1.234                        0.500                   2.500\n'
    '\n'
    'Stack fixed costs:\n'
    '  item               quantity  $/h     $/month\n'
    '  EKS control plane  1         0.1000  73.00\n'
    '  NAT gateway        1.5       0.0675  49.28\n'
    '\n'
    'Stack totals:\n'
    '  figure                             value\n'
    '  fixed $/h                          0.17\n'
    '  $/h at min replicas                5.84\n'
    '  $/h at max replicas                60.61\n'
    '  schedule                           50 h/week (0 8 * * 1-5 to 0 18 * * 1-5, Europe/Berlin)\n'
    '  $/month under the schedule         16,608\n'
    '  $/month at max replicas all month  44,244\n'
    '  per-request charges $/M requests   API Gateway 3.50, WAF 0.60\n'
    '  not included (traffic volume)      CloudFront 0.085 $/GB, NAT 0.045 $/GB\n'
    '\n'
    'assumptions:\n'
    '  typical request: 1000 prompt + 250 output tokens\n'
    '  utilisation for $/M tokens: 0.5\n'
    '  Spot discount: 0.6 (spot advisor)\n'
    '  throughput: roofline'
)

MARKDOWN_ALWAYS_ON = (
    '## Plan for stack `demo` (us-east-1, prices 2026-11-30)\n'
    '\n'
    '### Fit\n'
    '\n'
    '| model | instance | GPUs | TP | weights GiB | KV bytes/token | KV capacity tokens | seqs at maxModelLen | seqs at typical request |\n'
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n'
    '| chat | g5.12xlarge | 4x A10G | 4 | 15.26 | 147,456 | 123,456 | 3 at 32,768 | 98 |\n'
    '| big\\|one | p4d.24xlarge | 8x A100-40GB | 8 | 131.50 | 327,680 | 1,000,000 | 7 at 131,072 | 800 |\n'
    '\n'
    '### Throughput (roofline estimate, an upper bound)\n'
    '\n'
    '| model | batch | decode tokens/s | single-stream tokens/s | requests/s | published benchmark |\n'
    '| --- | --- | --- | --- | --- | --- |\n'
    '| chat | 98 | 4,322 | 44.1 | 17.29 | none published for this model and instance |\n'
    '| big\\|one | 256 | 12,345 | 20.0 | 49.38 | 9,876 at concurrency 64 (vendor page) |\n'
    '\n'
    '### Scaling\n'
    '\n'
    '| model | min | max | queue threshold | queue wait at threshold s | load rps | replicas for load |\n'
    '| --- | --- | --- | --- | --- | --- | --- |\n'
    '| chat | 1 | 2 | 8 | 0.5 | 3 | 2 (needs 3: above maxReplicas) |\n'
    '| big\\|one | 0 | 4 | 16 | 0.3 | - | - (pass --rps) |\n'
    '\n'
    '### Start-up\n'
    '\n'
    '| model | load format | in probe budget s | budget s | verdict | pod start on a fresh node s |\n'
    '| --- | --- | --- | --- | --- | --- |\n'
    '| chat | runai_streamer | 101 | 300 | fits | 223 |\n'
    '| big\\|one | s3-sync | 612 | 600 | EXCEEDS BUDGET | 900 |\n'
    '\n'
    '### Start-up stages\n'
    '\n'
    '| model | stage | s | in probe budget | basis |\n'
    '| --- | --- | --- | --- | --- |\n'
    '| chat | node | 120 | no (before the container starts) | Karpenter |\n'
    '| chat | load | 40 | yes | S3 stream |\n'
    '\n'
    '### Cost per model\n'
    '\n'
    '| model | capacity | $/h at min | $/h at max | $/month (schedule) | $/M output tokens on-demand | $/M output tokens Spot | hosted API $/M |\n'
    '| --- | --- | --- | --- | --- | --- | --- | --- |\n'
    '| chat | mixed | 5.67 (1 on-demand + 0 Spot) | 7.94 (1 on-demand + 1 Spot) | 4,141 | 0.729 | 0.292 | - |\n'
    '| big\\|one | spot | 0.00 (0 on-demand + 0 Spot) | 52.50 (0 on-demand + 4 Spot) | 12,346 | 1.234 | 0.500 | 2.500 |\n'
    '\n'
    '### Stack fixed costs\n'
    '\n'
    '| item | quantity | $/h | $/month |\n'
    '| --- | --- | --- | --- |\n'
    '| EKS control plane | 1 | 0.1000 | 73.00 |\n'
    '| NAT gateway | 1.5 | 0.0675 | 49.28 |\n'
    '\n'
    '### Stack totals\n'
    '\n'
    '| figure | value |\n'
    '| --- | --- |\n'
    '| fixed $/h | 0.17 |\n'
    '| $/h at min replicas | 5.84 |\n'
    '| $/h at max replicas | 60.61 |\n'
    '| schedule | always on (no working hours) |\n'
    '| $/month under the schedule | 16,608 |\n'
    '| $/month at max replicas all month | 44,244 |\n'
    '| per-request charges $/M requests | API Gateway 3.50, WAF 0.60 |\n'
    '| not included (traffic volume) | CloudFront 0.085 $/GB, NAT 0.045 $/GB |\n'
    '\n'
    '### Assumptions\n'
    '\n'
    '- typical request: 1000 prompt + 250 output tokens\n'
    '- utilisation for $/M tokens: 0.5\n'
    '- Spot discount: 0.6 (spot advisor)\n'
    '- throughput: roofline'
)


def test_the_text_plan_is_every_table_with_its_columns_and_number_formats():
    assert render_text(PLAN) == TEXT


def test_the_markdown_plan_is_the_same_tables_escaped_and_says_always_on_without_working_hours():
    """GitHub Flavored Markdown spec, "Tables (extension)": a header row, a `---` delimiter row, and a pipe inside a
    cell escaped as `\\|`."""
    plan = copy.deepcopy(PLAN)
    plan["totals"]["schedule"]["workingHours"] = None
    assert render_markdown(plan) == MARKDOWN_ALWAYS_ON


def test_rps_below_zero_is_refused_naming_the_flag_and_zero_is_accepted(capsys):
    """argparse's `parser.error` exits 2 with the usage line and the message (Python docs, argparse)."""
    from preflight.plan_cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--stack", "dev", "--rps", "-0.5"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "python -m preflight plan: error: --rps: got -0.5, expected a number >= 0")
    assert main(["--stack", "dev", "--rps", "0", "--json"]) == 0
    capsys.readouterr()


def test_a_config_the_stack_would_reject_exits_2_with_the_error(tmp_path, capsys):
    from preflight.plan_cli import main

    stack_file = tmp_path / "Pulumi.bad.yaml"
    stack_file.write_text('{"config": {"aws:region": "us-east-1", "vllm-eks:models": "not-a-list"}}')
    assert main(["--stack-file", str(stack_file)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("error: ") and "models" in captured.err


def test_a_published_benchmark_for_the_model_and_instance_is_shown_beside_the_estimate(monkeypatch):
    """`vllm_eks/planning/catalog.py` PUBLISHED_DECODE_BENCHMARKS holds none today; when a measurement on the exact
    model and instance is added, the plan carries its rate, concurrency and source."""
    from preflight.plan import build_plan
    from preflight.render import read_stack_config
    from vllm_eks.planning import catalog

    prod = read_stack_config("prod")
    plain = build_plan("prod", prod)
    model = plain["models"][0]
    assert model["throughput"]["publishedBenchmark"] is None
    key = (model["catalogModel"], model["fit"]["instanceType"])
    monkeypatch.setitem(catalog.PUBLISHED_DECODE_BENCHMARKS, key,
                        catalog.PublishedBenchmark(1234.5, 32, 1000, 250, "a vendor page"))
    published = build_plan("prod", prod)["models"][0]["throughput"]["publishedBenchmark"]
    assert published == {"outputTokensPerSecond": 1234.5, "concurrency": 32, "source": "a vendor page"}


def test_the_plans_fit_and_throughput_figures_are_in_the_documented_units():
    """prod's qwen3-8b on g5.12xlarge: A10G at 600 GB/s (NVIDIA data sheet), g5.12xlarge $5.672/h (catalog, us-east-1)."""
    from preflight.plan import build_plan
    from preflight.render import read_stack_config
    from vllm_eks.planning.sizing import GIB

    model = build_plan("prod", read_stack_config("prod"))["models"][0]
    assert model["throughput"]["gpuMemoryBandwidthGBps"] == 600.0
    assert model["fit"]["kvCacheGiBPerGpu"] == (22_214_879_477 - 4_095_000_000 - 2 * GIB) / GIB
    assert model["cost"]["instanceUsdPerHourOnDemand"] == 5.672


def test_devs_cost_per_model_stated_whole():
    """dev (Pulumi.dev.yaml): qwen3-1.7b on g6.2xlarge ($0.9776/h on-demand, us-east-1), 0 to 2 replicas, one on-demand
    and Spot bursting at the default 0.5 discount, held at one replica in the 55 h/week window (KEDA cron trigger);
    the edge's per-request charges ($3.50 API Gateway + $0.60 WAF + $1.00 CloudFront per million) spread over 256
    output tokens per request."""
    from preflight.plan import build_plan
    from preflight.render import read_stack_config

    cost = build_plan("dev", read_stack_config("dev"))["models"][0]["cost"]
    on_demand_per_million, spot_per_million = cost.pop("usdPerMillionOutputTokensOnDemand"), cost.pop("usdPerMillionOutputTokensSpot")
    assert cost == {
        "capacityType": "on-demand-with-spot-burst", "onDemandReplicas": 1, "instanceUsdPerHourOnDemand": 0.9776,
        "instanceUsdPerHourSpot": 0.4888,
        "atMinReplicas": {"replicas": 0, "onDemand": 0, "spot": 0, "usdPerHour": 0.0},
        "atMaxReplicas": {"replicas": 2, "onDemand": 1, "spot": 1, "usdPerHour": pytest.approx(1.4664)},
        "inWorkingHours": {"replicas": 1, "onDemand": 1, "spot": 0, "usdPerHour": 0.9776},
        "usdPerMonth": pytest.approx(55 * 730 / 168 * 0.9776), "edgeUsdPerMillionOutputTokens": 5.1 / 256,
        "hostedApiUsdPerMillionOutputTokens": None}
    assert on_demand_per_million - 5.1 / 256 == pytest.approx(2 * (spot_per_million - 5.1 / 256))  # Spot at half price
