"""The benchmark's records (a mutant, its outcome) and its report: killed/judged per module and every survivor."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Mutant:
    module: str      # path relative to the repository root
    operator: str
    occurrence: int  # cosmic-ray's index of this operator's position within the module
    line: int


@dataclass
class Outcome:
    mutant: Mutant
    status: str   # killed, survived, not-covered (a survivor no test executes), timeout, not-applied
    seconds: float
    diff: str
    tests: str = "module"  # what ran: the module's mapped list, or "selected N" tests first (--select coverage)


# ---- Report -------------------------------------------------------------------------------------------------------

def report(outcomes: list[Outcome], totals: dict[str, int], elapsed: float) -> None:
    """killed/judged per module; a timeout is neither (on a loaded machine it is as likely a slow survivor as a
    mutant that hangs), so it is listed apart and left out of the score."""
    by_module: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.status != "not-applied":
            by_module[outcome.mutant.module].append(outcome)
    print("\nmodule                                     killed/judged  score  timeouts  mutants  seconds")
    killed_all = judged_all = timeouts_all = 0
    for module in sorted(by_module):
        runs = by_module[module]
        killed = sum(outcome.status == "killed" for outcome in runs)
        timeouts = sum(outcome.status == "timeout" for outcome in runs)
        judged = len(runs) - timeouts
        killed_all, judged_all, timeouts_all = killed_all + killed, judged_all + judged, timeouts_all + timeouts
        seconds = sum(outcome.seconds for outcome in runs)
        print(f"{module:<42} {killed:>6}/{judged:<6} {_percent(killed, judged)} {timeouts:>9} {totals[module]:>8} "
              f"{seconds:8.0f}")
    print(f"{'ALL':<42} {killed_all:>6}/{judged_all:<6} {_percent(killed_all, judged_all)} {timeouts_all:>9} "
          f"{sum(totals[m] for m in by_module):>8} {elapsed:8.0f}")
    survivors = [outcome for outcome in outcomes if outcome.status in ("survived", "not-covered")]
    print(f"\n{len(survivors)} survivor(s):")
    for outcome in survivors:
        why = " not covered: no mapped test executes this line" if outcome.status == "not-covered" else ""
        print(f"{outcome.mutant.module}:{outcome.mutant.line} {outcome.mutant.operator} "
              f"(--only {outcome.mutant.module}:{outcome.mutant.operator}:{outcome.mutant.occurrence}){why}"
              f"\n{_indent(outcome.diff)}")
    for outcome in outcomes:
        if outcome.status == "timeout":
            print(f"timeout (not judged): {outcome.mutant.module}:{outcome.mutant.line} {outcome.mutant.operator}"
                  f"\n{_indent(outcome.diff)}")


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f}%" if whole else "    -"


def to_json(outcome: Outcome) -> str:
    return json.dumps({**asdict(outcome.mutant), "status": outcome.status, "seconds": outcome.seconds,
                       "diff": outcome.diff, "tests": outcome.tests})


def from_json(line: str) -> Outcome:
    record = json.loads(line)
    mutant = Mutant(record["module"], record["operator"], record["occurrence"], record["line"])
    return Outcome(mutant, record["status"], record["seconds"], record["diff"], record.get("tests", "module"))


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


