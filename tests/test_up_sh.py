"""`./up.sh` without the Pulumi CLI or AWS credentials: each step announced as it starts, and the next steps at the end."""

import subprocess
from pathlib import Path

import pytest

from preflight.next_steps import edits, preparations, report
from preflight.render import read_stack_config

PROJECT_DIR = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_offline_run_announces_each_step_before_its_output_and_ends_with_what_to_do(tmp_path):
    environment = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "AWS_EC2_METADATA_DISABLED": "true"}
    result = subprocess.run(["bash", "up.sh", "dev"], cwd=PROJECT_DIR, env=environment, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:]
    text = result.stdout
    order = [
        "==> venv:",
        "==> render:",
        "resources per type:",  # render's own output
        "==> check:",
        "== First preview",  # check renders the stack twice and judges both (preflight/gate.py TITLES)
        "== Applied stack",
        "Gate for stack dev: passed",
        "Elapsed:",  # check's own output
        "==> plan:",
        "plan for stack dev",  # plan's own output
        "next steps:",
        "then: ./up.sh dev",
    ]
    positions = [text.find(marker) for marker in order]
    assert all(position >= 0 for position in positions), dict(zip(order, positions))
    assert positions == sorted(positions), dict(zip(order, positions))
    # The check step renders the stack itself (first preview and applied), so its time includes the render.
    assert "(render + policy check)" in text and "(policy check of a saved snapshot)" not in text
    assert f"Policy config {PROJECT_DIR / 'policies' / 'config' / 'dev.json'}" in text  # the stack's own levels
    for expected in ("edge.domainName", "edge.certificateArn", "cluster.adminPrincipalArn", "PULUMI_CONFIG_PASSPHRASE",
                     "install the Pulumi CLI", "configure AWS credentials"):
        assert expected in text.split("next steps:")[1], expected


def test_edits_name_the_example_settings_and_the_missing_administrator():
    dev = read_stack_config("dev")
    assert [line.split(": ", 1)[1].split(" ")[0] for line in edits("dev", dev)] == [
        "vllm-eks:edge.domainName", "vllm-eks:edge.certificateArn", "vllm-eks:cluster.adminPrincipalArn"]
    real = dict(dev)
    real["vllm-eks:edge"] = dev["vllm-eks:edge"] | {"domainName": "llm.acme.io",
                                                  "certificateArn": "arn:aws:acm:us-east-1:210987654321:certificate/x"}
    real["vllm-eks:cluster"] = dev["vllm-eks:cluster"] | {"adminPrincipalArn": "arn:aws:iam::210987654321:role/Admin"}
    assert edits("dev", real) == []


def test_preparations_follow_what_is_missing():
    doctor = "check the account before paying for anything: .venv/bin/python -m preflight doctor --stack <stack>"
    assert preparations({"PULUMI_CONFIG_PASSPHRASE": "x"}, has_pulumi=True, has_credentials=True) == [doctor]
    assert preparations({"PULUMI_BACKEND_URL": "s3://state"}, True, True) == [doctor]
    assert [line.split(":")[0] for line in preparations({}, False, False)] == [
        "install the Pulumi CLI 3.200+ and Node.js 20+ (https", "configure AWS credentials (aws configure, AWS_PROFILE or an assumed role)",
        "export PULUMI_CONFIG_PASSPHRASE=<a passphrase you keep>", "check the account before paying for anything"]
    text = report("prod", {}, {}, has_pulumi=True, has_credentials=True)
    assert "preflight doctor --stack prod" in text and text.endswith(
        "then: ./up.sh prod   (pulumi up --stack prod --policy-pack policies --policy-pack-config policies/config/prod.json)")

