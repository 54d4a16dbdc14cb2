"""`python -m preflight render|check|plan`: the offline twin of `pulumi preview`."""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m preflight", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    render = commands.add_parser("render", help="run the program for a stack under mocks and summarise it")
    which = render.add_mutually_exclusive_group(required=True)
    which.add_argument("--stack", help="stack name: reads Pulumi.<stack>.yaml")
    which.add_argument("--stack-file", type=Path, help="render a stack file kept elsewhere (Pulumi.<name>.yaml)")
    render.add_argument("--json", metavar="FILE", type=Path, help="write the snapshot of every resource to FILE")
    render.add_argument("--first-preview", action="store_true",
                        help="render as a first `pulumi preview` of a new stack sees it (computed values unknown)")
    commands.add_parser("check", help="run the policy pack over a stack or snapshot", add_help=False)
    commands.add_parser("plan", help="capacity, start-up time and cost of a stack", add_help=False)
    commands.add_parser("config-reference", help="print the stack-config reference table (Markdown) from the schema")

    known, rest = parser.parse_known_args(argv)
    if known.command == "check":
        from preflight.check_cli import main as check_main

        return check_main(rest)
    if known.command == "plan":
        from preflight.plan_cli import main as plan_main

        return plan_main(rest)
    if known.command == "config-reference":
        from preflight.config_reference import reference_markdown

        print(reference_markdown())
        return 0
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    return _render(known.stack, known.stack_file, known.json, known.first_preview)


def _render(stack: str | None, stack_path: Path | None, json_path: Path | None, preview: bool = False) -> int:
    from preflight.render import render_stack, render_stack_file, write_snapshot
    from stack_config import StackConfigError

    started = time.perf_counter()
    try:
        snapshot = render_stack(stack, preview=preview) if stack else render_stack_file(stack_path, preview=preview)
    except (StackConfigError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # the program's own RunError carries a user-facing message
        if type(error).__name__ == "RunError":
            print(f"error: {error}", file=sys.stderr)
            return 2
        raise
    elapsed = time.perf_counter() - started
    print(summarise(snapshot))
    print("\n" + capacity_report(stack, stack_path))
    print(f"\nrendered {len(snapshot['resources'])} resources for stack '{snapshot['stack']}' in {elapsed:.1f}s")
    if json_path:
        write_snapshot(snapshot, json_path)
        print(f"snapshot written to {json_path}")
    return 0


def capacity_report(stack: str | None, stack_path: Path | None) -> str:
    """The capacity planner's numbers per model, computed from the validated stack config (not the snapshot)."""
    import yaml

    from components.sizing import plan_models
    from preflight.render import read_stack_config
    from stack_config import PROJECT, SECTIONS, load_stack_config

    config = read_stack_config(stack) if stack else (yaml.safe_load(stack_path.read_text()) or {}).get("config") or {}
    validated = load_stack_config({section: config.get(f"{PROJECT}:{section}") for section in SECTIONS})
    return "capacity plan:\n" + "\n".join(plan.summary() for plan in plan_models(validated.models).values())


def summarise(snapshot: dict) -> str:
    """Resources per type, then the component tree (components and their direct child counts)."""
    resources = snapshot["resources"]
    lines = [f"stack {snapshot['stack']} ({snapshot['region']})", "", "resources per type:"]
    for type_token, count in sorted(Counter(r["type"] for r in resources).items()):
        lines.append(f"  {count:4d}  {type_token}")
    children: dict[str | None, list[dict]] = {}
    for resource in resources:
        children.setdefault(resource["parent"], []).append(resource)
    lines += ["", "component tree:"]

    def walk(parent_urn: str | None, depth: int) -> None:
        for resource in children.get(parent_urn, []):
            if resource["custom"]:
                continue
            own = children.get(resource["urn"], [])
            lines.append(f"  {'  ' * depth}{resource['name']} ({resource['type']}, {len(own)} children)")
            walk(resource["urn"], depth + 1)

    roots = {r["parent"] for r in resources if r["parent"] not in {x["urn"] for x in resources}}
    for root in sorted(roots, key=str):
        walk(root, 0)
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
