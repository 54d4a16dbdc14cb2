"""Mutation-testing benchmark: plant one small realistic bug at a time and count how many the fast suite catches.

    ./mutation.sh --sample 30 --seed 21             # 30 mutants drawn over the whole program (the README's figures)
    ./mutation.sh --per-module 2 --seed 21          # two random mutants of every module (re-runnable per module)
    ./mutation.sh --module vllm_eks/network/network.py    # every mutant of one module (--module is repeatable)
    ./mutation.sh --only stack_checks.py:AddNot:0   # one mutant, e.g. a survivor after a test fix
    ./mutation.sh --per-module 4 --jobs 2           # two mutants judged at once, each in its own private copy
    ./mutation.sh --list                            # mutants per module, nothing run

A benchmark, not a CI gate: it prints `killed/judged` per module, every survivor (file:line, operator, diff) and the
time each module took; the modules and their tests are in scripts/mutation_targets.py. Which of a module's tests run
first, or alone, comes from a coverage map of the unmutated baseline (`--select coverage`, the default;
scripts/mutation_coverage.py); `--select module` runs the module's whole list in its order. The README's testing
section records the last measured figures.

Why cosmic-ray (8.7.0) and not mutmut 3: the policy pack runs in a separate process (policies/venv's python, spoken
to over the Analyzer gRPC protocol, preflight/pack_process.py), so a mutant of policies/*.py must be on disk where that
process imports it. cosmic-ray writes the mutated module to the file itself; mutmut 3 instead runs the tests from a
`mutants/` copy whose functions are trampolines switched by an environment variable and that import mutmut at run
time, which the pack's own virtualenv does not have, and it leaves module-level data (vllm_eks/planning/catalog.py, the
policy tables) unmutated. This script uses cosmic-ray's parser and operators as a library and drives the runs itself,
so it can select tests per module, sample, time out and report the way a 2-core machine needs.

Every mutant is applied to a private copy of the working tree (tracked and untracked, not ignored, files), never to
the checkout itself, so editing tests while a benchmark runs is safe. The pack's virtualenv is shared by a symlink.
Bytecode caching is off (PYTHONDONTWRITEBYTECODE) and the copy's __pycache__ is removed around each mutant: a
mutant of the same size written in the same second as its original would otherwise be served from a stale .pyc.

Operators (scripts/mutation_operators.py): a curated subset of cosmic-ray's core operators (one realistic slip per
construct, not every operator pair), plus a string operator of our own, since most of this program's facts are
strings (ports are numbers, but labels, IAM actions, severities, resource types, policy names are strings);
docstrings, the literal text of f-strings and sentences for people (descriptions, message text: three or more plain
words) are left alone.
"""

from __future__ import annotations

import argparse
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cosmic_ray.mutating import MutationVisitor
from cosmic_ray.operators.operator import Operator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mutation_coverage import (  # noqa: E402
    LineTests, coverage_baseline, load_line_maps, pytest_arguments, save_line_maps, select, tree_key,
)
from mutation_operators import ROOT, enumerate_mutants, modules_in_scope, operators  # noqa: E402
from mutation_report import Mutant, Outcome, from_json, report, to_json  # noqa: E402
from mutation_targets import TESTS_FOR_MODULE  # noqa: E402

# What is mutated and which tests judge it: scripts/mutation_targets.py (the one place to re-point).


# ---- Running ------------------------------------------------------------------------------------------------------

