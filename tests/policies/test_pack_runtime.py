"""The pack runs as the Pulumi CLI runs it: in its own virtualenv (PulumiPolicy.yaml `virtualenv: venv`) holding
policies/requirements.txt, with the stack's config in PULUMI_CONFIG and the stack's tags in ConfigureStack
(pulumi/pulumi sdk/python/cmd/pulumi-language-python/main.go RunPlugin, sdk/go/common/resource/plugin/analyzer_plugin.go
ConfigureStack, pkg/backend/stack.go GetEnvironmentTagsForCurrentStack)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from preflight.engine import PolicyPackSession
from preflight.pack_process import ensure_pack_python, pack_virtualenv, stack_environment
from preflight.render import read_stack_config
from .snapshots import compliant_stack

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "policies"

# A probe pack: one policy that reports what the pack process sees, so the test reads it back as a violation.
PROBE = '''
import json, os, sys
import pulumi
from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy

def report(args, report_violation):
    if args.resource_type == "aws:ec2/vpc:Vpc":
        report_violation(json.dumps({"tags": dict(args.stack_tags), "region": pulumi.Config("aws").get("region"),
                                     "dryRun": os.environ.get("PULUMI_DRY_RUN"), "prefix": sys.prefix}))

PolicyPack("probe", [ResourceValidationPolicy("probe", "what the pack sees", report)], EnforcementLevel.ADVISORY)
'''


def test_pack_runs_in_its_own_virtualenv_with_its_requirements(pack):
    python = Path(pack.python)
    assert python == (PACK / "venv").resolve() / "bin" / "python"  # resolved: the venv may be a link (mutation copies)
    cmdline = Path(f"/proc/{pack.process.pid}/cmdline").read_bytes().split(b"\0")
    assert cmdline[0].decode() == str(python) and cmdline[2:4] == [b"-m", b"pulumi.policy"]
    assert cmdline[-2].decode() == str(PACK)  # the pack directory comes last, as RunPlugin passes it
    stamp = (PACK / "venv" / ".preflight-requirements.sha256").read_text().strip()
    assert stamp == hashlib.sha256((PACK / "requirements.txt").read_bytes()).hexdigest()
    assert ensure_pack_python(PACK) == python  # reused, not rebuilt


def test_stack_config_and_tags_are_what_the_cli_derives():
    config, tags = stack_environment(ROOT, "dev", read_stack_config("dev"))
    assert tags == {"pulumi:project": "vllm-eks", "pulumi:runtime": "python",
                    "pulumi:description": (ROOT / "Pulumi.yaml").read_text().split("description: ")[1].split("\n")[0],
                    "pulumi:template": "vllm-eks"}  # Pulumi.yaml config pulumi:tags
    assert config["aws:region"] == "us-east-1"
    assert json.loads(config["vllm-eks:models"]) == read_stack_config("dev")["vllm-eks:models"]


def test_the_pack_process_sees_the_stack_config_tags_and_mode(tmp_path):
    (tmp_path / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (tmp_path / "__main__.py").write_text(PROBE)
    config, tags = stack_environment(ROOT, "dev", read_stack_config("dev"))
    with PolicyPackSession(tmp_path, stack="dev", python=str(ensure_pack_python(PACK)), config=config, tags=tags,
                           dry_run=False) as probe:
        [violation] = probe.check(compliant_stack()).violations
    seen = json.loads(violation.message.splitlines()[-1])  # the pack prefixes the policy's description
    assert seen["tags"] == tags and seen["region"] == "us-east-1" and seen["dryRun"] == "false"
    assert Path(seen["prefix"]) == (PACK / "venv").resolve()


def test_the_virtualenv_is_where_pulumipolicy_yaml_names_it(tmp_path):
    """PulumiPolicy.yaml `runtime.options.virtualenv`, relative to the pack (Pulumi docs, "Python": virtual
    environments). Without the option the CLI would run the python on PATH; preflight keeps the pack apart in `venv`."""
    (tmp_path / "PulumiPolicy.yaml").write_text("runtime:\n  name: python\n  options:\n    virtualenv: .pyenv\n")
    assert pack_virtualenv(tmp_path) == (tmp_path / ".pyenv").resolve()
    (tmp_path / "PulumiPolicy.yaml").write_text("runtime: python\n")
    assert pack_virtualenv(tmp_path) == (tmp_path / "venv").resolve()


def test_the_harness_takes_messages_as_large_as_pulumi_and_the_pack_do():
    """Pulumi's Python SDK and the pack's SDK both allow 400 MiB gRPC messages (pulumi/runtime/_grpc_settings.py and
    pulumi_policy/policy.py, `_MAX_RPC_MESSAGE_SIZE = 1024 * 1024 * 400`); the harness allows the same both ways, so
    a stack too large for them is too large here too, and no smaller one is refused."""
    from pulumi.runtime._grpc_settings import _MAX_RPC_MESSAGE_SIZE

    from preflight.pack_process import GRPC_OPTIONS

    assert _MAX_RPC_MESSAGE_SIZE == 400 * 1024 * 1024
    assert dict(GRPC_OPTIONS) == {"grpc.max_receive_message_length": _MAX_RPC_MESSAGE_SIZE,
                                  "grpc.max_send_message_length": _MAX_RPC_MESSAGE_SIZE}
    pack_sdk = (pack_virtualenv(Path(__file__).resolve().parents[2] / "policies") / "lib").glob(
        "python3*/site-packages/pulumi_policy/policy.py")
    assert "_MAX_RPC_MESSAGE_SIZE = 1024 * 1024 * 400\n" in next(pack_sdk).read_text()
