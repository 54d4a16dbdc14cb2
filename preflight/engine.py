"""The engine side of Pulumi's Analyzer gRPC protocol: run a CrossGuard policy pack the way `pulumi preview
--policy-pack` does, offline.

How the Pulumi CLI (3.x) runs a Python policy pack, mirrored here step by step
(pulumi/pulumi sdk/go/common/resource/plugin/analyzer_plugin.go `NewPolicyAnalyzer`, and the shim
sdk/python/dist/pulumi-analyzer-policy-python):

1. it starts `pulumi-analyzer-policy-python <engine-address> . [-virtualenv=venv]` with the policy pack directory as
   working directory and PULUMI_PROJECT / PULUMI_STACK / PULUMI_DRY_RUN / PULUMI_ORGANIZATION / PULUMI_CONFIG in the
   environment; the shim execs `python -u -m pulumi.policy <engine-address> .`, which runs the pack's
   `__main__.py`; `PolicyPack(...)` starts a gRPC server on 127.0.0.1:0 and prints the port on stdout;
2. Handshake(engine_address, root/program directory) - pulumi-policy 1.21 answers UNIMPLEMENTED, which the
   engine tolerates; ConfigureStack(stack, project, organization, dry_run);
3. GetAnalyzerInfo, then Configure with every policy's config = schema defaults, then the pack's initialConfig,
   then the user's --policy-pack-config (ReconcilePolicyPackConfig), validated against each schema;
4. Analyze for every resource as it is registered, AnalyzeStack once at the end with all resources.

Only what the real engine can send is sent: AnalyzerResourceOptions carries `protect` but has no
`retainOnDelete` field, so a policy pack can never see retainOnDelete.
"""

from __future__ import annotations

import copy
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc, engine_pb2_grpc, plugin_pb2

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POLICY_PACK = PROJECT_ROOT / "policies"
DEFAULT_PROJECT = "vllm-eks"
_GRPC_OPTIONS = [("grpc.max_receive_message_length", 1024 * 1024 * 400),
                 ("grpc.max_send_message_length", 1024 * 1024 * 400)]

LEVEL_NAMES = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.DISABLED: "disabled",
    analyzer_pb2.REMEDIATE: "remediate",
}
LEVEL_VALUES = {name: value for value, name in LEVEL_NAMES.items()}


class PolicyPackError(RuntimeError):
    """The policy pack failed to start or answered an RPC with an error."""


class PolicyConfigError(ValueError):
    """The policy configuration does not validate against the pack's schemas (the CLI refuses to run then)."""


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

    @property
    def passed(self) -> bool:
        return self.mandatory_count == 0

    def by_policy(self, name: str) -> list[Violation]:
        return [v for v in self.violations if v.policy_name == name]

    def policy_names(self) -> set[str]:
        return {v.policy_name for v in self.violations}


# ---------------------------------------------------------------------------------------------------------------
# The in-process Engine service the pack may log to
# ---------------------------------------------------------------------------------------------------------------

class _EngineServicer(engine_pb2_grpc.EngineServicer):
    def __init__(self) -> None:
        self.logs: list[tuple[int, str, str]] = []

    def Log(self, request, context):  # noqa: N802 - gRPC method name
        self.logs.append((request.severity, request.urn, request.message))
        return empty_pb2.Empty()

    def GetRootResource(self, request, context):  # noqa: N802
        from pulumi.runtime.proto import engine_pb2
        return engine_pb2.GetRootResourceResponse(urn="")

    def SetRootResource(self, request, context):  # noqa: N802
        from pulumi.runtime.proto import engine_pb2
        return engine_pb2.SetRootResourceResponse()


# ---------------------------------------------------------------------------------------------------------------
# Configuration, as the engine reconciles it
# ---------------------------------------------------------------------------------------------------------------

def _struct_to_dict(message) -> dict:
    return json_format.MessageToDict(message) if message is not None else {}


