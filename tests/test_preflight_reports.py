"""`preflight check`'s report, JSON and gate verdict, and `python -m preflight`'s render summary, stated whole for
hand-built results: the icons and lines of the policy section of a `pulumi preview` (Pulumi CLI,
pkg/backend/display/progress.go policy summary: ❌ a mandatory violation, ⚠️ advisory only, ✅ none), the order of
violations (mandatory first, then by policy and URN), and the gate's sections and verdict."""

from __future__ import annotations

import json

import grpc
import pytest

from preflight import engine
from preflight.engine import CheckResult, PolicyPackError, PolicyPackSession, Violation, format_report, load_snapshot, result_to_json
from preflight.gate import GateResult, format_gate, gate_of, gate_to_json, without_applied


def _violation(policy: str, level: str, urn: str = "", message: str = "m", rtype: str = "", name: str = "") -> Violation:
    return Violation(policy, level, message, f"{policy} description", urn, rtype, name, "vllm-eks", "0.1.0")


def _result(violations: list[Violation], not_applicable: list[dict] | None = None, stack: str = "dev") -> CheckResult:
    return CheckResult(stack, "vllm-eks", "0.1.0", violations, 12, 1.23456, not_applicable or [], [{"name": "a"}, {"name": "b"}])


def test_a_report_lists_mandatory_then_advisory_violations_with_their_resource_and_indented_message():
    result = _result([
        _violation("zeta", "advisory", "urn:b", "two\n\nlines", "kubernetes:apps/v1:Deployment", "web"),
        _violation("beta", "remediate", "urn:a", "fixed"),
        _violation("alpha", "mandatory", "urn:z", "no", "aws:s3/bucketV2:BucketV2", "weights"),
        _violation("alpha", "mandatory", "urn:a", "again", "aws:s3/bucketV2:BucketV2", "logs"),
    ])
    assert (result.mandatory_count, result.advisory_count) == (3, 1)
    assert result.policy_names() == {"zeta", "beta", "alpha"}
    assert [v.urn for v in result.by_policy("alpha")] == ["urn:z", "urn:a"]
    assert format_report(result) == (
        "Policies:\n"
        "    ❌ vllm-eks@v0.1.0 (local: policies)\n"
        "        - [mandatory]  alpha  (aws:s3/bucketV2:BucketV2: logs)\n"
        "          again\n"
        "        - [mandatory]  alpha  (aws:s3/bucketV2:BucketV2: weights)\n"
        "          no\n"
        "        - [remediate]  beta\n"
        "          fixed\n"
        "        - [advisory]  zeta  (kubernetes:apps/v1:Deployment: web)\n"
        "          two\n"
        "\n"
        "          lines\n"
        "\n"
        "Stack dev: 12 resources, 2 policies, 3 mandatory and 1 advisory violation(s) in 1.23s")


def test_the_report_icon_is_a_warning_for_advisory_only_and_a_check_for_none():
    assert format_report(_result([_violation("zeta", "advisory")])).splitlines()[1] == "    ⚠️ vllm-eks@v0.1.0 (local: policies)"
    assert format_report(_result([])).splitlines()[1] == "    ✅ vllm-eks@v0.1.0 (local: policies)"
    assert format_report(_result([_violation("x", "disabled")])).splitlines()[2] == "        - [disabled]  x"


def test_the_json_result_names_every_field():
    violation = _violation("alpha", "mandatory", "urn:a", "no", "aws:s3/bucketV2:BucketV2", "weights")
    skipped = {"policy": "p", "reason": "unknown during preview", "urn": "urn:a"}
    assert result_to_json(_result([violation], [skipped])) == {
        "stack": "dev", "policyPack": "vllm-eks", "policyPackVersion": "0.1.0", "resourceCount": 12,
        "mandatoryCount": 1, "advisoryCount": 0, "elapsedSeconds": 1.235,
        "violations": [{"policy": "alpha", "enforcementLevel": "mandatory", "message": "no",
                        "description": "alpha description", "urn": "urn:a", "type": "aws:s3/bucketV2:BucketV2",
                        "name": "weights", "policyPack": "vllm-eks", "policyPackVersion": "0.1.0"}],
        "notApplicable": [skipped]}


