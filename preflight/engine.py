"""The engine side of Pulumi's Analyzer gRPC protocol: run a CrossGuard policy pack the way `pulumi preview
--policy-pack` does, offline.

How the Pulumi CLI (3.x) runs a Python policy pack, mirrored here step by step
(pulumi/pulumi sdk/go/common/resource/plugin/analyzer_plugin.go `NewPolicyAnalyzer`, and the shim
sdk/python/dist/pulumi-analyzer-policy-python):

1. it starts the pack as a subprocess, which prints the port of its gRPC server (`preflight.pack_process`);
2. Handshake(engine_address, root/program directory) - pulumi-policy 1.21 answers UNIMPLEMENTED, which the
   engine tolerates; ConfigureStack(stack, project, organization, dry_run);
3. GetAnalyzerInfo, then Configure with every policy's config = schema defaults, then the pack's initialConfig,
   then the user's --policy-pack-config (ReconcilePolicyPackConfig), validated against each schema;
4. Analyze for every resource as it is registered, AnalyzeStack once at the end with all resources.

The messages are built in `preflight.analyzer_protocol`; this module drives the RPCs and reports the result.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from preflight.analyzer_protocol import (
    LEVEL_NAMES, analyze_request, analyze_stack_request, configure_request, engine_view,
    initial_config_of, policies_of, reconcile_policy_config,
)
from preflight.pack_process import DEFAULT_POLICY_PACK, PolicyPackError, PolicyPackProcess
from preflight.policy_config import PolicyConfigError

# ---------------------------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------------------------

@dataclass
class Violation:
    policy_name: str
    enforcement_level: str  # "mandatory" | "advisory" | "remediate"
    message: str
    description: str
    urn: str = ""
    resource_type: str = ""
    resource_name: str = ""
    policy_pack: str = ""
    policy_pack_version: str = ""

    def to_dict(self) -> dict:
        return {
            "policy": self.policy_name, "enforcementLevel": self.enforcement_level, "message": self.message,
            "description": self.description, "urn": self.urn, "type": self.resource_type, "name": self.resource_name,
            "policyPack": self.policy_pack, "policyPackVersion": self.policy_pack_version,
        }


@dataclass
class CheckResult:
    stack: str
    policy_pack: str
    policy_pack_version: str
    violations: list[Violation]
    resource_count: int
    elapsed_seconds: float
    not_applicable: list[dict] = field(default_factory=list)
    policies: list[dict] = field(default_factory=list)

    @property
    def mandatory_count(self) -> int:
        return sum(1 for v in self.violations if v.enforcement_level in ("mandatory", "remediate"))

    @property
    def advisory_count(self) -> int:
        return sum(1 for v in self.violations if v.enforcement_level == "advisory")

    def by_policy(self, name: str) -> list[Violation]:
        return [v for v in self.violations if v.policy_name == name]

    def policy_names(self) -> set[str]:
        return {v.policy_name for v in self.violations}


# ---------------------------------------------------------------------------------------------------------------
# The session: one pack subprocess, reusable across checks
# ---------------------------------------------------------------------------------------------------------------

class PolicyPackSession(PolicyPackProcess):
    """A running policy pack, driven over gRPC like the Pulumi engine drives it. Use as a context manager.

    Takes PolicyPackProcess's arguments: the pack directory, then stack, project, organization, python (default: the
    pack's own virtualenv), startup_timeout, extra_env, dry_run, config and tags (`stack_environment`).
    """

    def __init__(self, pack_dir: Path | str = DEFAULT_POLICY_PACK, **launch):
        super().__init__(pack_dir, **launch)
        self.stub: Optional[analyzer_pb2_grpc.AnalyzerStub] = None
        self.info: Optional[analyzer_pb2.AnalyzerInfo] = None
        self.handshake_supported: Optional[bool] = None
        self._lock = threading.Lock()

    def start(self) -> None:
        super().start()
        assert self.channel is not None, "the pack process opens its channel in start()"
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)
        self._handshake()
        self._configure_stack()
        self.info = self._call("GetAnalyzerInfo", empty_pb2.Empty())

    # -- RPCs --------------------------------------------------------------------------------------------------

    def _call(self, method: str, request):
        assert self.stub is not None, "session not started"
        try:
            return getattr(self.stub, method)(request, timeout=120)
        except grpc.RpcError as error:
            raise PolicyPackError(f"{method} failed: {error.code().name}: {error.details()}\n"
                                  + "\n".join(self.stderr_lines[-40:])) from error

    def _handshake(self) -> None:
        request = analyzer_pb2.AnalyzerHandshakeRequest(
            engine_address=self.engine_address, root_directory=str(self.pack_dir),
            program_directory=str(self.pack_dir))
        assert self.stub is not None, "session not started"
        try:
            self.stub.Handshake(request, timeout=30)
            self.handshake_supported = True
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise PolicyPackError(f"Handshake failed: {error.details()}") from error
            self.handshake_supported = False  # the engine falls back silently, so do we

    def _configure_stack(self) -> None:
        request = analyzer_pb2.AnalyzerStackConfigureRequest(
            stack=self.stack, project=self.project, organization=self.organization, dry_run=self.dry_run,
            config=self.config, tags=self.tags)
        assert self.stub is not None, "session not started"
        try:
            self.stub.ConfigureStack(request, timeout=30)
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise PolicyPackError(f"ConfigureStack failed: {error.details()}") from error

    # -- metadata ----------------------------------------------------------------------------------------------

    def policies(self) -> list[dict]:
        """Policy metadata from GetAnalyzerInfo: name, description, enforcementLevel, configSchema, type."""
        assert self.info is not None
        return policies_of(self.info)

    def initial_config(self) -> dict:
        assert self.info is not None
        return initial_config_of(self.info)

    def configure(self, policy_config: Optional[dict] = None) -> dict:
        """Send Configure with defaults + initial config + `policy_config` (the --policy-pack-config content)."""
        reconciled = reconcile_policy_config(self.policies(), self.initial_config(), policy_config)
        self._call("Configure", configure_request(reconciled))
        return reconciled

    # -- the check ---------------------------------------------------------------------------------------------

    def check(self, snapshot: dict, policy_config: Optional[dict] = None,
              analyze_only: Optional[set[str]] = None) -> CheckResult:
        """Configure, Analyze every resource (or only the URNs in `analyze_only`), AnalyzeStack once; collect
        diagnostics."""
        with self._lock:
            started = time.perf_counter()
            self.configure(policy_config)
            resources = engine_view(snapshot)
            by_urn = {r.get("urn"): r for r in resources}
            violations: list[Violation] = []
            not_applicable: list[dict] = []

            def collect(response, default: Optional[dict]) -> None:
                for diagnostic in response.diagnostics:
                    urn = diagnostic.urn or (default or {}).get("urn", "")
                    target = by_urn.get(urn) or (default if not diagnostic.urn else None) or {}
                    violations.append(Violation(
                        policy_name=diagnostic.policyName,
                        enforcement_level=LEVEL_NAMES.get(diagnostic.enforcementLevel, "advisory"),
                        message=diagnostic.message, description=diagnostic.description, urn=urn,
                        resource_type=target.get("type", ""), resource_name=target.get("name", ""),
                        policy_pack=diagnostic.policyPackName, policy_pack_version=self.pack_version))
                for item in response.not_applicable:
                    not_applicable.append({"policy": item.policy_name, "reason": item.reason,
                                           "urn": (default or {}).get("urn", "")})

            # The engine analyses resources as the program registers them; a few in flight keeps it quick.
            with futures.ThreadPoolExecutor(max_workers=4) as pool:
                responses = list(pool.map(
                    lambda resource: (resource, self._call("Analyze", analyze_request(resource, by_urn))),
                    [r for r in resources if analyze_only is None or r.get("urn") in analyze_only]))
            for resource, response in responses:
                collect(response, resource)
            collect(self._call("AnalyzeStack", analyze_stack_request(resources, by_urn)), None)
            elapsed = time.perf_counter() - started
            return CheckResult(stack=snapshot.get("stack", self.stack), policy_pack=self.pack_name,
                               policy_pack_version=self.pack_version, violations=violations,
                               resource_count=len(resources), elapsed_seconds=elapsed,
                               not_applicable=not_applicable, policies=self.policies())

    @property
    def pack_name(self) -> str:
        return self.info.name if self.info else ""

    @property
    def pack_version(self) -> str:
        # The CLI prefers PulumiPolicy.yaml's version over the one the pack reports.
        try:
            import yaml
            version = (yaml.safe_load((self.pack_dir / "PulumiPolicy.yaml").read_text()) or {}).get("version")
            if version:
                return str(version)
        except Exception:  # pragma: no cover - yaml missing or unreadable file
            pass
        return self.info.version if self.info else ""


# ---------------------------------------------------------------------------------------------------------------
# One-shot API used by `python -m preflight check`
# ---------------------------------------------------------------------------------------------------------------

def check_snapshot(snapshot: dict, policy_config: Optional[dict] = None, *,
                   session: Optional[PolicyPackSession] = None,
                   pack_dir: Path | str = DEFAULT_POLICY_PACK) -> CheckResult:
    """Run the policy pack over a snapshot like `pulumi preview --policy-pack` would; starts and stops the pack
    unless a running `session` is given. Elapsed time includes the pack start-up in the one-shot case."""
    if session is not None:
        return session.check(snapshot, policy_config)
    started = time.perf_counter()
    with PolicyPackSession(pack_dir, stack=snapshot.get("stack") or "dev") as own:
        result = own.check(snapshot, policy_config)
    result.elapsed_seconds = time.perf_counter() - started
    return result


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def format_report(result: CheckResult) -> str:
    """The policy section of a `pulumi preview`, plus a summary line."""
    icon = "❌" if result.mandatory_count else ("⚠️" if result.violations else "✅")
    lines = ["Policies:", f"    {icon} {result.policy_pack}@v{result.policy_pack_version} (local: policies)"]
    order = {"mandatory": 0, "remediate": 0, "advisory": 1}
    for v in sorted(result.violations, key=lambda v: (order.get(v.enforcement_level, 2), v.policy_name, v.urn)):
        where = f"  ({v.resource_type}: {v.resource_name})" if v.resource_type else ""
        lines.append(f"        - [{v.enforcement_level}]  {v.policy_name}{where}")
        lines.append(_indent(v.message, "          "))
    lines.append("")
    lines.append(f"Stack {result.stack}: {result.resource_count} resources, {len(result.policies)} policies, "
                 f"{result.mandatory_count} mandatory and {result.advisory_count} advisory violation(s) "
                 f"in {result.elapsed_seconds:.2f}s")
    return "\n".join(lines)


def result_to_json(result: CheckResult) -> dict:
    return {
        "stack": result.stack,
        "policyPack": result.policy_pack,
        "policyPackVersion": result.policy_pack_version,
        "resourceCount": result.resource_count,
        "mandatoryCount": result.mandatory_count,
        "advisoryCount": result.advisory_count,
        "elapsedSeconds": round(result.elapsed_seconds, 3),
        "violations": [v.to_dict() for v in result.violations],
        "notApplicable": result.not_applicable,
    }


def load_snapshot(path: Path | str) -> dict:
    with open(path, encoding="utf-8") as handle:
        snapshot = json.load(handle)
    if not isinstance(snapshot, dict) or not isinstance(snapshot.get("resources"), list):
        raise ValueError(f"{path}: not a preflight snapshot (expected {{'stack': ..., 'resources': [...]}})")
    return snapshot


__all__ = ["CheckResult", "PolicyConfigError", "PolicyPackError", "PolicyPackSession", "Violation",
           "check_snapshot", "format_report", "load_snapshot", "reconcile_policy_config", "result_to_json"]
