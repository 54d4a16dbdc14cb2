"""The dev and prod stacks rendered into a compact, comparable form, kept as golden files (issue 19).

A refactor of the component library must not change what the stacks deploy: every resource's type, name, parent,
inputs, options and dependencies, every component's outputs and every stack output stay byte-identical.

    .venv/bin/python tests/golden_renders.py --write            # regenerate tests/golden/render-{dev,prod}.jsonl
    .venv/bin/python tests/golden_renders.py --out /tmp/before  # keep renders of this checkout elsewhere
    .venv/bin/python tests/golden_renders.py --compare /tmp/before  # exit 1 and name what differs

The renders come from `preflight.render.render_stack`, the function `python -m preflight render` and the tests use.
Component type tokens (`vllm-eks:index:<Name>`) are part of the comparison: they did not change in issue 19.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
STACKS = ("dev", "prod")


def render_lines(stack: str) -> list[str]:
    from preflight.render import render_stack

    return snapshot_lines(render_stack(stack))


def snapshot_lines(snapshot: dict) -> list[str]:
    """One sorted-key JSON line per resource (ordered by URN), then the engine's own resources and the stack outputs."""
    resources = sorted((_dependencies_sorted(resource) for resource in snapshot["resources"]),
                       key=lambda resource: resource["urn"])
    lines = [json.dumps(resource, sort_keys=True, separators=(",", ":")) for resource in resources]
    lines += [json.dumps(resource, sort_keys=True, separators=(",", ":")) for resource in snapshot["engineResources"]]
    lines.append(json.dumps({"stackOutputs": snapshot["outputs"]}, sort_keys=True, separators=(",", ":")))
    return lines


def _dependencies_sorted(resource: dict) -> dict:
    """Dependencies in URN order: the engine reads them as sets, and the SDK gathers them from Python sets, whose
    order changes from run to run (string hashing is salted per process)."""
    options = {**resource["options"], "dependsOn": sorted(resource["options"]["dependsOn"])}
    dependencies = {key: sorted(urns) for key, urns in resource["propertyDependencies"].items()}
    return {**resource, "options": options, "propertyDependencies": dependencies}


def golden_file(directory: Path, stack: str) -> Path:
    return directory / f"render-{stack}.jsonl"


def write(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for stack in STACKS:
        golden_file(directory, stack).write_text("\n".join(render_lines(stack)) + "\n")


def differences(directory: Path, stack: str, lines: list[str] | None = None, limit: int = 40) -> list[str]:
    """A unified diff (first `limit` lines) between the kept render and this checkout's; empty when identical."""
    kept = golden_file(directory, stack).read_text().splitlines()
    diff = difflib.unified_diff(kept, render_lines(stack) if lines is None else lines, f"{directory.name}/{stack}", f"checkout/{stack}", lineterm="", n=0)
    return list(diff)[:limit]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help=f"regenerate the golden renders in {GOLDEN_DIR}")
    action.add_argument("--out", type=Path, help="write the renders to this directory")
    action.add_argument("--compare", type=Path, help="compare this checkout's renders with those in this directory")
    args = parser.parse_args(argv)
    if args.compare:
        changed = {stack: differences(args.compare, stack) for stack in STACKS}
        for stack, diff in changed.items():
            print(f"{stack}: {'identical' if not diff else 'DIFFERENT'}")
            print("\n".join(diff))
        return 1 if any(changed.values()) else 0
    write(GOLDEN_DIR if args.write else args.out)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    raise SystemExit(main())
