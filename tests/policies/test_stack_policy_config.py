"""policies/config/<stack>.json: the CLI accepts it, prod makes every policy mandatory unless a reason says why not,
its thresholds are the stack's own, and `preflight check` picks it, prints the reasons and refuses a silent lowering.

Format and validation: pulumi/pulumi pkg/resource/analyzer/config.go (what preflight.policy_config mirrors).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from preflight.policy_config import load_policy_pack_config, reconcile
from preflight.render import read_stack_config
from preflight.stack_policy_config import default_config_path, format_lowerings, lowerings, unexplained

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "policies" / "config"
COST_AND_OPERATIONS = {"vllm-keda-autoscaling", "gpu-on-demand-pool", "s3-gateway-endpoint", "vllm-ttft-alert",
                       "eks-control-plane-logging"}


def _reconciled(pack, stack):
    config, environments = load_policy_pack_config(CONFIG / f"{stack}.json")
    assert environments == []
    return config, reconcile(pack.policies(), pack.initial_config(), config)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_config_file_is_accepted_and_picked_by_default(pack, stack):
    _reconciled(pack, stack)  # raises PolicyConfigError where the CLI would refuse the file
    assert default_config_path(stack) == CONFIG / f"{stack}.json"
    assert default_config_path("test") is None


def test_prod_makes_every_policy_mandatory_unless_a_reason_says_why(pack):
    config, reconciled = _reconciled(pack, "prod")
    lowered = lowerings(pack.policies(), config)
    assert unexplained(lowered) == []
    below = {name for name, entry in reconciled.items() if name in {p["name"] for p in pack.policies()}
             and entry["enforcementLevel"] != "mandatory"}
    assert below == {item.policy for item in lowered}
    assert below.isdisjoint(COST_AND_OPERATIONS | {"vllm-gpu-memory-utilization-range"})


def test_dev_keeps_cost_and_operations_advisory_and_lowers_nothing_mandatory(pack):
    config, reconciled = _reconciled(pack, "dev")
    assert lowerings(pack.policies(), config) == []
    assert {name for name in COST_AND_OPERATIONS if reconciled[name]["enforcementLevel"] == "advisory"} \
        == COST_AND_OPERATIONS


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_thresholds_are_the_stacks_own(pack, stack):
    _, reconciled = _reconciled(pack, stack)
    edge = read_stack_config(stack)["vllm-eks:edge"]
    assert reconciled["edge-timeouts-cover-max-request"]["properties"]["maxRequestSeconds"] == edge["maxRequestSeconds"]
    assert reconciled["vllm-ttft-alert"]["properties"]["maxThresholdSeconds"] > 0
    band = reconciled["vllm-gpu-memory-utilization-range"]["properties"]
    assert 0.8 <= band["minUtilization"] < band["maxUtilization"] <= 0.95  # stack_config.py's accepted range


def test_lowering_without_reason_is_found_and_one_with_a_reason_printed(pack):
    silent = {"all": "mandatory", "vllm-ttft-alert": "advisory"}
    assert unexplained(lowerings(pack.policies(), silent)) == ["vllm-ttft-alert"]
    explained = {"all": "mandatory", "vllm-ttft-alert": {"enforcementLevel": "advisory", "reason": "no Prometheus yet"}}
    found = lowerings(pack.policies(), explained)
    assert unexplained(found) == [] and "vllm-ttft-alert -> advisory: no Prometheus yet" in format_lowerings("f", found)
    # a mandatory policy lowered without "all" is a lowering too
    assert [item.policy for item in lowerings(pack.policies(), {"images-pinned": "advisory"})] == ["images-pinned"]
    # Pulumi's enforcement levels below mandatory: advisory and disabled (pulumi-policy EnforcementLevel); "remediate"
    # still stops a violation, so it is no lowering.
    assert [(item.policy, item.level) for item in lowerings(pack.policies(), {"images-pinned": "disabled"})] == [
        ("images-pinned", "disabled")]
    assert lowerings(pack.policies(), {"images-pinned": "remediate"}) == []
    # `reason` is declared by every policy, so the CLI's schema validation accepts it
    reconcile(pack.policies(), pack.initial_config(), explained)


def test_reason_must_be_a_string_for_the_cli(pack):
    from preflight.policy_config import PolicyConfigError

    with pytest.raises(PolicyConfigError, match="vllm-ttft-alert: reason"):
        reconcile(pack.policies(), pack.initial_config(), {"vllm-ttft-alert": {"enforcementLevel": "advisory",
                                                                              "reason": 3}})


def test_check_cli_prints_the_reasons_and_refuses_a_silent_lowering(tmp_path, capsys):
    from preflight.check_cli import main
    from .snapshots import compliant_stack

    snapshot = tmp_path / "s.json"
    snapshot.write_text(json.dumps(compliant_stack()))
    assert main(["--snapshot", str(snapshot), "--policy-config", str(CONFIG / "prod.json")]) == 0
    out = capsys.readouterr().out
    assert "images-pinned-by-digest -> advisory: images are pinned to exact release tags" in out
    prod_named = compliant_stack() | {"stack": "prod"}  # a snapshot of stack prod takes policies/config/prod.json
    snapshot.write_text(json.dumps(prod_named))
    assert main(["--snapshot", str(snapshot)]) == 0
    assert f"Policy config {CONFIG / 'prod.json'} lowers 1 policy below mandatory" in capsys.readouterr().out
    silent = tmp_path / "silent.json"
    silent.write_text(json.dumps({"all": "mandatory", "images-pinned-by-digest": "advisory"}))
    assert main(["--snapshot", str(snapshot), "--policy-config", str(silent)]) == 1
    assert "without a `reason`" in capsys.readouterr().err
