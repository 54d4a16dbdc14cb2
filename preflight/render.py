"""Run the real `__main__.py` for a stack under Pulumi mocks and return a snapshot of every registration.

Snapshot format (stable; `preflight check`, the tests and CI read it):
    {"stack": "dev", "region": "us-east-1", "preview": false,
     "resources": [{"urn", "type", "name", "parent", "custom", "remote", "props", "options", "propertyDependencies",
                    "outputs", "packageVersion"}],
     "engineResources": [the Stack, default providers], "outputs": {...}}
`props` are the inputs the engine hands a policy pack in Analyze, camelCase; `outputs` complete them into what
AnalyzeStack gets (for a resource: what its provider answered beyond the inputs it echoes; for a component: the
outputs it registered); `options` holds the resource options the engine would know
(protect, retainOnDelete, the full provider reference, dependsOn, ignoreChanges, customTimeouts in seconds);
`propertyDependencies` maps an input to the URNs
it was computed from. `parent: null` means the Stack. `preview: true` marks a first-preview render (unknowns are the
engine's sentinel string). `engineResources` are what the engine registers itself (`engine_resources`).

A remote (multi-language) component such as pulumi-eks' `eks:index:Cluster` is constructed by its provider, whose
bundled `@pulumi/pulumi` drops a ComponentResource's args (pulumi/pulumi sdk/nodejs/resource.ts, pulumi/pulumi#10533;
inputs reach policies only from 3.203, pulumi/pulumi#20357): a real preview shows it with `{}`. Its `props` are
therefore `{}`, and the program's own inputs are kept aside under `offlineOnlyProgramInputs`, for the checks only
`preflight check` can make (a real preview judges the AWS children the provider registers instead).
"""

from __future__ import annotations

import gc
import json
import re
import runpy
import sys
from pathlib import Path
from typing import Any

import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
PROJECT = "vllm-eks"


def project_name(project_dir: Path) -> str:
    """The `name:` of the program's Pulumi.yaml (the project, which scopes its config keys and URNs)."""
    path = project_dir / "Pulumi.yaml"
    return str((yaml.safe_load(path.read_text()) or {}).get("name", PROJECT)) if path.exists() else PROJECT


def stack_file(stack: str, project_dir: Path = PROJECT_DIR) -> Path:
    return project_dir / f"Pulumi.{stack}.yaml"


def read_stack_config(stack: str, project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    """The `config:` mapping of `Pulumi.<stack>.yaml`, keys as written (`aws:region`, `vllm-eks:models`, ...)."""
    path = stack_file(stack, project_dir)
    if not path.exists():
        known = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in project_dir.glob("Pulumi.*.yaml"))
        raise FileNotFoundError(f"no stack file {path.name}; stacks here: {', '.join(known)}")
    document = yaml.safe_load(path.read_text()) or {}
    return document.get("config") or {}


def render_stack(stack: str, project_dir: Path = PROJECT_DIR, *, preview: bool = False) -> dict[str, Any]:
    """Render `Pulumi.<stack>.yaml` (the file decides everything, as `pulumi preview` would)."""
    return render_config(stack, read_stack_config(stack, project_dir), project_dir, preview=preview)


def read_stack_file(path: Path) -> tuple[str, dict[str, Any]]:
    """(stack name, `config:` mapping) of a stack file kept anywhere, named like `Pulumi.<stack>.yaml`."""
    if not path.is_file():
        raise FileNotFoundError(f"no stack file {path}")
    document = yaml.safe_load(path.read_text()) or {}
    return path.name.removeprefix("Pulumi.").removesuffix(".yaml"), document.get("config") or {}


def render_stack_file(path: Path, *, preview: bool = False) -> dict[str, Any]:
    """Render a stack file kept anywhere (a candidate config), named like `Pulumi.<stack>.yaml`."""
    stack, config = read_stack_file(path)
    return render_config(stack, config, preview=preview)


def install_mocks(region: str, project: str, stack: str, *, preview: bool = False) -> Any:
    """Point this process's Pulumi runtime at fresh AWS-like mocks (preflight.mocks) for one program run; returns the
    RecordingMonitor that records every registration."""
    import pulumi
    from pulumi.runtime import mocks as pulumi_mocks

    from preflight.mocks import AwsLikeMocks, RecordingMonitor

    mocks = AwsLikeMocks(region, preview=preview)
    monitor = RecordingMonitor(mocks)
    # Pulumi's own Settings declares these as untyped properties (its source carries `type: ignore` there too).
    pulumi.runtime.settings.SETTINGS.rpc_manager.clear()  # type: ignore[attr-defined]
    pulumi.runtime.settings.SETTINGS.outputs.clear()  # type: ignore[attr-defined]
    pulumi.runtime.settings.set_root_resource(None)  # type: ignore[arg-type]
    pulumi_mocks.set_mocks(mocks, project=project, stack=stack, preview=preview, monitor=monitor)
    return monitor


