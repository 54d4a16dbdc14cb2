"""`render`, `plan` and `check` take `--stack-file`; prices are the stack region's, or said to be missing."""

import copy
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from vllm_eks.planning import catalog
from preflight.plan import build_plan
from preflight.render import PROJECT_DIR, read_stack_config


def _stack_file(tmp_path: Path, name: str, config: dict) -> Path:
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    return path


def _preflight(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "preflight", *args], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300)


def test_render_shows_the_regions_price_or_says_it_is_missing():
    from preflight.__main__ import _price_line

    assert _price_line("g6.2xlarge", "us-east-1") == (
        f"  on-demand price       0.978 $/h per replica (us-east-1, list prices {catalog.PRICE_SNAPSHOT_DATE})"
    )
    assert _price_line("g6.2xlarge", "eu-west-1") == (
        "  on-demand price    missing: vllm_eks/planning/catalog.py REGION_PRICES has no g6.2xlarge price for eu-west-1"
    )


def test_render_of_a_stack_in_another_region_shows_no_us_east_1_price(tmp_path):
    config = copy.deepcopy(read_stack_config("dev")) | {"aws:region": "eu-west-1"}
    result = _preflight("render", "--stack-file", str(_stack_file(tmp_path, "eu", config)))
    assert result.returncode == 0, result.stderr
    assert "missing: vllm_eks/planning/catalog.py REGION_PRICES has no g6.2xlarge price for eu-west-1" in result.stdout
    assert "$/h per replica" not in result.stdout


def test_plan_prices_gpus_at_the_stack_regions_row(monkeypatch):
    """A region row with its own GPU prices is what the plan charges (here: a test row at twice us-east-1's)."""
    us = catalog.REGION_PRICES["us-east-1"]
    doubled = {name: 2 * price for name, price in us.gpu_instance_usd_per_hour.items()}
    monkeypatch.setitem(catalog.REGION_PRICES, "eu-west-1", dataclasses.replace(us, gpu_instance_usd_per_hour=doubled))
    config = copy.deepcopy(read_stack_config("prod"))
    home = build_plan("prod", config)["models"][0]["cost"]["atMaxReplicas"]["usdPerHour"]
    abroad = build_plan("prod", config | {"aws:region": "eu-west-1"})["models"][0]["cost"]["atMaxReplicas"]["usdPerHour"]
    assert abroad == pytest.approx(2 * home)


def test_plan_names_a_gpu_instance_the_region_row_does_not_price(monkeypatch):
    from vllm_eks.planning.cost import CostError

    us = catalog.REGION_PRICES["us-east-1"]
    monkeypatch.setitem(catalog.REGION_PRICES, "eu-west-1", dataclasses.replace(us, gpu_instance_usd_per_hour={}))
    with pytest.raises(CostError, match="no on-demand price for g5.12xlarge in eu-west-1"):
        build_plan("prod", read_stack_config("prod") | {"aws:region": "eu-west-1"})