def reconcile_policy_config(policies: list[dict], initial_config: dict, user_config: Optional[dict]) -> dict:
    """Defaults from each schema, then the pack's initialConfig, then the user's config (with "all" support),
    validated like pulumi's ReconcilePolicyPackConfig. Returns {policy: {"enforcementLevel": str, "properties": {}}}.
    """
    result: dict[str, dict] = {}
    for policy in policies:
        properties = {k: copy.deepcopy(v["default"]) for k, v in policy["configSchema"].get("properties", {}).items()
                      if isinstance(v, dict) and "default" in v}
        result[policy["name"]] = {"enforcementLevel": policy["enforcementLevel"], "properties": properties}

    def apply(config: dict) -> None:
        normalized: dict[str, dict] = {}
        for key, value in config.items():
            if isinstance(value, str):
                normalized[key] = {"enforcementLevel": value, "properties": {}}
            elif isinstance(value, dict):
                props = {k: v for k, v in value.items() if k != "enforcementLevel"}
                normalized[key] = {"enforcementLevel": value.get("enforcementLevel"), "properties": props}
            else:
                raise PolicyConfigError(f"policy config {key!r}: {value!r} must be an enforcement level or an object")
        for key, value in normalized.items():
            level = value["enforcementLevel"]
            if level is not None and level not in LEVEL_VALUES:
                raise PolicyConfigError(f"policy config {key!r}: enforcementLevel {level!r} is not one of "
                                        f"{sorted(LEVEL_VALUES)}")
        if "all" in normalized and normalized["all"]["enforcementLevel"]:
            for entry in result.values():
                entry["enforcementLevel"] = normalized["all"]["enforcementLevel"]
        for key, value in normalized.items():
            if key == "all":
                continue
            entry = result.setdefault(key, {"enforcementLevel": "advisory", "properties": {}})
            if value["enforcementLevel"]:
                entry["enforcementLevel"] = value["enforcementLevel"]
            entry["properties"].update(copy.deepcopy(value["properties"]))

    apply(initial_config or {})
    apply(user_config or {})

    known = {p["name"] for p in policies}
    errors = [f"{name}: no such policy in the pack" for name in result if name not in known]
    try:
        import jsonschema
    except ImportError:  # pragma: no cover - jsonschema ships with the venv
        jsonschema = None
    if jsonschema is not None:
        for policy in policies:
            schema = {"type": "object", "properties": policy["configSchema"].get("properties", {})}
            if policy["configSchema"].get("required"):
                schema["required"] = policy["configSchema"]["required"]
            validator = jsonschema.Draft7Validator(schema)
            for error in validator.iter_errors(result[policy["name"]]["properties"]):
                where = ".".join(str(p) for p in error.path) or "(root)"
                errors.append(f"{policy['name']}: {where}: {error.message}")
    if errors:
        raise PolicyConfigError("invalid policy pack configuration:\n  " + "\n  ".join(errors))
    return result


# ---------------------------------------------------------------------------------------------------------------
# Snapshot -> protocol messages
# ---------------------------------------------------------------------------------------------------------------

def _to_struct(props: Any) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    if isinstance(props, dict):
        # The engine marshals with SkipInternalKeys: "__defaults", "__meta" etc. never reach the pack.
        struct.update({k: v for k, v in props.items() if not (isinstance(k, str) and k.startswith("__"))})
    return struct


def _urn_type(urn: str) -> str:
    parts = urn.split("::")
    return parts[2].split("$")[-1] if len(parts) >= 4 else ""


def _urn_name(urn: str) -> str:
    parts = urn.split("::")
    return parts[3] if len(parts) >= 4 else urn


def _options(resource: dict) -> analyzer_pb2.AnalyzerResourceOptions:
    options = resource.get("options") or {}
    message = analyzer_pb2.AnalyzerResourceOptions(
        protect=bool(options.get("protect", False)),
        ignoreChanges=[str(x) for x in options.get("ignoreChanges", []) or []],
        additionalSecretOutputs=[str(x) for x in options.get("additionalSecretOutputs", []) or []],
        aliases=[str(x) for x in options.get("aliases", []) or []],
        parent=resource.get("parent") or "",
    )
    if options.get("deleteBeforeReplace") is not None:
        message.deleteBeforeReplace = bool(options["deleteBeforeReplace"])
        message.deleteBeforeReplaceDefined = True
    timeouts = options.get("customTimeouts") or {}
    message.customTimeouts.CopyFrom(analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts(
        create=float(timeouts.get("create", 0) or 0), update=float(timeouts.get("update", 0) or 0),
        delete=float(timeouts.get("delete", 0) or 0)))
    return message


def _provider(resource: dict, by_urn: dict) -> Optional[analyzer_pb2.AnalyzerProviderResource]:
    reference = (resource.get("options") or {}).get("provider") or resource.get("provider")
    if not isinstance(reference, str) or not reference:
        return None
    # A provider reference is "<provider urn>::<provider id>"; a URN itself has exactly three "::".
    urn = reference.rsplit("::", 1)[0] if reference.count("::") >= 4 else reference
    target = by_urn.get(urn)
    return analyzer_pb2.AnalyzerProviderResource(
        type=_urn_type(urn), urn=urn, name=_urn_name(urn),
        properties=_to_struct(target.get("props") if target else {}))