def render_config(stack: str, config: dict[str, Any], project_dir: Path = PROJECT_DIR, *,
                  preview: bool = False) -> dict[str, Any]:
    """Run the program for an explicit config mapping; raises the program's own error on bad config.

    `preview=True` renders a first `pulumi preview` of a new stack: every value a provider computes is unknown
    (`preflight.mocks.AwsLikeMocks(preview=True)`); `preview=False` renders the applied stack, every value known.
    """
    import pulumi
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    region = str(config.get("aws:region", "us-east-1"))
    project = project_name(project_dir)
    monitor = install_mocks(region, project, stack, preview=preview)
    pulumi.runtime.set_all_config(
        {key: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()}
    )
    exports: dict[str, Any] = {}

    def program() -> None:
        sys.path.insert(0, str(project_dir))
        try:
            namespace = runpy.run_path(str(project_dir / "__main__.py"), run_name="__main__")
        finally:
            sys.path.remove(str(project_dir))
        exports.update(namespace.get("STACK_OUTPUTS", {}))

    # The cyclic collector would walk the growing heap of SDK modules again and again while the program imports
    # them (pulumi-aws' `_inputs` alone are thousands of classes and typing objects) and find little to free (prod:
    # 1,154 collections freed 82 thousand objects): off for the render, a third less CPU, a few MiB more at peak.
    collecting = gc.isenabled()
    gc.disable()
    try:
        _sync_await(run_pulumi_func(program))
        resolved_outputs = _sync_await(_resolve(exports))
        resources = [_resource_entry(record, monitor.registered_outputs) for record in monitor.registrations]
    finally:
        if collecting:
            gc.enable()
    return {
        "stack": stack,
        "region": region,
        "preview": preview,
        "resources": resources,
        "engineResources": engine_resources(stack, config, resources, monitor.registrations, resolved_outputs,
                                            preview=preview, project=project),
        "outputs": resolved_outputs,
    }


async def _resolve(exports: dict[str, Any]) -> dict[str, Any]:
    import pulumi

    result = {}
    for key, value in exports.items():
        output = pulumi.Output.from_input(value)
        if await output.is_secret():
            result[key] = "[secret]"
        else:
            result[key] = _plain(await output.future(with_unknowns=True))
    return result


def _resource_entry(record: dict[str, Any], registered_outputs: dict[str, Any]) -> dict[str, Any]:
    from pulumi.runtime import rpc

    request = record["request"]
    props = _plain(rpc.deserialize_properties(request.object, keep_unknowns=True))
    options = {
        "protect": request.protect if request.HasField("protect") else False,
        "retainOnDelete": request.retainOnDelete if request.HasField("retainOnDelete") else False,
        # The full provider reference "<provider URN>::<provider id>" (sdk/go/common/providers/reference.go).
        "provider": request.provider or None,
        "dependsOn": list(request.dependencies),
        "ignoreChanges": list(request.ignoreChanges),
    }
    # The SDK sends Go duration strings ("40m"); the engine parses them (time.ParseDuration) and hands a policy pack
    # seconds (pkg/resource/deploy/source_eval.go, AnalyzerResourceOptions.CustomTimeouts).
    timeouts = {kind: _duration_seconds(getattr(request.customTimeouts, kind)) for kind in ("create", "update", "delete")
                if request.HasField("customTimeouts") and getattr(request.customTimeouts, kind)}
    if timeouts:
        options["customTimeouts"] = timeouts
    # What AnalyzeStack judges (pulumi/pulumi pkg/resource/deploy/step_generator.go AnalyzeResources: "called on
    # the final outputs of each resource"): a provider's answer for resources and remote components, the outputs
    # a component registered for the others.
    if request.custom or request.remote:
        # Kept as what the provider added to the inputs it echoes, so a test that edits `props` edits both views.
        state = _plain(rpc.deserialize_properties(record["response"].object, keep_unknowns=True))
        echoed = {} if request.remote else props
        outputs = {key: value for key, value in state.items() if key not in echoed or echoed[key] != value}
    else:
        registered = registered_outputs.get(record["urn"])
        outputs = _plain(rpc.deserialize_properties(registered, keep_unknowns=True)) if registered else {}
    property_dependencies = {key: list(value.urns) for key, value in request.propertyDependencies.items() if value.urns}
    entry = {
        "urn": record["urn"],
        "type": record["type"],
        "name": record["name"],
        "parent": record["parent"],
        "custom": record["custom"],
        "remote": request.remote,
        "props": {} if request.remote else props,
        "options": options,
        "propertyDependencies": {} if request.remote else property_dependencies,
        "outputs": outputs,
        "packageVersion": request.version or None,
    }
    if request.remote:
        entry["offlineOnlyProgramInputs"] = props
    return entry


