"""`python -m preflight plan --stack NAME|--stack-file FILE [--json] [--markdown] [--rps N]`: will it hold the load, what will it cost.

Text by default; `--markdown` for a pull-request comment or a CI job summary; `--json` for machines (the shape
`preflight/plan_schema.json` describes). Exit 2 on a config the stack would reject at load; exit 1 when a model's
start-up estimate exceeds its budget (`pulumi up` would refuse it too).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

Table = tuple[str, list[str], list[list[str]]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m preflight plan", description=(__doc__ or "").splitlines()[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--stack", help="stack name: reads Pulumi.<stack>.yaml")
    which.add_argument("--stack-file", type=Path, help="plan a stack file kept elsewhere (Pulumi.<name>.yaml)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the plan as JSON")
    output.add_argument("--markdown", action="store_true", help="print the plan as Markdown tables")
    parser.add_argument("--rps", type=float, help="a steady load in requests/s: the replicas it needs per model")
    args = parser.parse_args(argv)
    if args.rps is not None and args.rps < 0:
        parser.error(f"--rps: got {args.rps}, expected a number >= 0")

    from vllm_eks.planning.cost import CostError
    from vllm_eks.planning.sizing import SizingError
    from preflight.plan import build_plan
    from preflight.render import read_stack_config, read_stack_file
    from stack_config import StackConfigError

    try:
        stack, config = (args.stack, read_stack_config(args.stack)) if args.stack else read_stack_file(args.stack_file)
        plan = build_plan(stack, config, args.rps)
    except (StackConfigError, SizingError, CostError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(plan, indent=2))
    elif args.markdown:
        print(render_markdown(plan))
    else:
        print(render_text(plan))
    over_budget = [model["name"] for model in plan["models"] if not model["startup"]["withinBudget"]]
    if over_budget:
        print(f"error: start-up estimate exceeds startupBudgetSeconds for {', '.join(over_budget)}", file=sys.stderr)
        return 1
    return 0


# --- the tables both formats print ----------------------------------------------------------------------------------
def tables(plan: dict[str, Any]) -> list[Table]:
    models = plan["models"]
    totals = plan["totals"]
    fit = (
        "Fit",
        ["model", "instance", "GPUs", "TP", "weights GiB", "KV bytes/token", "KV capacity tokens",
         "seqs at maxModelLen", "seqs at typical request"],
        [
            [m["name"], m["fit"]["instanceType"], f'{m["fit"]["gpus"]}x {m["fit"]["gpuModel"]}',
             str(m["fit"]["tensorParallelSize"]), f'{m["fit"]["weightGiB"]:.2f}', f'{m["fit"]["kvBytesPerToken"]:,}',
             f'{m["fit"]["kvCapacityTokens"]:,}',
             f'{m["fit"]["maxConcurrentSequencesAtMaxModelLen"]} at {m["fit"]["maxModelLen"]:,}',
             str(m["fit"]["maxConcurrentSequencesAtTypicalRequest"])]
            for m in models
        ],
    )
    throughput = (
        "Throughput (roofline estimate, an upper bound)",
        ["model", "batch", "decode tokens/s", "single-stream tokens/s", "requests/s", "published benchmark"],
        [
            [m["name"], str(m["throughput"]["batchSize"]), f'{m["throughput"]["decodeTokensPerSecond"]:,.0f}',
             f'{m["throughput"]["singleStreamTokensPerSecond"]:,.1f}', f'{m["throughput"]["requestsPerSecond"]:.2f}',
             _published(m["throughput"]["publishedBenchmark"])]
            for m in models
        ],
    )
    scaling = (
        "Scaling",
        ["model", "min", "max", "queue threshold", "queue wait at threshold s", "load rps", "replicas for load"],
        [
            [m["name"], str(m["scaling"]["minReplicas"]), str(m["scaling"]["maxReplicas"]),
             str(m["scaling"]["queueThresholdPerReplica"]), f'{m["scaling"]["queueWaitSecondsAtThreshold"]:.1f}',
             "-" if m["scaling"]["rps"] is None else f'{m["scaling"]["rps"]:g}', _replicas_for_load(m["scaling"])]
            for m in models
        ],
    )
    startup = (
        "Start-up",
        ["model", "load format", "in probe budget s", "budget s", "verdict", "pod start on a fresh node s"],
        [
            [m["name"], m["startup"]["loadFormat"], f'{m["startup"]["estimateSeconds"]:.0f}',
             str(m["startup"]["budgetSeconds"]), "fits" if m["startup"]["withinBudget"] else "EXCEEDS BUDGET",
             f'{m["startup"]["podStartSeconds"]:.0f}']
            for m in models
        ],
    )
    stages = (
        "Start-up stages",
        ["model", "stage", "s", "in probe budget", "basis"],
        [
            [m["name"], stage["name"], f'{stage["seconds"]:.0f}', "yes" if stage["inProbeBudget"] else "no (before the container starts)",
             stage["basis"]]
            for m in models
            for stage in m["startup"]["stages"]
        ],
    )
    cost = (
        "Cost per model",
        ["model", "capacity", "$/h at min", "$/h at max", "$/month (schedule)", "$/M output tokens on-demand",
         "$/M output tokens Spot", "hosted API $/M"],
        [
            [m["name"], m["cost"]["capacityType"], _replicas_cost(m["cost"]["atMinReplicas"]),
             _replicas_cost(m["cost"]["atMaxReplicas"]), f'{m["cost"]["usdPerMonth"]:,.0f}',
             f'{m["cost"]["usdPerMillionOutputTokensOnDemand"]:.3f}', f'{m["cost"]["usdPerMillionOutputTokensSpot"]:.3f}',
             "-" if m["cost"]["hostedApiUsdPerMillionOutputTokens"] is None
             else f'{m["cost"]["hostedApiUsdPerMillionOutputTokens"]:.3f}']
            for m in models
        ],
    )
    fixed = (
        "Stack fixed costs",
        ["item", "quantity", "$/h", "$/month"],
        [
            [item["item"], f'{item["quantity"]:g}', f'{item["usdPerHour"]:.4f}',
             f'{item["usdPerHour"] * totals["schedule"]["hoursPerMonth"]:,.2f}']
            for item in totals["fixedCosts"]
        ],
    )
    schedule = totals["schedule"]
    window = (
        f'{schedule["windowHoursPerWeek"]:g} h/week ({schedule["workingHours"]["start"]} to '
        f'{schedule["workingHours"]["end"]}, {schedule["workingHours"]["timezone"]})'
        if schedule["workingHours"]
        else "always on (no working hours)"
    )
    summary = (
        "Stack totals",
        ["figure", "value"],
        [
            ["fixed $/h", f'{totals["fixedUsdPerHour"]:.2f}'],
            ["$/h at min replicas", f'{totals["usdPerHourAtMinReplicas"]:.2f}'],
            ["$/h at max replicas", f'{totals["usdPerHourAtMaxReplicas"]:.2f}'],
            ["schedule", window],
            ["$/month under the schedule", f'{totals["usdPerMonth"]:,.0f}'],
            ["$/month at max replicas all month", f'{totals["usdPerMonthAtMaxReplicas"]:,.0f}'],
            ["per-request charges $/M requests",
             ", ".join(f"{name} {price:.2f}" for name, price in totals["perRequestUsdPerMillion"].items())],
            ["not included (traffic volume)", ", ".join(f"{name} {rate}" for name, rate in totals["usageRatesNotIncluded"].items())],
        ],
    )
    return [fit, throughput, scaling, startup, stages, cost, fixed, summary]


def assumptions(plan: dict[str, Any]) -> list[str]:
    a = plan["assumptions"]
    return [
        f'typical request: {a["typicalPromptTokens"]} prompt + {a["typicalOutputTokens"]} output tokens',
        f'utilisation for $/M tokens: {a["utilisation"]:g}',
        f'Spot discount: {a["spotDiscount"]:g} ({a["spotDiscountSource"]})',
        f'throughput: {a["throughputMethod"]}',
    ]


def render_markdown(plan: dict[str, Any]) -> str:
    lines = [f'## Plan for stack `{plan["stack"]}` ({plan["region"]}, prices {plan["priceSnapshot"]})', ""]
    for title, headers, rows in tables(plan):
        lines += [f"### {title}", "", _markdown_row(headers), _markdown_row(["---"] * len(headers))]
        lines += [_markdown_row(row) for row in rows]
        lines.append("")
    lines += ["### Assumptions", ""] + [f"- {line}" for line in assumptions(plan)]
    return "\n".join(lines)


def render_text(plan: dict[str, Any]) -> str:
    lines = [f'plan for stack {plan["stack"]} ({plan["region"]}, prices {plan["priceSnapshot"]})']
    for title, headers, rows in tables(plan):
        widths = [max(len(cell) for cell in column) for column in zip(headers, *rows)]
        lines += ["", f"{title}:"]
        lines += ["  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [headers, *rows]]
    lines += ["", "assumptions:"] + [f"  {line}" for line in assumptions(plan)]
    return "\n".join(lines)


def _markdown_row(cells: list[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _published(benchmark: dict[str, Any] | None) -> str:
    if benchmark is None:
        return "none published for this model and instance"
    return f'{benchmark["outputTokensPerSecond"]:,.0f} at concurrency {benchmark["concurrency"]} ({benchmark["source"]})'


def _replicas_for_load(scaling: dict[str, Any]) -> str:
    if scaling["rps"] is None:
        return "- (pass --rps)"
    text = str(scaling["replicasForRps"])
    if scaling["exceedsMaxReplicas"]:
        text += f' (needs {scaling["replicasNeededForRps"]}: above maxReplicas)'
    return text


def _replicas_cost(cost: dict[str, Any]) -> str:
    return f'{cost["usdPerHour"]:.2f} ({cost["onDemand"]} on-demand + {cost["spot"]} Spot)'