def make_work_copy() -> Path:
    """A private copy of the working tree, with the shared virtualenvs linked in."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                            check=True, capture_output=True).stdout.decode().split("\0")
    sys.path.insert(0, str(ROOT))
    from preflight.pack_process import ensure_pack_python, pack_virtualenv
    ensure_pack_python(ROOT / "policies")
    pack_venv = pack_virtualenv(ROOT / "policies")
    work = Path(tempfile.mkdtemp(prefix="vllm-eks-mutation-"))
    for relative in filter(None, listed):
        source = ROOT / relative
        if source.is_symlink() or not source.exists():
            continue
        target = work / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    (work / pack_venv.relative_to(ROOT)).symlink_to(pack_venv)
    return work


def _drop_bytecode(work: Path, module: str) -> None:
    cache = (work / module).parent / "__pycache__"
    for stale in cache.glob(Path(module).stem + ".*.pyc"):
        stale.unlink()


def run_mutant(work: Path, mutant: Mutant, ops: dict[str, Operator], timeout: float,
               line_map: dict[int, LineTests] | None = None) -> Outcome:
    """Plant the mutant in the private copy and run its tests (-x): the module's mapped list, or with a coverage line
    map the tests that execute the mutated statement (scripts/mutation_coverage.py says when those alone judge it)."""
    path = work / mutant.module
    original = path.read_text()
    mutated = MutationVisitor.mutate_code(original, ops[mutant.operator], mutant.occurrence)
    if mutated is None or mutated == original:
        return Outcome(mutant, "not-applied", 0.0, "")
    diff = _diff(original, mutated)
    chosen = select(line_map, original, mutant.line, TESTS_FOR_MODULE[mutant.module])
    if chosen.kind == "none":
        return Outcome(mutant, "not-covered", 0.0, diff, "none")
    tests = pytest_arguments(chosen, TESTS_FOR_MODULE[mutant.module])
    started = time.monotonic()
    try:
        _drop_bytecode(work, mutant.module)
        path.write_text(mutated)
        status = _pytest(work, tests, timeout, first=chosen.tests if chosen.kind == "first" else ())
    finally:
        path.write_text(original)
        _drop_bytecode(work, mutant.module)
    ran = {"only": f"only its {len(chosen.tests)} covering test(s)", "all": "module",
           "first": f"module, its {len(chosen.tests)} covering test(s) first"}[chosen.kind]
    return Outcome(mutant, status, time.monotonic() - started, diff, ran)


def _pytest(work: Path, tests: list[str], timeout: float, first: tuple[str, ...] = ()) -> str:
    """killed, survived or timeout: one pytest run (-x) in the private copy, the tests in `first` ahead of the rest."""
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-m", "not vllm", "-p", "no:cacheprovider",
               "--no-header", "-o", "addopts=", *tests]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    if first:
        listed = work / ".mutation-first-tests"
        listed.write_text("\n".join(first) + "\n")
        command[3:3] = ["-p", "mutation_order"]
        env.update(MUTATION_FIRST_TESTS=str(listed),
                   PYTHONPATH=os.pathsep.join(filter(None, [str(Path(__file__).parent), env.get("PYTHONPATH")])))
    process = subprocess.Popen(command, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        return "survived" if process.wait(timeout=timeout) == 0 else "killed"
    except subprocess.TimeoutExpired:
        return "timeout"
    finally:  # also on Ctrl-C/SIGTERM: the tests and what they started (the pack has a session of its own)
        _kill_session(process)
        _kill_started_in(work)


def _kill_session(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def _kill_started_in(work: Path) -> None:
    """Processes still running in the private copy (a policy pack whose test run was killed): all ours."""
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if os.readlink(proc / "cwd").startswith(str(work)):
                os.kill(int(proc.name), signal.SIGKILL)
        except OSError:
            continue


def _diff(original: str, mutated: str) -> str:
    old, new = original.splitlines(), mutated.splitlines()
    return "\n".join([f"- {a.strip()}\n+ {b.strip()}" for a, b in zip(old, new) if a != b][:3])


def baseline(work: Path, modules: list[str], timeout: float, with_coverage: bool = False) -> dict:
    """The selected tests must pass unmutated, or every mutant would count as killed; with coverage, the same run
    also records which test executes which line of each module (scripts/mutation_coverage.py)."""
    tests = sorted({test for module in modules for test in TESTS_FOR_MODULE[module]})
    cache = ROOT / ".cache" / "mutation-coverage" / f"{tree_key(work)}.json"  # .cache/ is git-ignored
    passed, known = load_line_maps(cache) if with_coverage else (set(), {})
    if with_coverage and set(modules) <= passed:
        print(f"baseline: this tree's tests passed and its coverage map was taken before ({cache})", flush=True)
        return known
    print(f"baseline: {len(tests)} test files unmutated{' under coverage' if with_coverage else ''} ...", flush=True)
    started = time.monotonic()
    if with_coverage:
        line_maps = {**known, **coverage_baseline(work, modules, tests, timeout)}
        save_line_maps(cache, passed | set(modules), line_maps)
    else:
        command = [sys.executable, "-m", "pytest", "-q", "-m", "not vllm", "-p", "no:cacheprovider", "--no-header",
                   "-o", "addopts=", *tests]
        completed = subprocess.run(command, cwd=work, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
                                   capture_output=True, text=True, timeout=timeout * max(1, len(tests)))
        if completed.returncode != 0:
            sys.exit("the selected tests fail without any mutation; fix them first:\n" + completed.stdout[-3000:])
        line_maps = {}
    print(f"baseline passed in {time.monotonic() - started:.0f} s", flush=True)
    return line_maps


def _survivors_now(log: Path, candidates: list[Mutant], ops: dict[str, Operator]) -> list[Mutant]:
    """The survivors of an earlier run, matched in the current code by module, operator and diff: occurrence
    numbers and lines shift when the code above them changes."""
    survivors = [outcome for outcome in map(from_json, filter(str.strip, log.read_text().splitlines()))
                 if outcome.status in ("survived", "not-covered")]
    by_key: dict[tuple[str, str], list[Mutant]] = {}
    for mutant in candidates:
        by_key.setdefault((mutant.module, mutant.operator), []).append(mutant)
    sources = {module: (ROOT / module).read_text() for module, _ in by_key}
    diffs: dict[Mutant, str] = {}  # each candidate mutated once, however many survivors share its module

    def diff_of(mutant: Mutant) -> str:
        if mutant not in diffs:
            source = sources[mutant.module]
            diffs[mutant] = _diff(source, MutationVisitor.mutate_code(source, ops[mutant.operator], mutant.occurrence) or "")
        return diffs[mutant]

    found = []
    for survivor in survivors:
        key = (survivor.mutant.module, survivor.mutant.operator)
        same = [mutant for mutant in by_key.get(key, []) if diff_of(mutant) == survivor.diff]
        # the same slip can read the same on two lines: the one nearest its old line is it
        match = min(same, key=lambda mutant: abs(mutant.line - survivor.mutant.line), default=None)
        if match is None:
            print(f"gone from the code: {survivor.mutant.module}:{survivor.mutant.line} {survivor.mutant.operator}",
                  flush=True)
        else:
            found.append(match)
    return found


def _judge_all(chosen: list[Mutant], works: list[Path], ops: dict[str, Operator], timeout: float,
               line_maps: dict, log: str | None) -> list[Outcome]:
    """Judge the mutants in order, one per private copy at a time; print (and log) each outcome as it comes."""
    free: "queue.Queue[Path]" = queue.Queue()
    for work in works:
        free.put(work)
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def judge(mutant: Mutant) -> None:
        work = free.get()
        try:
            outcome = run_mutant(work, mutant, ops, timeout, line_maps.get(mutant.module))
        finally:
            free.put(work)
        with lock:
            outcomes.append(outcome)
            if log:
                with open(log, "a") as stream:
                    stream.write(to_json(outcome) + "\n")
            print(f"[{len(outcomes)}/{len(chosen)}] {outcome.status:<11} {outcome.seconds:5.0f} s  "
                  f"{mutant.module}:{mutant.line} {mutant.operator}  ({outcome.tests})", flush=True)

    pool = ThreadPoolExecutor(max_workers=len(works))
    try:
        for done in [pool.submit(judge, mutant) for mutant in chosen]:
            done.result()
    finally:  # a run stopped early: drop what has not started, kill what runs (its worker then returns)
        pool.shutdown(wait=False, cancel_futures=True)
        for work in works:
            _kill_started_in(work)
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", action="append", default=[],
                        help="a module path (repeatable) or a directory prefix such as policies/; default: all")
    parser.add_argument("--sample", type=int, help="run this many mutants drawn at random (after --module)")
    parser.add_argument("--per-module", type=int, help="run at most this many random mutants of each module")
    parser.add_argument("--seed", type=int, default=21, help="random seed for --sample/--per-module (default 21)")
    parser.add_argument("--only", action="append", default=[],
                        help="only this mutant, as module:operator:occurrence (repeatable): re-check a survivor")
    parser.add_argument("--operator", action="append", default=[], help="only these operators (repeatable)")
    parser.add_argument("--survivors-of", metavar="LOG",
                        help="only the survivors an earlier --log recorded, found again in today's code by their "
                             "diff (after test fixes, or after the code moved them); one that is gone is named")
    parser.add_argument("--jobs", type=int, default=1,
                        help="mutants judged at once, each in its own private copy (default 1; at most the cores)")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds per mutant before it counts as killed")
    parser.add_argument("--list", action="store_true", help="print the mutants per module and stop")
    parser.add_argument("--log", help="append each outcome as a JSON line to this file")
    parser.add_argument("--from-log", help="print the report of the mutants selected here from an earlier --log")
    parser.add_argument("--select", choices=("coverage", "module"), default="coverage",
                        help="coverage (default): run first the tests that execute the mutated statement "
                             "(scripts/mutation_coverage.py); module: the module's whole mapped list, as before")
    parser.add_argument("--no-baseline", action="store_true",
                        help="with --select module, skip the unmutated run of the selected tests (--select coverage "
                             "always runs it: it records which test executes which line)")
    args = parser.parse_args(argv)

    ops = operators()
    in_scope = {module: enumerate_mutants(module, ops) for module in modules_in_scope()}
    unmapped = [module for module, found in in_scope.items() if found and module not in TESTS_FOR_MODULE]
    if unmapped:
        sys.exit(f"modules without tests in TESTS_FOR_MODULE: {unmapped}")
    if args.operator:
        in_scope = {module: [m for m in found if m.operator in args.operator] for module, found in in_scope.items()}
    all_mutants = {module: found for module, found in in_scope.items() if found and (
        not args.module or any(module == p or module.startswith(p.rstrip("/") + "/") for p in args.module))}
    if not all_mutants:
        sys.exit(f"--module {args.module} matches no module with mutants")
    modules = list(all_mutants)
    totals = {module: len(found) for module, found in all_mutants.items()}
    if args.list:
        for module, count in totals.items():
            print(f"{module:<42} {count:>5}")
        print(f"{'ALL':<42} {sum(totals.values()):>5}")
        return 0

    chosen = [mutant for found in all_mutants.values() for mutant in found]
    if args.per_module:  # each module's draw depends only on the seed and that module, so it can be re-run alone
        chosen = [m for module, found in all_mutants.items()
                  for m in random.Random(f"{args.seed}:{module}").sample(found, min(args.per_module, len(found)))]
    if args.only:  # re-check survivors after a test fix: module:operator:occurrence as the report prints them
        wanted = {tuple(item.rsplit(":", 2)) for item in args.only}
        chosen = [m for m in chosen if (m.module, m.operator, str(m.occurrence)) in wanted]
    if args.survivors_of:
        chosen = _survivors_now(Path(args.survivors_of), chosen, ops)
    if args.sample and args.sample < len(chosen):
        chosen = random.Random(args.seed).sample(chosen, args.sample)
    # A seeded shuffle, so a run stopped early (see --from-log) still covers every module about evenly.
    chosen.sort(key=lambda mutant: (mutant.module, mutant.line, mutant.operator))
    random.Random(args.seed).shuffle(chosen)
    print(f"{len(chosen)} of {sum(totals.values())} mutants in {len(modules)} module(s); seed {args.seed}", flush=True)

    if args.from_log:
        outcomes = [from_json(line) for line in Path(args.from_log).read_text().splitlines() if line.strip()]
        wanted = set(chosen)
        report([o for o in outcomes if o.mutant in wanted], totals, sum(o.seconds for o in outcomes))
        return 0

    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped (SIGTERM)"))
    started = time.monotonic()
    works = [make_work_copy() for _ in range(max(1, args.jobs))]
    try:
        line_maps = {}
        if args.select == "coverage":  # the copies are identical: one baseline serves them all
            line_maps = baseline(works[0], sorted({m.module for m in chosen}), args.timeout, with_coverage=True)
        elif not args.no_baseline:
            baseline(works[0], sorted({m.module for m in chosen}), args.timeout)
        outcomes = _judge_all(chosen, works, ops, args.timeout, line_maps, args.log)
    finally:
        for work in works:
            shutil.rmtree(work, ignore_errors=True)
    report(outcomes, totals, time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