def engine_resources(stack: str, config: dict[str, Any], resources: list[dict[str, Any]],
                     registrations: list[dict[str, Any]], stack_outputs: dict[str, Any], *,
                     preview: bool, project: str = PROJECT) -> list[dict[str, Any]]:
    """What the engine registers itself and analyses beside the program's resources: the Stack (its outputs are the
    exports) and one default provider per package and version a resource uses without an explicit provider
    (pkg/resource/deploy/default_providers.go: type `pulumi:providers:<pkg>`, name `default_<major>_<minor>_<patch>`,
    inputs = the stack's config for that package plus `version`, no parent). Those resources' `options.provider`
    is set to the default provider's reference, as the engine records it; its id is unknown on a first preview."""
    from pulumi.runtime import rpc

    prefix = f"urn:pulumi:{stack}::{project}::"
    stack_entry = {"urn": f"{prefix}pulumi:pulumi:Stack::{project}-{stack}", "type": "pulumi:pulumi:Stack",
                   "name": f"{project}-{stack}", "parent": None, "custom": False, "remote": False, "props": {},
                   "options": {"protect": False, "provider": None, "dependsOn": []}, "propertyDependencies": {},
                   "outputs": stack_outputs}
    providers: dict[str, dict[str, Any]] = {}
    for resource, record in zip(resources, registrations):
        package = resource["type"].split(":")[0]
        if resource["options"]["provider"] or not (record["custom"] or resource["remote"]) or package == "pulumi":
            continue
        version = resource.get("packageVersion") or ""
        name = "default" + "".join(f"_{part}" for part in version.replace("-", ".").split(".") if part)
        urn = f"{prefix}pulumi:providers:{package}::{name}"
        if urn not in providers:
            inputs = {key.split(":", 1)[1]: value if isinstance(value, str) else json.dumps(value)
                      for key, value in config.items() if key.startswith(f"{package}:")}
            if version:
                inputs["version"] = version
            provider_id = rpc.UNKNOWN if preview else f"{_stable_id(urn)}"
            providers[urn] = {"urn": urn, "type": f"pulumi:providers:{package}", "name": name, "parent": None,
                              "custom": True, "remote": False, "props": inputs,
                              "options": {"protect": False, "provider": None, "dependsOn": []},
                              "propertyDependencies": {}, "outputs": {}, "id": provider_id}
        resource["options"]["provider"] = f"{urn}::{providers[urn]['id']}"
    return [stack_entry, *providers.values()]


_DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def _duration_seconds(text: str) -> float:
    """A Go duration ("40m", "1h30m", "90s") in seconds, as time.ParseDuration reads it."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|us|µs|ns|m|s)", text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"not a Go duration: {text!r}")
    return sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)


def _stable_id(text: str) -> str:
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, text))


def _plain(value: Any) -> Any:
    """JSON-safe copy: resource references become their URN, unknowns the engine's sentinel string."""
    import pulumi
    from pulumi.runtime import rpc

    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if value is rpc.UNKNOWN or type(value).__name__ == "Unknown":
        return rpc.UNKNOWN
    if isinstance(value, pulumi.FileArchive):
        # Its content, not its place on disk nor the object's address: two checkouts render the same snapshot.
        return f"FileArchive(sha256:{_directory_digest(Path(value.path))})"
    if hasattr(value, "urn") and not isinstance(value, (str, bytes)):
        return getattr(value, "_name", None) or "resource-reference"
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _directory_digest(directory: Path) -> str:
    """sha256 over the relative path and bytes of every source file (Python's bytecode caches left out)."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def write_snapshot(snapshot: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(snapshot, indent=1, sort_keys=False) + "\n")
