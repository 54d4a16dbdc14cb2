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
import gc
import json
import sys
import time
from concurrent import futures
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from preflight.engine import PolicyConfigError, PolicyPackError, PolicyPackSession, load_snapshot
from preflight.gate import GateResult, format_gate, gate_of, gate_to_json, offline_only_check
from preflight.pack_process import DEFAULT_POLICY_PACK, PROJECT_ROOT, ensure_pack_python, stack_environment
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


def _has_remote(snapshot: dict) -> bool:
    return any(r.get("remote") and isinstance(r.get("offlineOnlyProgramInputs"), dict)
               for r in snapshot.get("resources", []) if isinstance(r, dict))


def _when_started(started: futures.Future[None], work: Callable[..., Any], *args) -> Any:
    started.result()
    return work(*args)


def check_renders(stack: str, renders: dict[str, Callable[[], dict]], config_path: Optional[str], *,
                  offline_pack: bool) -> tuple[GateResult, list]:
    """Render (`renders`: "preview" and/or "applied", in that order) and judge each snapshot as `run_gate` does,
    with the work spread over both cores: the packs start while the program renders (the first render is mostly
    importing pulumi-aws), the first preview is judged while the applied stack renders, and the offline-only pass
    has a `pulumi up` pack of its own beside the applied one (`offline_pack`: the applied snapshot may have remote
    components). Each pack is one process for one mode, as the CLI runs it: pulumi-policy reads PULUMI_DRY_RUN from
    its environment at every Analyze, so a preview pack cannot also judge as `pulumi up`."""
    config, tags = stack_environment(PROJECT_ROOT, stack, _stack_config(stack))
    python = str(ensure_pack_python(DEFAULT_POLICY_PACK))  # once, before the packs start side by side
    modes = [*renders, *(["offlineOnly"] if "applied" in renders and offline_pack else [])]
    sessions = {mode: PolicyPackSession(stack=stack, dry_run=(mode == "preview"), config=config, tags=tags,
                                        python=python) for mode in modes}
    # No cyclic collection while the check runs: the renders (see preflight.render) and the passes allocate a
    # million long-lived objects (SDK modules, snapshots, messages) and free their garbage by reference counting;
    # at the end they go straight to the oldest generation (freeze, unfreeze) rather than through a young
    # collection that walks them all (half a second).
    collecting = gc.isenabled()
    with futures.ThreadPoolExecutor(max_workers=2 * len(sessions)) as pool:
        started = {mode: pool.submit(session.start) for mode, session in sessions.items()}
        gc.disable()
        try:
            checks: dict[str, futures.Future] = {}
            policy_config: Optional[dict] = None
            for mode, render in renders.items():
                snapshot = render()
                if not checks:  # after the first render: a bad stack config is still the error reported first
                    policy_config = policy_config_from(config_path)
                checks[mode] = pool.submit(_when_started, started[mode], sessions[mode].check, snapshot, policy_config)
                if mode == "applied":
                    offline = sessions.get("offlineOnly") or sessions["applied"]
                    checks["offlineOnly"] = pool.submit(_when_started, started.get("offlineOnly", started["applied"]),
                                                        offline_only_check, offline, snapshot, policy_config)
            results = {mode: check.result() for mode, check in checks.items()}
            gate = gate_of(stack, results.get("preview"), results.get("applied"), results.get("offlineOnly"))
            return gate, lowerings(sessions[modes[0]].policies(), policy_config)
        finally:
            futures.wait(started.values())
            for session in sessions.values():
                session.close()
            gc.freeze()
            gc.unfreeze()
            if collecting:
                gc.enable()


def main(argv: Optional[Sequence[str]] = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["check"]:
        args_list = args_list[1:]
    args = build_parser().parse_args(args_list)
    started = time.perf_counter()

    try:
        if args.snapshot:
            snapshot = load_snapshot(args.snapshot)
            stack_name = snapshot.get("stack") or "dev"
            renders = {"preview" if snapshot.get("preview") else "applied": lambda: snapshot}
            offline_pack = _has_remote(snapshot)
        elif args.stack_file:
            from preflight.render import read_stack_file, render_stack_file

            stack_name = read_stack_file(args.stack_file)[0] or "dev"
            renders = {"preview": lambda: render_stack_file(args.stack_file, preview=True),
                       "applied": lambda: render_stack_file(args.stack_file)}
            offline_pack = True  # known once rendered; the pack starts meanwhile
        else:
            from preflight.render import render_stack

            stack_name = args.stack or "dev"
            renders = {"preview": lambda: render_stack(stack_name, preview=True),
                       "applied": lambda: render_stack(stack_name)}
            offline_pack = True
        config_path = args.policy_config or default_config_path(stack_name)
        gate, lowered = check_renders(stack_name, renders, str(config_path) if config_path else None,
                                      offline_pack=offline_pack)
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
