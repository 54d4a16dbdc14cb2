"""`python -m preflight check [--stack dev|prod | --stack-file FILE | --snapshot FILE] [--json] [--policy-config FILE]`.

Runs the CrossGuard pack in policies/ over a rendered stack exactly as `pulumi preview --policy-pack policies
[--policy-pack-config FILE]` would, without the Pulumi CLI or an AWS account. Exit 1 on any mandatory violation.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

from preflight.engine import (
    PolicyConfigError, PolicyPackError, check_snapshot, format_report, load_snapshot, result_to_json,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m preflight check",
                                     description="Run the policy pack over a stack, offline, like pulumi preview.")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--stack", metavar="dev|prod", help="render this stack (Pulumi.<stack>.yaml) under mocks, then check it")
    source.add_argument("--stack-file", metavar="FILE", type=Path,
                        help="render a stack file kept elsewhere (Pulumi.<name>.yaml) under mocks, then check it")
    source.add_argument("--snapshot", metavar="FILE", help="check a snapshot saved by `python -m preflight render`")
    parser.add_argument("--json", action="store_true", help="print the result as JSON instead of the report")
    parser.add_argument("--policy-config", metavar="FILE",
                        help="policy pack config JSON, the same file `pulumi preview --policy-pack-config` takes")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["check"]:
        args_list = args_list[1:]
    args = build_parser().parse_args(args_list)
    started = time.perf_counter()

    try:
        if args.snapshot:
            snapshot = load_snapshot(args.snapshot)
        elif args.stack_file:
            from preflight.render import render_stack_file

            snapshot = render_stack_file(args.stack_file)
        else:
            from preflight.render import render_stack

            snapshot = render_stack(args.stack or "dev")
        policy_config = None
        if args.policy_config:
            with open(args.policy_config, encoding="utf-8") as handle:
                policy_config = json.load(handle)
        result = check_snapshot(snapshot, policy_config)
    except (OSError, ValueError, PolicyConfigError, PolicyPackError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # the program's own RunError (a bad stack config) carries a user-facing message
        if type(error).__name__ != "RunError":
            raise
        print(f"error: {error}", file=sys.stderr)
        return 2

    total = time.perf_counter() - started
    if args.json:
        payload = result_to_json(result)
        payload["totalSeconds"] = round(total, 3)
        print(json.dumps(payload, indent=2))
    else:
        print(format_report(result))
        print(f"Elapsed: {total:.2f}s ({'policy check of a saved snapshot' if args.snapshot else 'render + policy check'})")
    return 1 if result.mandatory_count else 0


if __name__ == "__main__":
    sys.exit(main())
