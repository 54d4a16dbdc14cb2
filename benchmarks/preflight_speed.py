"""How long `python -m preflight check --stack <stack>` takes on this machine, and where the time goes.

    .venv/bin/python benchmarks/preflight_speed.py [--stack prod] [-n 5]

Each run starts fresh processes, so importing the program and the Pulumi SDKs counts as it does in a real check:
- stages: one process does a check's work one stage at a time (nothing overlaps): the first render (importing the
  program and the pulumi-aws/kubernetes modules it uses, then rendering the first preview), the second render (the
  applied stack, modules already imported), one pack start (the pack's process up to GetAnalyzerInfo), and each
  analysis pass (first preview, applied, offline-only) on a started pack;
- check: `python -m preflight check --stack <stack>` as a whole, which overlaps those stages on the machine's cores:
  wall seconds, and CPU seconds (user + system of it and of its pack processes).
Prints min / median / max per figure over the runs, with the machine's load. A measurement, not a test: it asserts
nothing, and its figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = ["first render (imports + render)", "second render", "pack start", "analysis: first preview",
          "analysis: applied", "analysis: offline-only", "stages in sequence"]


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cpu_of(pid: int) -> float:
    """User + system seconds of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stages(stack: str) -> dict[str, float]:
    """One check's work, stage by stage, in this (fresh) process: wall and CPU seconds per stage (a pack stage's
    CPU is this process's plus the pack process's)."""
    sys.path.insert(0, str(ROOT))
    started = time.perf_counter()
    figures: dict[str, float] = {}

    def timed(label: str, work, pack=None):
        begin, cpu = time.perf_counter(), _cpu_self() + (_cpu_of(pack.process.pid) if pack and pack.process else 0)
        result = work()
        figures[label] = time.perf_counter() - begin
        pack_cpu = _cpu_of(pack.process.pid) if pack and pack.process else 0
        figures[f"cpu: {label}"] = _cpu_self() + pack_cpu - cpu
        return result

    from preflight.check_cli import _stack_config, policy_config_from
    from preflight.engine import PolicyPackSession
    from preflight.gate import offline_only_check
    from preflight.pack_process import DEFAULT_POLICY_PACK, PROJECT_ROOT, ensure_pack_python, stack_environment
    from preflight.render import render_stack
    from preflight.stack_policy_config import default_config_path

    preview = timed(STAGES[0], lambda: render_stack(stack, preview=True))
    applied = timed(STAGES[1], lambda: render_stack(stack))
    config_path = default_config_path(stack)
    policy_config = policy_config_from(str(config_path) if config_path else None)
    config, tags = stack_environment(PROJECT_ROOT, stack, _stack_config(stack))
    python = str(ensure_pack_python(DEFAULT_POLICY_PACK))
    preview_pack = PolicyPackSession(stack=stack, dry_run=True, config=config, tags=tags, python=python)
    applied_pack = PolicyPackSession(stack=stack, dry_run=False, config=config, tags=tags, python=python)
    try:
        begin = time.perf_counter()
        preview_pack.start()
        figures[STAGES[2]] = time.perf_counter() - begin
        assert preview_pack.process is not None
        figures[f"cpu: {STAGES[2]}"] = _cpu_of(preview_pack.process.pid)  # the pack's own start-up
        applied_pack.start()
        timed(STAGES[3], lambda: preview_pack.check(preview, policy_config), preview_pack)
        timed(STAGES[4], lambda: applied_pack.check(applied, policy_config), applied_pack)
        timed(STAGES[5], lambda: offline_only_check(applied_pack, applied, policy_config), applied_pack)
    finally:
        preview_pack.close()
        applied_pack.close()
    figures[STAGES[6]] = time.perf_counter() - started  # both pack starts included
    return figures


def whole_check(stack: str, env: dict[str, str]) -> dict[str, float]:
    before_cpu, begin = _cpu_children(), time.perf_counter()
    completed = subprocess.run([sys.executable, "-m", "preflight", "check", "--stack", stack], cwd=ROOT,
                               capture_output=True, text=True, env=env)
    wall = time.perf_counter() - begin
    if completed.returncode not in (0, 1):
        raise SystemExit(f"preflight check failed ({completed.returncode}):\n{completed.stderr[-2000:]}")
    return {"check --stack (whole process)": wall, "cpu: check --stack (with its packs)": _cpu_children() - before_cpu}


def _row(label: str, values: list[float]) -> str:
    return (f"{label:34s} {min(values):8.2f} {statistics.median(values):8.2f} {max(values):8.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time `preflight check` and its stages over several runs.")
    parser.add_argument("--stack", default="prod")
    parser.add_argument("-n", "--runs", type=int, default=5)
    parser.add_argument("--stages-only", action="store_true", help=argparse.SUPPRESS)  # the per-run child
    args = parser.parse_args(argv)
    if args.stages_only:
        print(json.dumps(stages(args.stack)))
        return 0

    env = {**os.environ, "AWS_EC2_METADATA_DISABLED": "true"}
    samples: dict[str, list[float]] = {}
    loads = [os.getloadavg()[0]]
    for _ in range(args.runs):
        child = subprocess.run([sys.executable, __file__, "--stack", args.stack, "--stages-only"], cwd=ROOT,
                               capture_output=True, text=True, env=env)
        if child.returncode != 0:
            raise SystemExit(f"stage run failed:\n{child.stderr[-2000:]}")
        for label, value in json.loads(child.stdout.strip().splitlines()[-1]).items():
            samples.setdefault(label, []).append(value)
        for label, value in whole_check(args.stack, env).items():
            samples.setdefault(label, []).append(value)
        loads.append(os.getloadavg()[0])

    print(f"preflight check --stack {args.stack}: {args.runs} run(s), {os.cpu_count()} cores, "
          f"1-minute load average {min(loads):.1f}-{max(loads):.1f}")
    for heading, wanted in (("wall seconds", lambda label: "cpu" not in label),
                            ("cpu seconds (user + system)", lambda label: "cpu" in label)):
        print(f"{heading:34s} {'min':>8s} {'median':>8s} {'max':>8s}")
        for label, values in samples.items():
            if wanted(label):
                print(_row(label.removeprefix("cpu: "), values))
    return 0


if __name__ == "__main__":
    sys.exit(main())
