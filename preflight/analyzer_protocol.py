"""Analyzer protocol messages, built the way the Pulumi engine builds them: enforcement levels, the reconciled
policy configuration, and snapshot resources as AnalyzeRequest / AnalyzeStackRequest.

Only what the real engine can send is sent: AnalyzerResourceOptions carries `protect` but has no `retainOnDelete`
field, so a policy pack can never see retainOnDelete.
"""

from __future__ import annotations

from typing import Any, Optional

from google.protobuf import json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2

from preflight.policy_config import reconcile

LEVEL_NAMES = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.DISABLED: "disabled",
    analyzer_pb2.REMEDIATE: "remediate",
}
LEVEL_VALUES = {name: value for value, name in LEVEL_NAMES.items()}


# ---------------------------------------------------------------------------------------------------------------
# Policy metadata and configuration, as the engine reconciles it
# ---------------------------------------------------------------------------------------------------------------

def _struct_to_dict(message) -> dict:
    return json_format.MessageToDict(message) if message is not None else {}


def policies_of(info: analyzer_pb2.AnalyzerInfo) -> list[dict]:
    """Policy metadata from GetAnalyzerInfo: name, description, enforcementLevel, configSchema, type."""
    result = []
    for policy in info.policies:
        result.append({
            "name": policy.name,
            "description": policy.description,
            "enforcementLevel": LEVEL_NAMES.get(policy.enforcementLevel, "advisory"),
            "configSchema": {
                "properties": _struct_to_dict(policy.configSchema.properties),
                "required": list(policy.configSchema.required),
            },
            "hasConfigSchema": policy.HasField("configSchema"),  # Go: ConfigSchema == nil skips validation
            "type": {analyzer_pb2.POLICY_TYPE_RESOURCE: "resource",
                     analyzer_pb2.POLICY_TYPE_STACK: "stack"}.get(policy.policy_type, "unknown"),
        })
    return result


def initial_config_of(info: analyzer_pb2.AnalyzerInfo) -> dict:
    """The pack's own initialConfig, in --policy-pack-config form."""
    result = {}
    for name, config in info.initialConfig.items():
        entry = dict(_struct_to_dict(config.properties))
        entry["enforcementLevel"] = LEVEL_NAMES.get(config.enforcementLevel, "advisory")
        result[name] = entry
    return result


def reconcile_policy_config(policies: list[dict], initial_config: dict, user_config: Optional[dict]) -> dict:
    """Defaults, the pack's initialConfig, then the user's config, as pkg/resource/analyzer/config.go reconciles
    them (`preflight.policy_config`). Returns {policy: {"enforcementLevel": str, "properties": dict | None}}."""
    return reconcile(policies, initial_config, user_config)


def configure_request(reconciled: dict) -> analyzer_pb2.ConfigureAnalyzerRequest:
    """The Configure request for a reconciled configuration."""
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for name, entry in reconciled.items():
        config = analyzer_pb2.PolicyConfig(enforcementLevel=LEVEL_VALUES[entry["enforcementLevel"]])
        if entry["properties"]:
            config.properties.update(entry["properties"])
        request.policyConfig[name].CopyFrom(config)
    return request


# ---------------------------------------------------------------------------------------------------------------
# Snapshot -> protocol messages
# ---------------------------------------------------------------------------------------------------------------

def to_struct(props: Any) -> struct_pb2.Struct:
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


def provider_urn(reference: str) -> str:
    """The URN of a provider reference "<provider URN>::<provider id>": everything before the LAST "::"
    (pulumi/pulumi sdk/go/common/providers/reference.go ParseReference). A bare URN (hand-made snapshots) stays."""
    return reference.rsplit("::", 1)[0] if reference.count("::") >= 4 else reference


def engine_view(snapshot: dict) -> list[dict]:
    """Every resource the engine analyses, in registration order: what it registers itself (the Stack, default
    providers; `engineResources` of a rendered snapshot) and the program's resources, whose missing parent is the
    Stack (the SDK parents top-level resources to the root stack resource)."""
    engine = [r for r in snapshot.get("engineResources", []) if isinstance(r, dict) and r.get("type")]
    stack_urns = [r["urn"] for r in engine if r["type"] == "pulumi:pulumi:Stack"]
    program = []
    for resource in snapshot.get("resources", []):
        if not isinstance(resource, dict) or not resource.get("type"):
            continue
        if stack_urns and not resource.get("parent") and resource["type"] != "pulumi:pulumi:Stack":
            resource = {**resource, "parent": stack_urns[0]}
        program.append(resource)
    return engine + program


def _provider(resource: dict, by_urn: dict) -> Optional[analyzer_pb2.AnalyzerProviderResource]:
    reference = (resource.get("options") or {}).get("provider") or resource.get("provider")
    if not isinstance(reference, str) or not reference:
        return None
    urn = provider_urn(reference)
    target = by_urn.get(urn)
    return analyzer_pb2.AnalyzerProviderResource(
        type=_urn_type(urn), urn=urn, name=_urn_name(urn),
        properties=to_struct(target.get("props") if target else {}))


def _dependencies(resource: dict) -> list[str]:
    deps = resource.get("dependencies")
    if deps is None:  # a snapshot may only know the explicit dependsOn
        deps = (resource.get("options") or {}).get("dependsOn") or []
    return [str(d) for d in deps if d]


def _property_dependencies(resource: dict) -> dict:
    deps = resource.get("propertyDependencies") or {}
    return {k: analyzer_pb2.AnalyzerPropertyDependencies(urns=[str(u) for u in v]) for k, v in deps.items() if v}


def analyze_request(resource: dict, by_urn: dict) -> analyzer_pb2.AnalyzeRequest:
    """What the engine sends for one resource as the program registers it."""
    return analyzer_pb2.AnalyzeRequest(
        type=resource["type"], properties=to_struct(resource.get("props")), urn=resource.get("urn", ""),
        name=resource.get("name", ""), options=_options(resource), provider=_provider(resource, by_urn))


def _outputs(resource: dict) -> Any:
    """A resource's outputs: its provider echoes the inputs and adds what it computed; a component has what it
    registered (see `preflight.render`). A hand-made snapshot without `outputs` stands for its props."""
    if "outputs" not in resource:
        return resource.get("props")
    if resource.get("custom") or resource.get("remote"):
        return {**(resource.get("props") or {}), **resource["outputs"]}
    return resource["outputs"]


def analyze_stack_request(resources: list[dict], by_urn: dict) -> analyzer_pb2.AnalyzeStackRequest:
    """What the engine sends once, with every resource, when the program has finished: each resource's outputs
    ("Unlike Analyze, AnalyzeStack is called on the final outputs of each resource", pulumi/pulumi
    pkg/resource/deploy/step_generator.go AnalyzeResources); a hand-made snapshot without outputs sends its props."""
    return analyzer_pb2.AnalyzeStackRequest(resources=[
        analyzer_pb2.AnalyzerResource(
            type=r["type"], properties=to_struct(_outputs(r)),
            urn=r.get("urn", ""),
            name=r.get("name", ""), options=_options(r), provider=_provider(r, by_urn),
            parent=r.get("parent") or "", dependencies=_dependencies(r),
            propertyDependencies=_property_dependencies(r))
        for r in resources])
