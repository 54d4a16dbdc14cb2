"""Policy pack configuration, parsed and reconciled exactly as the Pulumi CLI does it.

Mirrors pulumi/pulumi pkg/resource/analyzer/config.go (`parsePolicyPackConfig`, `extractEnforcementLevel`,
`ReconcilePolicyPackConfig`, `applyConfig`, `validatePolicyPackConfig`), pkg/engine/update.go `loadPolicyPlugins`
(how errors are reported) and sdk/go/common/resource/plugin/analyzer_plugin.go `Configure` (a configured policy must
end up with a valid level). What that code accepts, this accepts, including what may surprise:
- an empty (or whitespace-only) file is no config at all;
- the top-level `environments` key lists Pulumi ESC environments and is not a policy;
- a policy name the pack does not have is accepted and passed on (`{"typo": "mandatory"}` is silently ignored by the
  pack), but a name with properties and no level fails in Configure with `invalid enforcement level ""`;
- `null` is never a level: `"p": null` and `{"enforcementLevel": null}` are errors;
- `"all"` sets every policy's level and is itself passed on like any other key.
The CLI exits 1 on all of these (pkg/cmd/pulumi/cmd/exit_codes.go: ExitCodeError, a plain error).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Optional

LEVELS = ("advisory", "mandatory", "remediate", "disabled")  # apitype.EnforcementLevel.IsValid


class PolicyConfigError(ValueError):
    """The policy configuration is refused by the CLI (it stops before analysing anything)."""


def _go(value: Any) -> str:
    """How Go's %v prints a decoded JSON value in these messages."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(_go(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go(v)}" for k, v in sorted(value.items())) + "]"
    return str(value)


def _extract_level(props: dict) -> str:
    if "enforcementLevel" not in props:
        return ""
    level = props.pop("enforcementLevel")
    if not isinstance(level, str):
        raise PolicyConfigError(f"{_go(level)} is not a valid enforcement level; must be a string")
    if level not in LEVELS:
        raise PolicyConfigError(f'"{level}" is not a valid enforcement level')
    return level


def parse_policy_pack_config(text: str) -> tuple[Optional[dict], list[str]]:
    """(config, ESC environments) from the text of a --policy-pack-config file; config is None for an empty file.
    Config maps a policy name to {"enforcementLevel": level or "", "properties": {...} or None}."""
    if text.strip() == "":
        return None, []
    try:
        document = json.loads(text)
    except ValueError as error:
        raise PolicyConfigError(str(error)) from error
    if not isinstance(document, dict):
        raise PolicyConfigError(f"json: cannot unmarshal {type(document).__name__} into Go value of type "
                                "map[string]interface {}")
    environments: list[str] = []
    if "environments" in document:
        raw = document.pop("environments")
        if not isinstance(raw, list):
            raise PolicyConfigError(f'"environments" must be an array of strings, got {type(raw).__name__}')
        for index, item in enumerate(raw):
            if not isinstance(item, str):
                raise PolicyConfigError(f'"environments[{index}]" must be a string, got {type(item).__name__}')
        environments = list(raw)
    result: dict[str, dict] = {}
    for name, value in document.items():
        if isinstance(value, str):
            if value not in LEVELS:
                raise PolicyConfigError(f'parsing enforcement level for "{name}": "{value}" is not a valid '
                                        "enforcement level")
            level, properties = value, None
        elif isinstance(value, dict):
            properties = dict(value)
            try:
                level = _extract_level(properties)
            except PolicyConfigError as error:
                raise PolicyConfigError(f'parsing enforcement level for "{name}": {error}') from error
            properties = properties or None
        else:
            raise PolicyConfigError(f'parsing "{name}": {_go(value)} is not a valid value; must be a string or object')
        if not level and not properties:
            continue  # "Don't bother including empty configs."
        result[name] = {"enforcementLevel": level, "properties": properties}
    return result, environments


def load_policy_pack_config(path: Path | str) -> tuple[Optional[dict], list[str]]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise PolicyConfigError(str(error)) from error
    return parse_policy_pack_config(text)


def normalize(config: Optional[dict]) -> Optional[dict]:
    """A config given as the JSON document (tests, callers) in the parsed form; already-parsed forms pass."""
    if config is None:
        return None
    if all(isinstance(v, dict) and set(v) == {"enforcementLevel", "properties"} for v in config.values()):
        return config
    parsed, _ = parse_policy_pack_config(json.dumps(config))
    return parsed


def _apply(result: dict, config: dict) -> None:
    all_level = (config.get("all") or {}).get("enforcementLevel")
    if all_level in LEVELS:
        for entry in result.values():
            entry["enforcementLevel"] = all_level
    for name, given in config.items():
        level, properties = "", None
        if name in result:
            level, properties = result[name]["enforcementLevel"], result[name]["properties"]
        if given["enforcementLevel"] in LEVELS:
            level = given["enforcementLevel"]
        if given["properties"]:
            properties = {**(properties or {}), **copy.deepcopy(given["properties"])}
        result[name] = {"enforcementLevel": level, "properties": properties}


def reconcile(policies: list[dict], initial_config: Optional[dict], config: Optional[dict]) -> dict:
    """Schema defaults, then the pack's initialConfig, then the user's config; validated against each policy's
    schema; every entry must then carry a valid level (analyzer Configure). Raises PolicyConfigError like the CLI."""
    result = {}
    for policy in policies:
        schema = policy.get("configSchema") or {}
        defaults = {key: copy.deepcopy(spec["default"]) for key, spec in (schema.get("properties") or {}).items()
                    if isinstance(spec, dict) and "default" in spec}
        result[policy["name"]] = {"enforcementLevel": policy["enforcementLevel"], "properties": defaults or None}
    for layer in (normalize(initial_config), normalize(config)):
        if layer is not None:
            _apply(result, layer)

    import jsonschema

    errors = []
    for policy in policies:
        if not policy["hasConfigSchema"]:
            continue  # "if policy.ConfigSchema == nil { continue }"
        schema = {"type": "object"}
        if policy["configSchema"].get("properties"):
            schema["properties"] = policy["configSchema"]["properties"]
        if policy["configSchema"].get("required"):
            schema["required"] = policy["configSchema"]["required"]
        properties = result.get(policy["name"], {}).get("properties") or {}
        for error in jsonschema.Draft7Validator(schema).iter_errors(properties):
            where = ".".join(str(p) for p in error.path) or "(root)"
            message = error.message if where == "(root)" else f"{where}: {error.message}"
            errors.append(f"{policy['name']}: {message}")
    if errors:
        raise PolicyConfigError("validating policy config:\n  " + "\n  ".join(sorted(errors)))
    for name, entry in result.items():
        if entry["enforcementLevel"] not in LEVELS:
            raise PolicyConfigError(f'configuring policy pack: invalid enforcement level "{entry["enforcementLevel"]}"'
                                    f" (policy config {name!r} names no level, and the pack has no such policy)")
    return result
