"""`python -m preflight check` semantics on hand-made snapshots (no render needed)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from preflight import check_cli
from preflight.engine import PolicyPackSession, check_snapshot, format_report, result_to_json
from preflight.gate import gate_to_json, run_gate
from preflight.pack_process import PROJECT_ROOT, stack_environment
from preflight.stack_policy_config import default_config_path
from .snapshots import compliant_stack, find, mutated, vllm_containers_of

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
    assert 0 < applied["elapsedSeconds"] == round(applied["elapsedSeconds"], 3)  # milliseconds, like the total
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
    calls = []

    def render_stack(stack, preview=False):
        calls.append((stack, preview))
        return {**compliant_stack(), "stack": stack, "preview": preview}

    _fake_render(monkeypatch, render_stack)
    assert check_cli.main(["check", "--stack", "prod"]) == 0
    out = capsys.readouterr().out
    assert sorted(calls) == [("prod", False), ("prod", True)]
    assert "== First preview" in out and "== Applied stack" in out and "Gate for stack prod: passed" in out


def test_cli_stack_file_is_checked_as_the_stack_its_name_gives(tmp_path, monkeypatch, capsys):
    """A stack file kept anywhere is named like Pulumi.<stack>.yaml (Pulumi docs, "Project file reference" /
    "Stack settings file"): `check --stack-file` renders it as that stack, both passes, and gates it with that stack's
    policy config (policies/config/prod.json), not dev's."""
    import types
    from preflight import render

    stack_file = tmp_path / "Pulumi.prod.yaml"
    stack_file.write_text("config: {}\n")
    calls, configs = [], []

    def render_stack_file(path, preview=False):
        calls.append((path, preview))
        return {**compliant_stack(), "stack": "prod", "preview": preview}

    fake = types.ModuleType("preflight.render")
    setattr(fake, "read_stack_file", render.read_stack_file)
    setattr(fake, "render_stack_file", render_stack_file)
    setattr(fake, "read_stack_config", render.read_stack_config)
    monkeypatch.setitem(sys.modules, "preflight.render", fake)
    real_check_renders = check_cli.check_renders
    monkeypatch.setattr(check_cli, "check_renders", lambda stack, renders, config, *rest, **kw: (
        configs.append((stack, config)) or real_check_renders(stack, renders, config, *rest, **kw)))
    assert check_cli.main(["check", "--stack-file", str(stack_file)]) == 0
    assert sorted(calls) == [(stack_file, False), (stack_file, True)]
    assert configs == [("prod", str(default_config_path("prod")))]
    assert default_config_path("prod") == ROOT / "policies" / "config" / "prod.json"
    assert "Gate for stack prod: passed" in capsys.readouterr().out


def test_one_shot_api_and_report():
    result = check_snapshot(mutated(_latest))
    # `vllm/vllm-openai:latest`: a moving tag from Docker Hub, not from the account's ECR, and pinned by no digest.
    assert sorted((v.policy_name, v.enforcement_level) for v in result.violations) == [
        ("images-from-private-registry", "mandatory"), ("images-pinned", "mandatory"),
        ("images-pinned-by-digest", "advisory")]
    assert (result.mandatory_count, result.advisory_count) == (2, 1)
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


def _fake_render(monkeypatch, render_stack):
    import types
    fake = types.ModuleType("preflight.render")
    setattr(fake, "render_stack", render_stack)
    setattr(fake, "read_stack_config", lambda stack: {})
    monkeypatch.setitem(sys.modules, "preflight.render", fake)


def _remote_cluster(snapshot):
    """The EKS cluster as a render keeps a remote component: `{}` for the engine, the program's inputs aside."""
    cluster = find(snapshot, "eks:index:Cluster")
    inputs = dict(cluster["props"])
    inputs.pop("vpcCniOptions")  # left out: the offline-only pass reads pulumi-eks' default and fires
    cluster.update({"remote": True, "offlineOnlyProgramInputs": inputs, "props": {}})


def test_overlapped_cli_reports_what_run_gate_reports(monkeypatch, capsys):
    """`check --stack` renders, starts its packs and judges the passes side by side (`check_renders`); its verdict
    is the sequential `run_gate` verdict over the same snapshots: first preview, applied and offline-only, each
    violation and not-applicable answer."""
    def broken(s):
        _latest(s)
        _remote_cluster(s)
    snapshots = {preview: {**mutated(broken), "stack": "prod", "preview": preview} for preview in (True, False)}
    _fake_render(monkeypatch, lambda stack, preview=False: snapshots[preview])
    assert check_cli.main(["check", "--stack", "prod", "--json"]) == 1
    overlapped = json.loads(capsys.readouterr().out)

    config, tags = stack_environment(PROJECT_ROOT, "prod", {})
    policy_config = check_cli.policy_config_from(str(default_config_path("prod")))
    with PolicyPackSession(stack="prod", dry_run=True, config=config, tags=tags) as preview_pack, \
            PolicyPackSession(stack="prod", dry_run=False, config=config, tags=tags) as applied_pack:
        sequential = gate_to_json(run_gate(preview_pack, preview=snapshots[True], applied=snapshots[False],
                                           policy_config=policy_config, applied_session=applied_pack))

    def without_timings(gate):
        return {key: {k: v for k, v in check.items() if k != "elapsedSeconds"} for key, check in gate["checks"].items()}
    assert set(overlapped["checks"]) == {"firstPreview", "applied", "offlineOnly"}
    assert {"images-pinned"} <= {v["policy"] for v in overlapped["checks"]["applied"]["violations"]}
    assert [v["policy"] for v in overlapped["checks"]["offlineOnly"]["violations"]] == ["vpc-cni-network-policy-enforced"]
    assert without_timings(overlapped) == without_timings(sequential)


def test_a_failed_render_stops_every_pack_it_started(monkeypatch, capsys):
    """The packs start while the program renders; a render that fails (the program's RunError: a bad stack config)
    still ends each of them, and the CLI reports the program's error (exit 2)."""
    class RunError(Exception):
        pass

    def render_stack(stack, preview=False):
        raise RunError("vllm-eks:models: at least one model")

    started: list[PolicyPackSession] = []
    pids: list[int] = []

    class Recorded(PolicyPackSession):
        def start(self):
            started.append(self)
            super().start()
            assert self.process is not None
            pids.append(self.process.pid)

    _fake_render(monkeypatch, render_stack)
    monkeypatch.setattr(check_cli, "PolicyPackSession", Recorded)
    assert check_cli.main(["check", "--stack", "prod"]) == 2
    assert "at least one model" in capsys.readouterr().err
    assert len(started) == len(pids) == 3  # first preview, applied, offline-only
    assert all(session.process is None and session.channel is None for session in started)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_saved_snapshot_with_a_remote_component_gets_the_offline_gate_too(tmp_path, capsys):
    """A snapshot from `preflight render --json` keeps the program's own inputs of pulumi-eks' remote component
    (offlineOnlyProgramInputs); `check --snapshot` judges them as `check --stack` does (preflight/gate.py)."""
    from rendered import rendered

    snapshot = copy.deepcopy(rendered("prod"))
    find(snapshot, "eks:index:Cluster")["offlineOnlyProgramInputs"]["endpointPublicAccess"] = True
    path = tmp_path / "applied.json"
    path.write_text(json.dumps(snapshot))
    assert check_cli.main(["--snapshot", str(path), "--json"]) == 1
    offline = json.loads(capsys.readouterr().out)["checks"]["offlineOnly"]
    assert {(v["policy"], v["type"]) for v in offline["violations"]} == {("eks-endpoint-private", "eks:index:Cluster")}