def test_the_gate_shows_each_pass_the_deferred_policies_and_the_verdict():
    """A first preview's unknowns make a policy not applicable; the real CLI judges it during `pulumi up`."""
    preview = _result([], [{"policy": "b-policy", "reason": "unknown during preview: x", "urn": "u"},
                           {"policy": "a-policy", "reason": "unknown during preview: y", "urn": "v"},
                           {"policy": "c-policy", "reason": "not a Deployment", "urn": "w"}])
    applied = _result([_violation("alpha", "mandatory", "urn:a", "no")])
    offline = _result([_violation("alpha", "mandatory", "urn:a", "no"), _violation("remote", "advisory", "urn:r", "r")],
                      [{"policy": "z", "reason": "unknown during preview", "urn": "r"}])
    gate = gate_of("dev", preview, applied, offline)
    assert list(gate.checks) == ["firstPreview", "applied", "offlineOnly"]
    assert [v.policy_name for v in gate.checks["offlineOnly"].violations] == ["remote"]  # what applied did not report
    assert gate.checks["offlineOnly"].not_applicable == []
    assert (gate.mandatory_count, gate.passed) == (1, False)
    sections = format_gate(gate).split("\n\n")
    assert sections[0].splitlines()[0] == (
        "== First preview (what `pulumi preview --policy-pack policies` reports on a new stack) ==")
    assert sections[1].splitlines()[-1] == (
        "    judged only during `pulumi up` by the real CLI (values unknown at preview): a-policy, b-policy")
    assert sections[2].splitlines()[0] == "== Applied stack (values known: what `pulumi up` and every later preview judge) =="
    assert sections[4].splitlines()[0] == (
        "== Offline only: remote components judged on the program's own inputs (a real preview shows {}) ==")
    assert sections[-1] == "Gate for stack dev: FAILED: 1 mandatory violation(s)"
    as_json = gate_to_json(gate)
    assert (as_json["stack"], as_json["mandatoryCount"], as_json["passed"], list(as_json["checks"])) == (
        "dev", 1, False, ["firstPreview", "applied", "offlineOnly"])


def test_a_gate_with_no_mandatory_violation_passes_and_offline_only_needs_the_applied_pass():
    gate = gate_of("prod", _result([_violation("z", "advisory")], stack="prod"), None, _result([]))
    assert list(gate.checks) == ["firstPreview"]
    assert format_gate(gate).endswith("\n\nGate for stack prod: passed")
    assert "judged only during" not in format_gate(gate)
    assert GateResult("x").passed and gate_to_json(GateResult("x")) == {
        "stack": "x", "mandatoryCount": 0, "passed": True, "checks": {}}
    applied = _result([_violation("a", "advisory", "u", "m")])
    assert without_applied(_result([_violation("a", "advisory", "u", "other")]), applied).violations[0].message == "other"


def test_a_file_that_is_not_a_snapshot_is_refused(tmp_path):
    path = tmp_path / "s.json"
    for document in ([], {"stack": "dev"}, {"resources": {}}):
        path.write_text(json.dumps(document))
        with pytest.raises(ValueError, match=r"s\.json: not a preflight snapshot \(expected \{'stack': \.\.\., 'resources': \[\.\.\.\]\}\)$"):
            load_snapshot(path)
    path.write_text('{"stack": "dev", "resources": []}')
    assert load_snapshot(path) == {"stack": "dev", "resources": []}


def test_the_public_names_of_the_engine_module():
    assert sorted(engine.__all__) == ["CheckResult", "PolicyConfigError", "PolicyPackError", "PolicyPackSession",
                                      "Violation", "check_snapshot", "format_report", "load_snapshot",
                                      "reconcile_policy_config", "result_to_json"]
    assert all(hasattr(engine, name) for name in engine.__all__)


class _RpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str):
        self._code, self._details = code, details

    def code(self):
        return self._code

    def details(self):
        return self._details


class _Stub:
    """Answers each RPC with an error of the given code (what a gRPC server returns for an unimplemented method or a
    failing one; grpc docs, "Status codes")."""

    def __init__(self, code: grpc.StatusCode):
        self.code = code

    def __getattr__(self, method):
        def answer(request, timeout):
            raise _RpcError(self.code, f"{method} said no")
        return answer


