"""`python -m preflight check` semantics on hand-made snapshots (no render needed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from preflight import check_cli
from preflight.engine import check_snapshot, format_report, result_to_json
from .snapshots import compliant_stack, mutated, vllm_containers_of

ROOT = Path(__file__).resolve().parents[2]


def _latest(s):
    for container in vllm_containers_of(s):
        container["image"] = "vllm/vllm-openai:latest"


def _run(*args):
    return subprocess.run([sys.executable, "-m", "preflight.check_cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_cli_passes_compliant_snapshot(tmp_path):
    path = tmp_path / "ok.json"
    path.write_text(json.dumps(compliant_stack()))
    completed = _run("check", "--snapshot", str(path))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "✅ vllm-eks-well-architected@v0.1.0" in completed.stdout
    assert "Elapsed:" in completed.stdout


def test_cli_fails_on_mandatory_violation_and_prints_policy(tmp_path):
    path = tmp_path / "latest.json"
    path.write_text(json.dumps(mutated(_latest)))
    completed = _run("--snapshot", str(path))
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "[mandatory]  images-pinned" in completed.stdout


def test_cli_json_and_policy_config(tmp_path):
    snapshot = mutated(lambda s: [c["args"].__setitem__(c["args"].index("--gpu-memory-utilization") + 1, "0.97")
                                  for c in vllm_containers_of(s)])
    path, config = tmp_path / "s.json", tmp_path / "policy-config.json"
    path.write_text(json.dumps(snapshot))
    config.write_text(json.dumps({"vllm-gpu-memory-utilization-range": {"enforcementLevel": "mandatory"}}))
    completed = _run("--snapshot", str(path), "--json", "--policy-config", str(config))
    assert completed.returncode == 1, completed.stdout + completed.stderr
    payload = json.loads(completed.stdout)
    assert payload["mandatoryCount"] == 1 and set(payload["checks"]) == {"applied"}
    applied = payload["checks"]["applied"]
    assert applied["violations"][0]["policy"] == "vllm-gpu-memory-utilization-range"
    assert applied["violations"][0]["type"] == "kubernetes:apps/v1:Deployment"
    assert applied["elapsedSeconds"] > 0
    # The document CI scripts read: its keys, the lowering list (none here) and milliseconds-rounded total.
    assert set(payload) == {"stack", "mandatoryCount", "passed", "checks", "policyConfig", "lowered", "totalSeconds"}
    assert (payload["passed"], payload["lowered"], payload["policyConfig"]) == (False, [], str(config))
    assert 0 < payload["totalSeconds"] == round(payload["totalSeconds"], 3)


def test_cli_stack_without_render_or_bad_input(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert check_cli.main(["check", "--snapshot", str(bad)]) == 2
    assert "not a preflight snapshot" in capsys.readouterr().err


def test_cli_stack_renders_first_preview_and_applied(monkeypatch, capsys):
    import types
    calls = []
    fake = types.ModuleType("preflight.render")

    def render_stack(stack, preview=False):
        calls.append((stack, preview))
        return {**compliant_stack(), "stack": stack, "preview": preview}

    fake.render_stack = render_stack
    fake.read_stack_config = lambda stack: {}
    monkeypatch.setitem(sys.modules, "preflight.render", fake)
    assert check_cli.main(["check", "--stack", "prod"]) == 0
    out = capsys.readouterr().out
    assert sorted(calls) == [("prod", False), ("prod", True)]
    assert "== First preview" in out and "== Applied stack" in out and "Gate for stack prod: passed" in out


def test_one_shot_api_and_report():
    result = check_snapshot(mutated(_latest))
    assert result.mandatory_count >= 1
    report = format_report(result)
    assert report.startswith("Policies:\n    ❌ vllm-eks-well-architected@v0.1.0")
    assert "images-pinned  (kubernetes:apps/v1:Deployment: qwen3-8b-deployment)" in report
    assert result_to_json(result)["mandatoryCount"] == result.mandatory_count


def test_cli_checks_a_first_preview_snapshot_as_a_preview(tmp_path, capsys):
    """`preflight render --first-preview --json` marks its snapshot; `check --snapshot` then judges it as the
    first preview (PULUMI_DRY_RUN=true), not as the applied stack."""
    path = tmp_path / "preview.json"
    path.write_text(json.dumps({**compliant_stack(), "preview": True}))
    assert check_cli.main(["--snapshot", str(path)]) == 0
    out = capsys.readouterr().out
    assert "== First preview" in out and "== Applied stack" not in out
