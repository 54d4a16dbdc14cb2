"""`python -m preflight check`'s own output and exits, with the pack's work replaced by a hand-built gate (the pack
runs in tests/policies/test_check_cli.py): the report then the lowerings then the elapsed line, the JSON payload, exit
1 on a mandatory violation, on an unexplained lowering or on a policy config the CLI refuses (Pulumi CLI,
pkg/cmd/pulumi/cmd/exit_codes.go: a plain error exits 1), 2 on an unreadable snapshot."""

from __future__ import annotations

import json

import pytest

from preflight import check_cli
from preflight.engine import CheckResult, PolicyConfigError, Violation
from preflight.gate import gate_of
from preflight.stack_policy_config import Lowering, format_lowerings


def _gate(mandatory: bool):
    violations = [Violation("p", "mandatory" if mandatory else "advisory", "m", "d")]
    return gate_of("dev", None, CheckResult("dev", "vllm-eks", "0.1.0", violations, 3, 0.5, [], []))


@pytest.fixture
def judged(monkeypatch, tmp_path):
    """check_renders replaced: records what main asked for and answers the gate and lowerings a test sets."""
    calls = []
    answer = {}

    def check_renders(stack, renders, config_path, *, offline_pack):
        calls.append((stack, sorted(renders), config_path, offline_pack, [render() for render in renders.values()]))
        return answer["gate"], answer["lowered"]

    monkeypatch.setattr(check_cli, "check_renders", check_renders)
    snapshot = tmp_path / "snap.json"
    snapshot.write_text(json.dumps({"stack": "prod", "preview": True, "resources": [
        {"urn": "u", "type": "eks:index:Cluster", "remote": True, "offlineOnlyProgramInputs": {}}]}))
    return calls, answer, snapshot


def test_a_snapshot_is_checked_as_the_pass_it_was_rendered_for_and_reported(judged, capsys):
    calls, answer, snapshot = judged
    answer.update(gate=_gate(False), lowered=[Lowering("q", "advisory", "known noise")])
    assert check_cli.main(["check", "--snapshot", str(snapshot), "--policy-config", "cfg.json"]) == 0
    assert [call[:4] for call in calls] == [("prod", ["preview"], "cfg.json", True)]
    out = capsys.readouterr().out
    assert out.startswith("== Applied stack")
    assert format_lowerings("cfg.json", answer["lowered"]) in out
    assert out.splitlines()[-1].startswith("Elapsed: ") and out.splitlines()[-1].endswith("s (policy check of a saved snapshot)")


def test_json_names_the_config_the_lowerings_and_the_verdict(judged, capsys):
    calls, answer, snapshot = judged
    answer.update(gate=_gate(False), lowered=[Lowering("q", "disabled", "")])
    assert check_cli.main(["--snapshot", str(snapshot), "--json"]) == 1  # a lowering without a reason
    payload = json.loads(capsys.readouterr().out)
    assert (payload["policyConfig"], payload["lowered"], payload["passed"], payload["mandatoryCount"]) == (
        "/".join(str(check_cli.PROJECT_ROOT / "policies" / "config" / "prod.json").split("/")),
        [{"policy": "q", "level": "disabled", "reason": ""}], False, 0)
    assert payload["totalSeconds"] >= 0 and set(payload) == {
        "stack", "mandatoryCount", "passed", "checks", "policyConfig", "lowered", "totalSeconds"}


def test_an_unexplained_lowering_fails_with_the_reason_to_give(judged, capsys):
    calls, answer, snapshot = judged
    answer.update(gate=_gate(False), lowered=[Lowering("q", "advisory", ""), Lowering("r", "disabled", "")])
    assert check_cli.main(["--snapshot", str(snapshot), "--policy-config", "cfg.json"]) == 1
    assert capsys.readouterr().err == ("error: cfg.json lowers q, r below mandatory without a `reason` beside its "
                                       "enforcementLevel; say why, or keep it mandatory\n")


def test_a_mandatory_violation_fails_and_a_stack_renders_twice(judged, capsys, monkeypatch):
    calls, answer, _ = judged
    import preflight.render

    monkeypatch.setattr(preflight.render, "render_stack", lambda stack, preview=False: {"stack": stack, "preview": preview})
    answer.update(gate=_gate(True), lowered=[])
    assert check_cli.main(["--stack", "dev"]) == 1
    assert calls == [("dev", ["applied", "preview"], str(check_cli.PROJECT_ROOT / "policies" / "config" / "dev.json"), True,
                      [{"stack": "dev", "preview": True}, {"stack": "dev", "preview": False}])]
    out = capsys.readouterr().out
    assert "Gate for stack dev: FAILED: 1 mandatory violation(s)" in out
    assert out.splitlines()[-1].endswith("s (render + policy check)")


def test_refusals_exit_1_for_the_policy_config_and_2_for_an_unreadable_snapshot(judged, capsys, tmp_path, monkeypatch):
    calls, answer, snapshot = judged

    def refuse(*args, **kwargs):
        raise PolicyConfigError("bad level")

    monkeypatch.setattr(check_cli, "check_renders", refuse)
    assert check_cli.main(["--snapshot", str(snapshot)]) == 1
    assert capsys.readouterr().err == "error: bad level\n"
    assert check_cli.main(["--snapshot", str(tmp_path / "none.json")]) == 2
    assert capsys.readouterr().err.startswith("error: [Errno 2] No such file or directory")


def test_esc_environments_in_a_policy_config_cannot_be_resolved_offline(tmp_path):
    """Pulumi docs, "Policy pack configuration": `environments` names Pulumi ESC environments, resolved by Pulumi Cloud."""
    path = tmp_path / "cfg.json"
    path.write_text('{"environments": ["org/env"], "all": "mandatory"}')
    with pytest.raises(PolicyConfigError) as error:
        check_cli.policy_config_from(str(path))
    assert str(error.value) == (f"{path} names ESC environments ['org/env']: only the Pulumi Cloud backend resolves "
                                "them, preflight cannot (remove the key for an offline check)")
    assert check_cli.policy_config_from(None) is None


def test_only_a_remote_component_with_its_program_inputs_needs_the_offline_only_pack():
    assert check_cli._has_remote({"resources": [{"remote": True, "offlineOnlyProgramInputs": {}}]})
    assert not check_cli._has_remote({"resources": [{"remote": True}, {"offlineOnlyProgramInputs": {}}, "x"]})
    assert not check_cli._has_remote({})
    assert check_cli._stack_config("no-such-stack") == {}
    usage = " ".join(check_cli.build_parser().format_usage().split())  # argparse wraps at the terminal's width
    assert usage == ("usage: python -m preflight check [-h] [--stack dev|prod | --stack-file FILE | --snapshot FILE] "
                     "[--json] [--policy-config FILE]")