def _dependencies(resource: dict) -> list[str]:
    deps = resource.get("dependencies")
    if deps is None:  # a snapshot may only know the explicit dependsOn
        deps = (resource.get("options") or {}).get("dependsOn") or []
    return [str(d) for d in deps if d]


def _property_dependencies(resource: dict) -> dict:
    deps = resource.get("propertyDependencies") or {}
    return {k: analyzer_pb2.AnalyzerPropertyDependencies(urns=[str(u) for u in v]) for k, v in deps.items() if v}


# ---------------------------------------------------------------------------------------------------------------
# The session: one pack subprocess, reusable across checks
# ---------------------------------------------------------------------------------------------------------------

class PolicyPackSession:
    """A running policy pack, driven over gRPC like the Pulumi engine drives it. Use as a context manager."""

    def __init__(self, pack_dir: Path | str = DEFAULT_POLICY_PACK, *, stack: str = "dev",
                 project: str = DEFAULT_PROJECT, organization: str = "organization",
                 python: str = sys.executable, startup_timeout: float = 60.0, extra_env: Optional[dict] = None):
        self.pack_dir = Path(pack_dir).resolve()
        self.stack, self.project, self.organization = stack, project, organization
        self.python, self.startup_timeout = python, startup_timeout
        self.extra_env = dict(extra_env or {})
        self.process: Optional[subprocess.Popen] = None
        self.channel: Optional[grpc.Channel] = None
        self.stub: Optional[analyzer_pb2_grpc.AnalyzerStub] = None
        self.engine_server: Optional[grpc.Server] = None
        self.engine = _EngineServicer()
        self.engine_address = ""
        self.info: Optional[analyzer_pb2.AnalyzerInfo] = None
        self.handshake_supported: Optional[bool] = None
        self.stderr_lines: list[str] = []
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def __enter__(self) -> "PolicyPackSession":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def command(self) -> list[str]:
        """What the pulumi-analyzer-policy-python shim execs: python -u -m pulumi.policy <engine> <program>."""
        return [self.python, "-u", "-m", "pulumi.policy", self.engine_address, "."]

    def start(self) -> None:
        if not (self.pack_dir / "PulumiPolicy.yaml").exists():
            raise PolicyPackError(f"{self.pack_dir} is not a policy pack (no PulumiPolicy.yaml)")
        self.engine_server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), options=_GRPC_OPTIONS)
        engine_pb2_grpc.add_EngineServicer_to_server(self.engine, self.engine_server)
        port = self.engine_server.add_insecure_port("127.0.0.1:0")
        self.engine_server.start()
        self.engine_address = f"127.0.0.1:{port}"

        env = dict(os.environ)
        env.update({"PULUMI_PROJECT": self.project, "PULUMI_STACK": self.stack, "PULUMI_DRY_RUN": "true",
                    "PULUMI_ORGANIZATION": self.organization, "PYTHONUNBUFFERED": "1"})
        env.update(self.extra_env)
        try:
            self.process = subprocess.Popen(
                self.command(), cwd=self.pack_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                start_new_session=True)  # own process group: close() kills the pack and anything it spawned
        except OSError as error:
            self.close()
            raise PolicyPackError(f"could not start the policy pack: {error}") from error

        port_line: "queue.Queue[Optional[str]]" = queue.Queue()
        threading.Thread(target=self._read_stdout, args=(port_line,), daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        try:
            line = port_line.get(timeout=self.startup_timeout)
        except queue.Empty:
            line = None
        if not line or not line.strip().isdigit():
            self.close()
            raise PolicyPackError("the policy pack did not print its port (first stdout line); stderr:\n"
                                  + "\n".join(self.stderr_lines[-40:]))
        self.channel = grpc.insecure_channel(f"127.0.0.1:{line.strip()}", options=_GRPC_OPTIONS)
        try:
            grpc.channel_ready_future(self.channel).result(timeout=self.startup_timeout)
        except grpc.FutureTimeoutError as error:
            self.close()
            raise PolicyPackError("could not connect to the policy pack") from error
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)
        self._handshake()
        self._configure_stack()
        self.info = self._call("GetAnalyzerInfo", empty_pb2.Empty())

    def _read_stdout(self, port_line: "queue.Queue[Optional[str]]") -> None:
        assert self.process and self.process.stdout
        first = True
        for raw in self.process.stdout:
            text = raw.decode(errors="replace").rstrip("\n")
            if first:
                port_line.put(text)
                first = False
        if first:
            port_line.put(None)

    def _read_stderr(self) -> None:
        assert self.process and self.process.stderr
        for raw in self.process.stderr:
            self.stderr_lines.append(raw.decode(errors="replace").rstrip("\n"))

    def close(self) -> None:
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        if self.process is not None:
            if self.process.poll() is None:
                try:
                    os.killpg(self.process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    self.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    try:
                        os.killpg(self.process.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    self.process.wait(timeout=5)
            for stream in (self.process.stdout, self.process.stderr):
                if stream is not None:
                    stream.close()
            self.process = None
        if self.engine_server is not None:
            self.engine_server.stop(0)
            self.engine_server = None

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
        try:
            self.stub.Handshake(request, timeout=30)
            self.handshake_supported = True
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise PolicyPackError(f"Handshake failed: {error.details()}") from error
            self.handshake_supported = False  # the engine falls back silently, so do we

    def _configure_stack(self) -> None:
        request = analyzer_pb2.AnalyzerStackConfigureRequest(
            stack=self.stack, project=self.project, organization=self.organization, dry_run=True)
        try:
            self.stub.ConfigureStack(request, timeout=30)
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise PolicyPackError(f"ConfigureStack failed: {error.details()}") from error

    # -- metadata ----------------------------------------------------------------------------------------------

    def policies(self) -> list[dict]:
        """Policy metadata from GetAnalyzerInfo: name, description, enforcementLevel, configSchema, type."""
        assert self.info is not None
        result = []
        for policy in self.info.policies:
            result.append({
                "name": policy.name,
                "description": policy.description,
                "enforcementLevel": LEVEL_NAMES.get(policy.enforcementLevel, "advisory"),
                "configSchema": {
                    "properties": _struct_to_dict(policy.configSchema.properties),
                    "required": list(policy.configSchema.required),
                },
                "type": {analyzer_pb2.POLICY_TYPE_RESOURCE: "resource",
                         analyzer_pb2.POLICY_TYPE_STACK: "stack"}.get(policy.policy_type, "unknown"),
            })
        return result

    def initial_config(self) -> dict:
        assert self.info is not None
        result = {}
        for name, config in self.info.initialConfig.items():
            entry = dict(_struct_to_dict(config.properties))
            entry["enforcementLevel"] = LEVEL_NAMES.get(config.enforcementLevel, "advisory")
            result[name] = entry
        return result

    def configure(self, policy_config: Optional[dict] = None) -> dict:
        """Send Configure with defaults + initial config + `policy_config` (the --policy-pack-config content)."""
        reconciled = reconcile_policy_config(self.policies(), self.initial_config(), policy_config)
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, entry in reconciled.items():
            config = analyzer_pb2.PolicyConfig(enforcementLevel=LEVEL_VALUES[entry["enforcementLevel"]])
            if entry["properties"]:
                config.properties.update(entry["properties"])
            request.policyConfig[name].CopyFrom(config)
        self._call("Configure", request)
        return reconciled

    # -- the check ---------------------------------------------------------------------------------------------

    def check(self, snapshot: dict, policy_config: Optional[dict] = None) -> CheckResult:
        """Configure, Analyze every resource, AnalyzeStack once; collect diagnostics."""
        with self._lock:
            started = time.perf_counter()
            self.configure(policy_config)
            resources = [r for r in snapshot.get("resources", []) if isinstance(r, dict) and r.get("type")]
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
                        resource_type=target.get("type", "") if target else "",
                        resource_name=target.get("name", "") if target else "",
                        policy_pack=diagnostic.policyPackName, policy_pack_version=self.pack_version))
                for item in response.not_applicable:
                    not_applicable.append({"policy": item.policy_name, "reason": item.reason,
                                           "urn": (default or {}).get("urn", "")})

            requests = []
            for resource in resources:
                requests.append((resource, analyzer_pb2.AnalyzeRequest(
                    type=resource["type"], properties=_to_struct(resource.get("props")),
                    urn=resource.get("urn", ""), name=resource.get("name", ""), options=_options(resource),
                    provider=_provider(resource, by_urn))))
            # The engine analyses resources as the program registers them; a few in flight keeps it quick.
            with futures.ThreadPoolExecutor(max_workers=4) as pool:
                responses = list(pool.map(lambda item: (item[0], self._call("Analyze", item[1])), requests))
            for resource, response in responses:
                collect(response, resource)

            stack_request = analyzer_pb2.AnalyzeStackRequest(resources=[
                analyzer_pb2.AnalyzerResource(
                    type=r["type"], properties=_to_struct(r.get("props")), urn=r.get("urn", ""),
                    name=r.get("name", ""), options=_options(r), provider=_provider(r, by_urn),
                    parent=r.get("parent") or "", dependencies=_dependencies(r),
                    propertyDependencies=_property_dependencies(r))
                for r in resources])
            collect(self._call("AnalyzeStack", stack_request), None)
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
