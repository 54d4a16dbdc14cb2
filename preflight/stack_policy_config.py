"""The repository's per-stack policy config (policies/config/<stack>.json) and the levels it lowers, with reasons.

The file is the one `pulumi up --policy-pack policies --policy-pack-config policies/config/<stack>.json` takes
(`./up.sh` and CI pass it). Its `reason` keys live inside a policy's config object, beside `enforcementLevel`; every
policy of the pack declares `reason` in its config schema (policies/_stack.py), so the CLI validates and accepts it.
A lowering is a policy the file sets below mandatory, by name or through `"all"`, while the pack (or the file's
`"all"`) would have it mandatory; the repository's rule is that every lowering says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from preflight.policy_config import normalize

CONFIG_DIRECTORY = Path(__file__).resolve().parents[1] / "policies" / "config"
_BELOW_MANDATORY = ("advisory", "disabled")


@dataclass(frozen=True)
class Lowering:
    policy: str
    level: str
    reason: str  # "" when the file gives none


def default_config_path(stack: Optional[str]) -> Optional[Path]:
    """policies/config/<stack>.json when the repository has one for this stack."""
    if not stack:
        return None
    path = CONFIG_DIRECTORY / f"{stack}.json"
    return path if path.is_file() else None


def lowerings(policies: list[dict], config: Optional[dict]) -> list[Lowering]:
    """Policies the config sets below mandatory where the pack declares them mandatory or the config's `"all"` does."""
    parsed = normalize(config) or {}
    all_level = (parsed.get("all") or {}).get("enforcementLevel")
    found = []
    for policy in policies:
        entry = parsed.get(policy["name"]) or {}
        level = entry.get("enforcementLevel") or all_level
        baseline = "mandatory" if all_level == "mandatory" else policy["enforcementLevel"]
        if baseline == "mandatory" and level in _BELOW_MANDATORY:
            reason = ((entry.get("properties") or {}).get("reason") or "").strip()
            found.append(Lowering(policy["name"], level, reason))
    return found


def format_lowerings(source: str, found: list[Lowering]) -> str:
    if not found:
        return f"Policy config {source}: no policy lowered below mandatory"
    lines = [f"Policy config {source} lowers {len(found)} polic{'y' if len(found) == 1 else 'ies'} below mandatory:"]
    for item in found:
        lines.append(f"    - {item.policy} -> {item.level}: {item.reason or 'NO REASON GIVEN (refused)'}")
    return "\n".join(lines)


def unexplained(found: list[Lowering]) -> list[str]:
    return [item.policy for item in found if not item.reason]
