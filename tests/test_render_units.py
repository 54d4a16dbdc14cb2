"""The pure parts of `preflight render` and `python -m preflight`: Go durations, JSON-safe values, the engine's own
resources (Stack and default providers) stated whole, the summary text, and the CLI's refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pulumi.runtime import rpc

from preflight import __main__ as cli
from preflight.render import (
    _directory_digest,
    _duration_seconds,
    _plain,
    engine_resources,
    project_name,
    read_stack_config,
    read_stack_file,
    write_snapshot,
)


@pytest.mark.parametrize("text, seconds", [
    ("40m", 2400.0), ("1h30m", 5400.0), ("90s", 90.0), ("1.5h", 5400.0), ("250ms", 0.25), ("10us", 1e-5),
    ("10µs", 1e-5), ("500ns", 5e-7), ("1h1m1s", 3661.0),
])
def test_go_durations_in_seconds(text, seconds):
    """Go's time.ParseDuration units: ns, us (or µs), ms, s, m, h (pkg.go.dev/time#ParseDuration)."""
    assert _duration_seconds(text) == pytest.approx(seconds, rel=1e-12)


@pytest.mark.parametrize("text", ["", "40", "40 m", "m40", "40x", "1h 30m", "-5m"])
def test_what_is_not_a_go_duration_is_refused(text):
    with pytest.raises(ValueError, match=f"^not a Go duration: {text!r}$"):
        _duration_seconds(text)


def test_plain_values_are_json_safe():
    import pulumi

    class Reference:
        urn = "urn:x"
        _name = "bucket"

    class Anonymous:
        urn = "urn:y"

    assert _plain({"a": (1, [2.5, None, True]), "b": rpc.UNKNOWN, "c": Reference(), "d": Anonymous(), "e": b"x"}) == {
        "a": [1, [2.5, None, True]], "b": rpc.UNKNOWN, "c": "bucket", "d": "resource-reference", "e": "b'x'"}
    archive = pulumi.FileArchive(str(Path(__file__).resolve().parent / "crds"))
    assert _plain(archive) == f"FileArchive(sha256:{_directory_digest(Path(archive.path))})"