def test_an_unimplemented_handshake_or_configure_stack_is_tolerated_and_any_other_error_is_named():
    """pulumi/pulumi sdk/go/common/resource/plugin/analyzer_plugin.go: the engine ignores UNIMPLEMENTED for Handshake
    and ConfigureStack (older packs), and fails on any other error."""
    session = PolicyPackSession()
    session.stub = _Stub(grpc.StatusCode.UNIMPLEMENTED)
    session._handshake()
    session._configure_stack()
    assert session.handshake_supported is False
    session.stub = _Stub(grpc.StatusCode.INTERNAL)
    with pytest.raises(PolicyPackError, match="^Handshake failed: Handshake said no$"):
        session._handshake()
    with pytest.raises(PolicyPackError, match="^ConfigureStack failed: ConfigureStack said no$"):
        session._configure_stack()
    session.stderr_lines = [f"trace {i}" for i in range(1, 51)]  # the last 40 lines: enough of a traceback
    with pytest.raises(PolicyPackError) as error:
        session._call("Analyze", None)
    assert str(error.value) == "Analyze failed: INTERNAL: Analyze said no\n" + "\n".join(f"trace {i}" for i in range(11, 51))


def test_the_pack_version_is_pulumipolicy_yamls(tmp_path):
    """The Pulumi CLI reports PulumiPolicy.yaml's version over the one the pack's code gives."""
    assert PolicyPackSession().pack_version == "0.1.0"
    (tmp_path / "PulumiPolicy.yaml").write_text("runtime: python\n")
    bare = PolicyPackSession(tmp_path)
    assert (bare.pack_version, bare.pack_name) == ("", "")


class _Session:
    """Stands in for a running pack: records what it is asked to judge and answers a result per snapshot."""

    def __init__(self, stack: str = "session-stack"):
        self.stack, self.calls = stack, []

    def check(self, snapshot, policy_config=None, analyze_only=None):
        self.calls.append((snapshot.get("stack"), snapshot.get("preview"), policy_config,
                           sorted(analyze_only) if analyze_only is not None else None))
        return _result([], stack=snapshot.get("stack") or self.stack)


def test_run_gate_judges_the_preview_then_the_applied_stack_and_only_remote_components_offline():
    remote = {"urn": "urn:eks", "type": "eks:index:Cluster", "remote": True, "offlineOnlyProgramInputs": {}}
    preview = {"stack": "prod", "preview": True, "resources": []}
    applied = {"stack": "prod", "preview": False, "resources": [remote, {"urn": "urn:b", "type": "t"}]}
    preview_pack, up_pack = _Session(), _Session()
    from preflight.gate import run_gate

    gate = run_gate(preview_pack, preview=preview, applied=applied, policy_config={"all": "advisory"},
                    applied_session=up_pack)
    assert gate.stack == "prod" and list(gate.checks) == ["firstPreview", "applied", "offlineOnly"]
    assert preview_pack.calls == [("prod", True, {"all": "advisory"}, None)]
    assert up_pack.calls == [("prod", False, {"all": "advisory"}, None), ("prod", False, {"all": "advisory"}, ["urn:eks"])]
    one = _Session()
    plain = run_gate(one, applied={"stack": "dev", "resources": [{"urn": "urn:b", "type": "t"}]})
    assert (plain.stack, list(plain.checks), one.calls) == ("dev", ["applied"], [("dev", None, None, None)])
    assert run_gate(_Session(), preview={"resources": []}).stack == "session-stack"


def test_a_one_shot_check_starts_the_pack_for_the_snapshots_stack_and_times_the_whole_run(monkeypatch):
    """The pack gets PULUMI_STACK of the stack it judges (pulumi-language-python RunPlugin), "dev" for a snapshot
    without one; a running session given is used as it is."""
    started = []

    class Pack(_Session):
        def __init__(self, pack_dir, stack):
            super().__init__(stack)
            started.append((pack_dir, stack))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

    monkeypatch.setattr(engine, "PolicyPackSession", Pack)
    import itertools

    clock = itertools.count(10.0, 2.5)
    monkeypatch.setattr(engine.time, "perf_counter", lambda: next(clock))
    result = engine.check_snapshot({"stack": "prod", "resources": []}, pack_dir="/packs/p")
    assert started == [("/packs/p", "prod")] and result.stack == "prod" and result.elapsed_seconds == 2.5
    engine.check_snapshot({"resources": []}, pack_dir="/packs/p")
    assert started[-1] == ("/packs/p", "dev")
    running = _Session("x")
    engine.check_snapshot({"stack": "s", "resources": []}, {"all": "advisory"}, session=running)
    assert running.calls == [("s", None, {"all": "advisory"}, None)] and len(started) == 2