def test_plan_takes_a_stack_file(tmp_path):
    path = _stack_file(tmp_path, "candidate", read_stack_config("prod"))
    result = _preflight("plan", "--stack-file", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("plan for stack candidate (us-east-1")


def test_check_takes_a_stack_file_and_reports_its_config_errors(tmp_path):
    config = copy.deepcopy(read_stack_config("dev"))
    config["vllm-eks:autoscalling"] = config.pop("vllm-eks:autoscaling")
    result = _preflight("check", "--stack-file", str(_stack_file(tmp_path, "typo", config)))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "did you mean vllm-eks:autoscaling?" in result.stderr


@pytest.mark.slow
def test_check_of_a_stack_file_runs_the_pack_and_says_it_rendered(tmp_path):
    result = _preflight("check", "--stack-file", str(_stack_file(tmp_path, "candidate", read_stack_config("prod"))))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(render + policy check)" in result.stdout


def test_check_of_a_saved_snapshot_does_not_claim_a_render(tmp_path):
    snapshot = tmp_path / "dev.json"
    assert _preflight("render", "--stack", "dev", "--json", str(snapshot)).returncode == 0
    result = _preflight("check", "--snapshot", str(snapshot))
    assert "(policy check of a saved snapshot)" in result.stdout and "render +" not in result.stdout


def test_render_summary_nests_each_component_under_its_parent():
    import re

    from preflight.__main__ import summarise
    from rendered import rendered

    tree = summarise(rendered("dev")).split("component tree:\n", 1)[1].splitlines()
    shape = [re.fullmatch(r"( *)(\S+) \((\S+), \d+ children\)", line).groups() for line in tree]
    names = [name for _, name, _ in shape]  # siblings come in registration order, which mocks do not fix
    assert names[names.index("cluster-eks") - 1] == "cluster"
    assert names[names.index("edge-qwen3-1-7b-router") - 1] == "edge"
    assert sorted(shape) == sorted([
        ("  ", "network", "vllm-eks:index:Network"), ("  ", "images", "vllm-eks:index:ImageCache"),
        ("  ", "cluster", "vllm-eks:index:GpuCluster"), ("    ", "cluster-eks", "eks:index:Cluster"),
        ("  ", "internal-api-key", "vllm-eks:index:InternalApiKey"), ("  ", "models", "vllm-eks:index:ModelStore"),
        ("  ", "vllm-qwen3-1-7b", "vllm-eks:index:VllmService"), ("  ", "addons", "vllm-eks:index:ClusterAddons"),
        ("  ", "observability", "vllm-eks:index:Observability"), ("  ", "edge", "vllm-eks:index:Edge"),
        ("    ", "edge-qwen3-1-7b-router", "vllm-eks:index:ModelRouter"),
        ("  ", "autoscaling", "vllm-eks:index:Autoscaling"),
    ])


def test_a_resource_without_a_package_version_gets_the_unversioned_default_provider():
    """pkg/resource/deploy/providers (default provider names): `default` without a version, else
    `default_<major>_<minor>_<patch>`."""
    from preflight.render import engine_resources

    def bucket(version):
        resource = {"urn": f"urn:pulumi:dev::vllm-eks::aws:s3/bucket:Bucket::b{version}", "type": "aws:s3/bucket:Bucket",
                    "remote": False, "options": {"provider": None}}
        return {**resource, "packageVersion": version} if version else resource

    resources = [bucket(None), bucket("7.51.1")]
    entries = engine_resources("dev", {"aws:region": "us-east-1"}, resources, [{"custom": True}] * 2, {}, preview=False)
    providers = {entry["name"]: entry["props"] for entry in entries if entry["type"] == "pulumi:providers:aws"}
    assert providers == {"default": {"region": "us-east-1"}, "default_7_51_1": {"region": "us-east-1", "version": "7.51.1"}}


def _seventy_b_synced_over_its_budget() -> dict:
    config = copy.deepcopy(read_stack_config("dev"))
    config["vllm-eks:models"] = [dict(config["vllm-eks:models"][0], catalogModel="llama-3.1-70b",
                                      instanceType="g6e.12xlarge", maxModelLen=8192, loadFormat="s3-sync")]
    return config


def _misspelt_section() -> dict:
    config = copy.deepcopy(read_stack_config("dev"))
    config["vllm-eks:autoscalling"] = config.pop("vllm-eks:autoscaling")
    return config


@pytest.mark.parametrize("config, says", [
    (_misspelt_section, "did you mean vllm-eks:autoscaling?"),  # refused when the stack config loads
    (_seventy_b_synced_over_its_budget, "startupBudgetSeconds"),  # refused by the program (pulumi.RunError)
], ids=["config-load", "program"])
def test_render_of_a_refused_stack_exits_2_with_the_message_alone(tmp_path, capsys, config, says):
    """README, the offline commands: `render` exits 2 on a refused stack config, whether the config loader or the
    program refuses it, with `error: <message>` on stderr and nothing on stdout (the message names the setting)."""
    from preflight.__main__ import main

    assert main(["render", "--stack-file", str(_stack_file(tmp_path, "refused", config()))]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: ") and says in err