def test_the_directory_digest_covers_paths_and_bytes_but_not_bytecode(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    first = _directory_digest(tmp_path)
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    assert _directory_digest(tmp_path) == first
    (tmp_path / "a.py").rename(tmp_path / "b.py")
    renamed = _directory_digest(tmp_path)
    assert renamed != first
    (tmp_path / "b.py").write_text("x = 2\n")
    assert _directory_digest(tmp_path) not in (first, renamed)


def test_the_engine_registers_the_stack_and_one_default_provider_per_package_and_version():
    """pkg/resource/deploy/default_providers.go: `pulumi:providers:<pkg>` named default_<major>_<minor>_<patch>,
    inputs = the stack's config of that package (strings) plus `version`, no parent; its id unknown on a first
    preview. Resources with an explicit provider, components and the engine's own `pulumi:` types get none."""
    def resource(name, rtype, version="7.1.0", provider=None, remote=False):
        return {"urn": f"urn:pulumi:dev::p::{rtype}::{name}", "type": rtype, "remote": remote, "packageVersion": version,
                "options": {"provider": provider}}

    resources = [resource("a", "aws:s3/bucket:Bucket"), resource("b", "aws:iam/role:Role"),
                 resource("c", "kubernetes:core/v1:Namespace", "4.18.0-alpha.1"),
                 resource("d", "aws:s3/bucket:Bucket", provider="urn:explicit::id"),
                 resource("e", "vllm-eks:index:Network", None), resource("f", "eks:index:Cluster", "3.9.1", remote=True),
                 resource("g", "pulumi:providers:aws", "7.1.0")]
    registrations = [{"custom": True}, {"custom": True}, {"custom": True}, {"custom": True}, {"custom": False},
                     {"custom": False}, {"custom": True}]
    config = {"aws:region": "eu-west-1", "aws:defaultTags": {"tags": {"a": "b"}}, "kubernetes:context": "x", "p:k": 1}
    entries = engine_resources("dev", config, resources, registrations, {"out": 1}, preview=True, project="p")
    stack, *providers = entries
    assert stack == {"urn": "urn:pulumi:dev::p::pulumi:pulumi:Stack::p-dev", "type": "pulumi:pulumi:Stack", "name": "p-dev",
                     "parent": None, "custom": False, "remote": False, "props": {},
                     "options": {"protect": False, "provider": None, "dependsOn": []}, "propertyDependencies": {},
                     "outputs": {"out": 1}}
    common = {"parent": None, "custom": True, "remote": False, "options": {"protect": False, "provider": None, "dependsOn": []},
              "propertyDependencies": {}, "outputs": {}, "id": rpc.UNKNOWN}
    assert providers == [
        {"urn": "urn:pulumi:dev::p::pulumi:providers:aws::default_7_1_0", "type": "pulumi:providers:aws",
         "name": "default_7_1_0", "props": {"region": "eu-west-1", "defaultTags": '{"tags": {"a": "b"}}', "version": "7.1.0"},
         **common},
        {"urn": "urn:pulumi:dev::p::pulumi:providers:kubernetes::default_4_18_0_alpha_1",
         "type": "pulumi:providers:kubernetes", "name": "default_4_18_0_alpha_1",
         "props": {"context": "x", "version": "4.18.0-alpha.1"}, **common},
        {"urn": "urn:pulumi:dev::p::pulumi:providers:eks::default_3_9_1", "type": "pulumi:providers:eks",
         "name": "default_3_9_1", "props": {"version": "3.9.1"}, **common},
    ]
    assert [r["options"]["provider"] for r in resources] == [
        f"urn:pulumi:dev::p::pulumi:providers:aws::default_7_1_0::{rpc.UNKNOWN}"] * 2 + [
        f"urn:pulumi:dev::p::pulumi:providers:kubernetes::default_4_18_0_alpha_1::{rpc.UNKNOWN}",
        "urn:explicit::id", None, f"urn:pulumi:dev::p::pulumi:providers:eks::default_3_9_1::{rpc.UNKNOWN}", None]
    applied = engine_resources("dev", {}, [resource("a", "aws:s3/bucket:Bucket")], [{"custom": True}], {}, preview=False)
    provider_id = applied[1]["id"]
    assert applied[1]["urn"] == "urn:pulumi:dev::vllm-eks::pulumi:providers:aws::default_7_1_0"
    assert provider_id != rpc.UNKNOWN and len(provider_id) == 36  # a stable UUID
    again = engine_resources("dev", {}, [resource("a", "aws:s3/bucket:Bucket")], [{"custom": True}], {}, preview=False)
    assert again[1]["id"] == provider_id


def test_stack_files_and_projects_are_read_or_refused_by_name(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: demo\n")
    (tmp_path / "Pulumi.b.yaml").write_text("config:\n  demo:k: 1\n")
    (tmp_path / "Pulumi.a.yaml").write_text("")
    assert project_name(tmp_path) == "demo" and project_name(tmp_path / "nowhere") == "vllm-eks"
    assert read_stack_config("b", tmp_path) == {"demo:k": 1} and read_stack_config("a", tmp_path) == {}
    with pytest.raises(FileNotFoundError, match=r"^no stack file Pulumi\.c\.yaml; stacks here: a, b$"):
        read_stack_config("c", tmp_path)
    assert read_stack_file(tmp_path / "Pulumi.b.yaml") == ("b", {"demo:k": 1})
    with pytest.raises(FileNotFoundError, match=r"^no stack file .*Pulumi\.c\.yaml$"):
        read_stack_file(tmp_path / "Pulumi.c.yaml")
    write_snapshot({"stack": "b", "resources": []}, tmp_path / "s.json")
    assert (tmp_path / "s.json").read_text() == '{\n "stack": "b",\n "resources": []\n}\n'


def test_the_render_summary_counts_types_and_draws_the_component_tree():
    def entry(name, rtype, parent, custom):
        return {"urn": f"u:{name}", "type": rtype, "name": name, "parent": parent, "custom": custom}

    snapshot = {"stack": "dev", "region": "eu-west-1", "resources": [
        entry("net", "vllm-eks:index:Network", None, False), entry("vpc", "aws:ec2/vpc:Vpc", "u:net", True),
        entry("sub", "vllm-eks:index:Subnets", "u:net", False), entry("s1", "aws:ec2/subnet:Subnet", "u:sub", True),
        entry("s2", "aws:ec2/subnet:Subnet", "u:sub", True), entry("orphan", "aws:s3/bucket:Bucket", "u:stack", True)]}
    assert cli.summarise(snapshot) == (
        "stack dev (eu-west-1)\n\nresources per type:\n"
        "     2  aws:ec2/subnet:Subnet\n"
        "     1  aws:ec2/vpc:Vpc\n     1  aws:s3/bucket:Bucket\n     1  vllm-eks:index:Network\n"
        "     1  vllm-eks:index:Subnets\n\ncomponent tree:\n"
        "  net (vllm-eks:index:Network, 2 children)\n    sub (vllm-eks:index:Subnets, 2 children)")


def test_the_cli_refuses_stray_arguments_and_a_missing_stack_file(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["render", "--stack", "dev", "stray"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == "python -m preflight: error: unrecognized arguments: stray"
    assert cli.main(["render", "--stack-file", str(tmp_path / "Pulumi.none.yaml")]) == 2
    assert capsys.readouterr().err == f"error: no stack file {tmp_path / 'Pulumi.none.yaml'}\n"
    with pytest.raises(ValueError, match=r"^name a stack \(--stack\) or a stack file \(--stack-file\)$"):
        cli._given(None)


def test_config_reference_prints_the_reference(capsys):
    from preflight.config_reference import reference_markdown

    assert cli.main(["config-reference"]) == 0
    assert capsys.readouterr().out == reference_markdown() + "\n"


def test_the_subcommands_hand_their_arguments_on(monkeypatch):
    import preflight.check_cli
    import preflight.doctor
    import preflight.plan_cli

    seen = []
    for module in (preflight.check_cli, preflight.plan_cli, preflight.doctor):
        monkeypatch.setattr(module, "main", lambda rest, name=module.__name__: seen.append((name, rest)) or 7)
    assert [cli.main([command, "--x", "1"]) for command in ("check", "plan", "doctor")] == [7, 7, 7]
    assert seen == [("preflight.check_cli", ["--x", "1"]), ("preflight.plan_cli", ["--x", "1"]),
                    ("preflight.doctor", ["--x", "1"])]


def test_the_capacity_report_of_a_stack_file_prices_each_model_in_its_region(tmp_path):
    config = read_stack_config("dev")
    path = tmp_path / "Pulumi.other.yaml"
    path.write_text(json.dumps({"config": {**config, "aws:region": "eu-west-1"}}))
    report = cli.capacity_report(None, path)
    assert report.startswith("capacity plan:\n") and report.endswith(
        "  on-demand price    missing: vllm_eks/planning/catalog.py REGION_PRICES has no g6.2xlarge price for eu-west-1")
