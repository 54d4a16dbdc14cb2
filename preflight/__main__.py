"""`python -m preflight render|check|plan|doctor`: the offline twin of `pulumi preview`, and the account check before `pulumi up`."""

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
    commands.add_parser("doctor", help="read-only checks of the AWS account and the deployer before pulumi up", add_help=False)
    commands.add_parser("config-reference", help="print the stack-config reference table (Markdown) from the schema")

    known, rest = parser.parse_known_args(argv)
    if known.command == "check":
        from preflight.check_cli import main as check_main

        return check_main(rest)
    if known.command == "plan":
        from preflight.plan_cli import main as plan_main

        return plan_main(rest)
    if known.command == "doctor":
        from preflight.doctor import main as doctor_main

        return doctor_main(rest)
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
        snapshot = render_stack(stack, preview=preview) if stack else render_stack_file(_given(stack_path), preview=preview)
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


def _given(stack_path: Path | None) -> Path:
    if stack_path is None:  # argparse requires --stack or --stack-file
        raise ValueError("name a stack (--stack) or a stack file (--stack-file)")
    return stack_path


def capacity_report(stack: str | None, stack_path: Path | None) -> str:
    """The capacity planner's numbers per model, computed from the validated stack config (not the snapshot)."""
    import yaml

    from preflight.render import read_stack_config
    from stack_checks import check_stack
    from stack_config import project_sections

    config = read_stack_config(stack) if stack else (yaml.safe_load(_given(stack_path).read_text()) or {}).get("config") or {}
    plans = check_stack(project_sections(config)).capacity_plans
    region = str(config.get("aws:region", "us-east-1"))
    return "capacity plan:\n" + "\n".join(f"{plan.summary()}\n{_price_line(plan.instance_type, region)}" for plan in plans.values())


def _price_line(instance_type: str, region: str) -> str:
    """The stack region's price, or a plain statement that the catalog has none (never another region's)."""
    from vllm_eks.planning.catalog import PRICE_SNAPSHOT_DATE, REGION_PRICES

    price = REGION_PRICES[region].gpu_instance_usd_per_hour.get(instance_type) if region in REGION_PRICES else None
    if price is None:
        return f"  on-demand price    missing: vllm_eks/planning/catalog.py REGION_PRICES has no {instance_type} price for {region}"
    return f"  on-demand price    {price:8.3f} $/h per replica ({region}, list prices {PRICE_SNAPSHOT_DATE})"


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
