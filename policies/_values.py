"""Plain values for the vllm-eks policy pack: Pulumi's unknowns, and lenient bool/number readings of inputs.

The engine hands the pack resource *inputs* (camelCase, as the provider sees them); during a preview some of them
are unknown. Every helper returns the `UNKNOWN` marker for those instead of raising, so a policy can decide
"not applicable" rather than pass or crash.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy.deserialize import serialize_properties

# Pulumi's sentinels for values not known during preview (pulumi/sdk/go/common/resource/plugin/rpc.go).
UNKNOWN_SENTINELS = frozenset({
    "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # bool
    "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
    "04da6b54-80e4-46f7-96ec-b56ff0331ba9",  # string (the usual one)
    "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
    "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
    "e48ece36-62e2-4504-bad9-02848725956a",  # archive
    "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
})


class _Unknown:
    """Marker for a value the engine cannot know yet (preview)."""

    def __repr__(self) -> str:
        return "<unknown>"

    def __bool__(self) -> bool:  # an unknown is never a pass
        return False


UNKNOWN: Any = _Unknown()


def plain(props: Any) -> Any:
    """Unwrap pulumi_policy's unknown-checking proxies into plain dicts/lists (unknowns stay as sentinels)."""
    if props is None:
        return {}
    return serialize_properties(props) if isinstance(props, Mapping) else props


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN or (isinstance(value, str) and value in UNKNOWN_SENTINELS)


def contains_unknown(value: Any) -> bool:
    if is_unknown(value):
        return True
    if isinstance(value, Mapping):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_unknown(v) for v in value)
    return False


def get(obj: Any, *path: Any, default: Any = None) -> Any:
    """Walk dict keys; returns UNKNOWN if an unknown is met on the way, `default` if absent (or not a dict)."""
    current = obj
    for key in path:
        if is_unknown(current):
            return UNKNOWN
        if isinstance(current, Mapping):
            if key not in current:
                return default
            current = current[key]
        else:
            return default
    if is_unknown(current):
        return UNKNOWN
    return current


def as_list(value: Any) -> list:
    if value is None or is_unknown(value):
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def as_bool(value: Any) -> Any:
    """True/False for booleans and "true"/"false" strings (the AWS provider types some flags as strings)."""
    if is_unknown(value):
        return UNKNOWN
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def as_number(value: Any) -> Any:
    """A float from an int, float or numeric string (mocks hand numbers back as floats)."""
    if is_unknown(value):
        return UNKNOWN
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def fmt_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
