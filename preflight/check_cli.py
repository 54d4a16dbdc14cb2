"""`python -m preflight check [--stack dev|prod | --stack-file FILE | --snapshot FILE] [--json] [--policy-config FILE]`.

Runs the CrossGuard pack in policies/ over a rendered stack exactly as `pulumi preview --policy-pack policies
[--policy-pack-config FILE]` would, without the Pulumi CLI or an AWS account: `--stack` renders it twice, as a
first preview (unknowns) and as applied (every value known), and checks both (`preflight.gate`). Exit 1 on any
mandatory violation, on a policy config the CLI would refuse (`preflight.policy_config`), or on a policy the config
lowers below mandatory without a `reason` (`preflight.stack_policy_config`); `--stack <s>` takes
policies/config/<s>.json unless `--policy-config` names another file. 2 when the snapshot or the
pack itself cannot be read or started.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

from preflight.engine import PolicyConfigError, PolicyPackError, PolicyPackSession, load_snapshot
from preflight.gate import format_gate, gate_to_json, run_gate
from preflight.pack_process import PROJECT_ROOT, stack_environment
from preflight.policy_config import load_policy_pack_config
from preflight.stack_policy_config import default_config_path, format_lowerings, lowerings, unexplained


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
                        help="policy pack config JSON, the same file `pulumi preview --policy-pack-config` takes "
                             "(default: policies/config/<stack>.json when the repository has one)")
    return parser


def _stack_config(stack: str) -> dict:
    """The stack's own config when its Pulumi.<stack>.yaml is in the project, else none (a snapshot from elsewhere)."""
    from preflight.render import read_stack_config

    try:
        return read_stack_config(stack)
    except FileNotFoundError:
        return {}


def policy_config_from(path: Optional[str]) -> Optional[dict]:
    """The --policy-pack-config file, parsed as the CLI parses it; its ESC `environments` need Pulumi Cloud."""
    if not path:
        return None
    config, environments = load_policy_pack_config(path)
    if environments:
        raise PolicyConfigError(f"{path} names ESC environments {environments}: only the Pulumi Cloud backend resolves "
                                "them, preflight cannot (remove the key for an offline check)")
    return config


def main(argv: Optional[Sequence[str]] = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["check"]:
        args_list = args_list[1:]
    args = build_parser().parse_args(args_list)
    started = time.perf_counter()

    try:
        if args.snapshot:
            snapshot = load_snapshot(args.snapshot)
            snapshots = {"preview": snapshot} if snapshot.get("preview") else {"applied": snapshot}
        elif args.stack_file:
            from preflight.render import render_stack_file

            snapshots = {"preview": render_stack_file(args.stack_file, preview=True),
                         "applied": render_stack_file(args.stack_file)}
        else:
            from preflight.render import render_stack

            stack = args.stack or "dev"
            snapshots = {"preview": render_stack(stack, preview=True), "applied": render_stack(stack)}
        stack_name = next(iter(snapshots.values())).get("stack") or "dev"
        config_path = args.policy_config or default_config_path(stack_name)
        policy_config = policy_config_from(str(config_path) if config_path else None)
        config, tags = stack_environment(PROJECT_ROOT, stack_name, _stack_config(stack_name))
        sessions = {mode: PolicyPackSession(stack=stack_name, dry_run=(mode == "preview"), config=config, tags=tags)
                    for mode in snapshots}
        try:
            for session in sessions.values():
                session.start()
            gate = run_gate(sessions.get("preview") or sessions["applied"], policy_config=policy_config,
                            applied_session=sessions.get("applied"), **snapshots)
            lowered = lowerings(next(iter(sessions.values())).policies(), policy_config)
        finally:
            for session in sessions.values():
                session.close()
    except PolicyConfigError as error:  # the CLI's plain error: exit 1 (pkg/cmd/pulumi/cmd/exit_codes.go)
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (OSError, ValueError, PolicyPackError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # the program's own RunError (a bad stack config) carries a user-facing message
        if type(error).__name__ != "RunError":
            raise
        print(f"error: {error}", file=sys.stderr)
        return 2

    total = time.perf_counter() - started
    refused = unexplained(lowered)
    if args.json:
        payload = gate_to_json(gate)
        payload["policyConfig"] = str(config_path) if config_path else None
        payload["lowered"] = [{"policy": item.policy, "level": item.level, "reason": item.reason} for item in lowered]
        payload["passed"] = gate.passed and not refused
        payload["totalSeconds"] = round(total, 3)
        print(json.dumps(payload, indent=2))
    else:
        print(format_gate(gate))
        if config_path:
            print(format_lowerings(str(config_path), lowered))
        if refused:
            print(f"error: {config_path} lowers {', '.join(refused)} below mandatory without a `reason` beside "
                  "its enforcementLevel; say why, or keep it mandatory", file=sys.stderr)
        print(f"Elapsed: {total:.2f}s ({'policy check of a saved snapshot' if args.snapshot else 'render + policy check'})")
    return 0 if gate.passed and not refused else 1


if __name__ == "__main__":
    sys.exit(main())
