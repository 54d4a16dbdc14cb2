"""Starting a policy pack as the Pulumi CLI does (`preflight/pack_process.py`), with stand-in executables in place of
the pack's Python so each start-up failure and the environment the pack gets are observable without a real pack:
pulumi/pulumi sdk/python/cmd/pulumi-language-python/main.go RunPlugin runs `<venv>/bin/python -u -m pulumi.policy
<engine address> <pack dir>` with PULUMI_PROJECT/STACK/DRY_RUN/ORGANIZATION/CONFIG set, and the pack prints its port
as the first line of stdout (pulumi_policy/policy.py, PolicyPack serve)."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from preflight import pack_process
from preflight.pack_process import PolicyPackError, PolicyPackProcess, ensure_pack_python, pack_virtualenv, stack_environment


def _pack(tmp_path: Path, policy_yaml: str = "runtime:\n  name: python\n  options:\n    virtualenv: env\n") -> Path:
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "PulumiPolicy.yaml").write_text(policy_yaml)
    return pack


def _script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "fake-python"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_the_virtualenv_is_the_one_pulumipolicy_yaml_names_or_venv(tmp_path):
    """PulumiPolicy.yaml `runtime.options.virtualenv` (Pulumi docs, "Policy pack settings")."""
    pack = _pack(tmp_path)
    assert pack_virtualenv(pack) == (pack / "env").resolve()
    (pack / "PulumiPolicy.yaml").write_text("runtime: python\n")
    assert pack_virtualenv(pack) == (pack / "venv").resolve()
    (pack / "PulumiPolicy.yaml").write_text("")
    assert pack_virtualenv(pack) == (pack / "venv").resolve()


def test_the_pack_python_is_created_then_reinstalled_only_when_requirements_change(tmp_path, monkeypatch):
    pack = _pack(tmp_path)
    (pack / "requirements.txt").write_text("pulumi-policy==1.21.0\n")
    venv = (pack / "env").resolve()
    steps = []

    def run(step, capture_output, text):
        steps.append(step)
        if step[1:3] == ["-m", "venv"]:
            (venv / "bin").mkdir(parents=True)
            (venv / "bin" / "python").write_text("")
        return subprocess.CompletedProcess(step, 0, "", "")

    monkeypatch.setattr(pack_process.subprocess, "run", run)
    base = getattr(sys, "_base_executable", None) or sys.executable
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r",
           str(pack / "requirements.txt")]
    assert ensure_pack_python(pack) == venv / "bin" / "python"
    assert steps == [[base, "-m", "venv", str(venv)], pip]
    digest = hashlib.sha256(b"pulumi-policy==1.21.0\n").hexdigest()
    assert (venv / ".preflight-requirements.sha256").read_text() == digest + "\n"
    steps.clear()
    assert ensure_pack_python(pack) == venv / "bin" / "python" and steps == []
    (pack / "requirements.txt").write_text("pulumi-policy==1.22.0\n")
    ensure_pack_python(pack)
    assert steps == [pip]


def test_a_failed_virtualenv_step_names_the_step_and_its_output(tmp_path, monkeypatch):
    pack = _pack(tmp_path)
    (pack / "requirements.txt").write_text("nothing-here==0\n")
    monkeypatch.setattr(pack_process.subprocess, "run",
                        lambda step, capture_output, text: subprocess.CompletedProcess(step, 1, "", "No matching distribution"))
    with pytest.raises(PolicyPackError) as error:
        ensure_pack_python(pack)
    venv = (pack / "env").resolve()
    base = getattr(sys, "_base_executable", None) or sys.executable
    assert str(error.value) == (f"could not prepare the policy pack's virtualenv {venv} ({base} -m venv {venv}):\n"
                                "No matching distribution")


def test_the_stack_environment_is_the_config_as_strings_and_the_project_tags(tmp_path):
    """pkg/engine/update.go (config as strings, project config namespaced by the project name) and pkg/backend/stack.go
    GetEnvironmentTagsForCurrentStack (pulumi:project, pulumi:runtime, pulumi:description, then pulumi:tags)."""
    (tmp_path / "Pulumi.yaml").write_text(
        "name: demo\nruntime:\n  name: python\ndescription: A demo\n"
        "config:\n  size: {default: 3}\n  aws:region: {value: us-east-1}\n  unset: {type: string}\n")
    config, tags = stack_environment(tmp_path, "dev", {"demo:models": [1], "pulumi:tags": {"team": "ml", "tier": 2}})
    assert config == {"demo:size": "3", "aws:region": "us-east-1", "demo:models": "[1]",
                      "pulumi:tags": '{"team": "ml", "tier": 2}'}
    assert tags == {"pulumi:project": "demo", "pulumi:runtime": "python", "pulumi:description": "A demo",
                    "team": "ml", "tier": "2"}
    (tmp_path / "Pulumi.yaml").write_text("runtime: python\n")
    assert stack_environment(tmp_path, "dev", {}) == ({}, {"pulumi:project": "vllm-eks", "pulumi:runtime": "python"})


def test_a_directory_without_pulumipolicy_yaml_is_not_a_pack(tmp_path):
    with pytest.raises(PolicyPackError, match=r"is not a policy pack \(no PulumiPolicy\.yaml\)$"):
        PolicyPackProcess(tmp_path, python=sys.executable).start()


def test_the_pack_runs_with_the_clis_command_line_and_environment(tmp_path, monkeypatch):
    pack = _pack(tmp_path)
    seen = tmp_path / "seen.txt"
    python = _script(tmp_path, f'echo "$@|$PULUMI_PROJECT|$PULUMI_STACK|$PULUMI_DRY_RUN|$PULUMI_ORGANIZATION|'
                               f'$PYTHONUNBUFFERED|$PULUMI_CONFIG|$EXTRA|$(pwd)" > {seen}\necho not-a-port\n')
    monkeypatch.setenv("PULUMI_CONFIG", '{"stale": "1"}')
    process = PolicyPackProcess(pack, stack="prod", project="p", organization="o", python=python, dry_run=False,
                                config={"p:k": "v"}, extra_env={"EXTRA": "x"}, startup_timeout=20)
    with pytest.raises(PolicyPackError, match=r"^the policy pack did not print its port \(first stdout line\); stderr:\n"):
        process.start()
    args, project, stack, dry_run, organization, unbuffered, config, extra, cwd = seen.read_text().strip().split("|")
    assert args.split() == ["-u", "-m", "pulumi.policy", process.engine_address, str(pack)]
    assert process.engine_address.startswith("127.0.0.1:")
    assert (project, stack, dry_run, organization, unbuffered, json.loads(config), extra, cwd) == (
        "p", "prod", "false", "o", "1", {"p:k": "v"}, "x", str(pack))
    assert (process.process, process.channel, process.engine_server) == (None, None, None)  # closed again


def test_without_config_no_pulumi_config_reaches_the_pack_and_a_preview_is_a_dry_run(tmp_path, monkeypatch):
    pack = _pack(tmp_path)
    seen = tmp_path / "seen.txt"
    python = _script(tmp_path, f'echo "$PULUMI_DRY_RUN|${{PULUMI_CONFIG-unset}}" > {seen}\n')
    monkeypatch.setenv("PULUMI_CONFIG", '{"stale": "1"}')
    with pytest.raises(PolicyPackError):
        PolicyPackProcess(pack, python=python, startup_timeout=20).start()
    assert seen.read_text().strip() == "true|unset"


def test_a_pack_that_prints_nothing_in_time_or_a_port_nobody_answers_is_an_error(tmp_path):
    pack = _pack(tmp_path)
    silent = PolicyPackProcess(pack, python=_script(tmp_path, "echo booting >&2\nsleep 30\n"), startup_timeout=1)
    with pytest.raises(PolicyPackError, match="did not print its port"):
        silent.start()
    assert silent.process is None
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    (tmp_path / "fake-python").unlink()
    deaf = PolicyPackProcess(pack, python=_script(tmp_path, f"echo {port}\nsleep 30\n"), startup_timeout=1)
    with pytest.raises(PolicyPackError, match="^could not connect to the policy pack$"):
        deaf.start()
    assert deaf.process is None and deaf.channel is None


def test_a_python_that_cannot_be_started_is_named(tmp_path):
    pack = _pack(tmp_path)
    process = PolicyPackProcess(pack, python=str(tmp_path / "missing-python"))
    with pytest.raises(PolicyPackError, match="^could not start the policy pack: "):
        process.start()
    assert process.engine_server is None


def test_the_engine_service_records_logs_and_answers_root_resource_calls():
    """pulumi/pulumi proto/pulumi/engine.proto: Log, GetRootResource, SetRootResource."""
    from pulumi.runtime.proto import engine_pb2

    engine = pack_process._EngineServicer()
    engine.Log(engine_pb2.LogRequest(severity=2, urn="urn:x", message="hello"), None)
    assert engine.logs == [(2, "urn:x", "hello")]
    assert engine.GetRootResource(engine_pb2.GetRootResourceRequest(), None).urn == ""
    assert engine.SetRootResource(engine_pb2.SetRootResourceRequest(), None) == engine_pb2.SetRootResourceResponse()
    assert os.path.basename(pack_process.DEFAULT_POLICY_PACK) == "policies" and pack_process.DEFAULT_PROJECT == "vllm-eks"


def test_grpc_messages_may_carry_a_whole_stack():
    """gRPC's default receive limit is 4 MiB (grpc core, GRPC_DEFAULT_MAX_RECV_MESSAGE_LENGTH); AnalyzeStack carries
    every resource at once, so both directions allow 400 MiB."""
    assert pack_process.GRPC_OPTIONS == [("grpc.max_receive_message_length", 419_430_400),
                                         ("grpc.max_send_message_length", 419_430_400)]


def test_a_pack_that_fails_to_start_shows_the_last_40_lines_of_its_stderr(tmp_path):
    """Enough of a traceback to see the error, not a whole log."""
    pack = _pack(tmp_path)
    python = _script(tmp_path, 'for i in $(seq 1 50); do echo "line $i" >&2; done\nsleep 2\necho not-a-port\n')
    with pytest.raises(PolicyPackError) as error:
        PolicyPackProcess(pack, python=python, startup_timeout=30).start()
    assert str(error.value) == ("the policy pack did not print its port (first stdout line); stderr:\n"
                                + "\n".join(f"line {i}" for i in range(11, 51)))


def test_a_failed_step_shows_the_last_4000_characters_of_its_output_stdout_when_stderr_is_empty(tmp_path, monkeypatch):
    pack = _pack(tmp_path)
    (pack / "requirements.txt").write_text("x\n")
    output = "".join(f"{i % 10}" for i in range(5000))
    for stderr, stdout in ((output, "ignored"), ("", output)):
        monkeypatch.setattr(pack_process.subprocess, "run",
                            lambda step, capture_output, text: subprocess.CompletedProcess(step, 1, stdout, stderr))
        with pytest.raises(PolicyPackError) as error:
            ensure_pack_python(pack)
        assert str(error.value).split(":\n", 1)[1] == output[-4000:]
