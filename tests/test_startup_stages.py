"""Start-up stages stated whole, each figure computed by hand from the catalog's published rates (catalog.py
"Start-up stages": 12.64 GB image at 20 GB / 6 min; Run:ai streamer 3.5 GiB/s from S3, capped by the instance's
network (EC2 instance type pages: g5.12xlarge 40 Gbps, g6.2xlarge 10 Gbps); gp3 safetensors 16.06 GB in 47.99 s;
engine init 94 s, compile + graph capture 10 + 42 + 54 s)."""

from __future__ import annotations

import pytest

from vllm_eks.planning.catalog import IMAGE_PULL_SOURCE, LOCAL_GP3_SAFETENSORS_SOURCE, RUNAI_STREAMER_S3_SOURCE
from vllm_eks.planning.startup_time import (
    ENGINE_SOURCE,
    StartupBudgetError,
    StartupStage,
    check_startup_budgets,
    estimate_startup,
)
from test_sizing import _model

WEIGHTS = 16_380_000_000  # qwen3-8b in bf16: 8.19e9 x 2
PULL = StartupStage("image pull", 227.52, f"12.6 GB image at 56 MB/s: {IMAGE_PULL_SOURCE}", False)
INIT = StartupStage("engine init", 94, f"imports, engine and KV cache set-up: {ENGINE_SOURCE}", True)
COMPILE = StartupStage("compile/graph capture", 106, f"torch.compile 10 + 42 s, CUDA graph capture 54 s: {ENGINE_SOURCE}", True)


def _rounded(stages):
    return [(s.name, round(s.seconds, 3), s.basis, s.in_probe_budget) for s in stages]


def test_the_streamer_reads_at_its_s3_rate_where_the_network_is_faster():
    estimate = estimate_startup(WEIGHTS, 300, "g5.12xlarge", "runai_streamer")
    stream = ("weight stream", round(16.38e9 / (3.5 * 2**30), 3), f"16.4 GB at 3.76 GB/s: {RUNAI_STREAMER_S3_SOURCE}", True)
    assert _rounded(estimate.stages) == _rounded([PULL]) + [stream] + _rounded([INIT, COMPILE])
    assert estimate.estimate_seconds == pytest.approx(4.359 + 94 + 106, abs=1e-3)
    assert estimate.pod_start_seconds == pytest.approx(227.52 + 4.359 + 200, abs=1e-3)
    assert estimate.within_budget and estimate.budget_seconds == 300 and estimate.weight_bytes == WEIGHTS
    assert estimate.stage("engine init") == INIT


def test_the_streamer_is_capped_by_a_slower_network_and_s3_sync_copies_then_reads_from_gp3():
    from vllm_eks.planning.startup_time import network_bytes_per_second

    assert (network_bytes_per_second("g6.2xlarge"), network_bytes_per_second("p5.48xlarge")) == (1.25e9, 400e9)  # Gbps / 8
    capped = estimate_startup(WEIGHTS, 300, "g6.2xlarge", "runai_streamer")
    assert _rounded(capped.stages)[1] == (
        "weight stream", 13.104, f"16.4 GB at 1.25 GB/s (capped by the node's network): {RUNAI_STREAMER_S3_SOURCE}", True)
    synced = estimate_startup(WEIGHTS, 300, "g6.2xlarge", "s3-sync")
    assert _rounded(synced.stages) == _rounded([PULL]) + [
        ("weight copy", 13.104, "16.4 GB at the node's 1.25 GB/s network (init container; a lower bound)", False),
        ("weight stream", round(16.38e9 * 47.99 / 16.06e9, 3), f"16.4 GB at 0.33 GB/s: {LOCAL_GP3_SAFETENSORS_SOURCE}", True),
    ] + _rounded([INIT, COMPILE])
    assert synced.estimate_seconds == pytest.approx(16.38e9 * 47.99 / 16.06e9 + 200)


def test_an_estimate_exactly_at_the_budget_fits_and_one_second_over_does_not():
    exact = estimate_startup(0, 200, "g5.12xlarge", "runai_streamer")  # no weights: engine init + compile = 200 s
    assert exact.estimate_seconds == 200 and exact.within_budget
    assert not estimate_startup(0, 199, "g5.12xlarge", "runai_streamer").within_budget


def test_a_budget_too_short_names_each_in_budget_stage_and_the_minute_to_set():
    from vllm_eks.planning.sizing import plan_models

    model = _model(name="big", catalogModel="llama-3.1-70b", instanceType="g6e.12xlarge", maxModelLen=8192,
                   loadFormat="s3-sync", startupBudgetSeconds=300)
    plans = plan_models([model])
    with pytest.raises(StartupBudgetError) as raised:
        check_startup_budgets([model], plans, indices=[2])
    # 141.2e9 B from gp3 at 16.06e9/47.99 B/s = 421.9 s, + 94 + 106 = 621.9 s -> 660 (whole minutes up)
    assert raised.value.problems == [
        "models[2].startupBudgetSeconds: got 300 for big (llama-3.1-70b on g6e.12xlarge, s3-sync), expected at least the "
        "estimated start-up of 622 s (weight stream 422 s + engine init 94 s + compile/graph capture 106 s; 141.2 GB of "
        "weights): set it to 660 or more, use runai_streamer, or quantize the model"]
    assert str(raised.value).startswith("start-up budget too short:\n  models[2].startupBudgetSeconds")
    fine = check_startup_budgets([model.model_copy(update={"startup_budget_seconds": 660})], plans)
    assert list(fine) == ["big"] and fine["big"].within_budget


def test_the_basis_counts_decimal_gigabytes_of_exactly_1e9_bytes():
    """The basis says GB, the SI gigabyte of 10^9 bytes (NIST, "Prefixes for binary multiples": giga = 10^9, gibi =
    2^30). 16,049,999,990 bytes are 16.04999999 GB, one decimal 16.0; a gigabyte a byte short would make it 16.05 and
    round up to 16.1."""
    estimate = estimate_startup(16_049_999_990, 300, "g5.12xlarge", "runai_streamer")
    assert estimate.stage("weight stream").basis == f"16.0 GB at 3.76 GB/s: {RUNAI_STREAMER_S3_SOURCE}"
