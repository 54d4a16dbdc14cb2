"""Coverage-based test selection for the mutation benchmark (scripts/mutation_benchmark.py, `--select coverage`).

The unmutated baseline runs once under coverage.py with pytest-cov's per-test contexts (`--cov-context=test`), which
records, for every line of the mutated modules, the tests whose run phase executed it. A mutant whose statement only
ever ran inside tests' run phases is judged by those tests alone. Where that could miss a test, the module's whole
mapped list runs (pytest -x, as with `--select module`), with the covering tests first (scripts/mutation_order.py):
  - the statement ran at import or in a child Python process (coverage's `patch = subprocess`, no test context
    there): any test may read what it computed;
  - it ran where a cache of the test helpers was filled (an `lru_cache` function under tests/, such as
    tests/rendered.py's `rendered`, behind the session's rendered stacks): later tests read the cached result
    without executing anything. (Not for the policy pack's lines: those caches live in the tests' process.)
A statement run in a fixture's set-up or tear-down (a module-scoped plan, the policy pack's session) is judged by
every test using one of that test's module- or session-scoped fixtures (scripts/mutation_order.py lists them).
A line no test executes at all is a survivor without running anything ("not covered").
The map is kept in .cache/mutation-coverage/<digest of the private copy>.json: a later run on the very same tree
(another seed, more mutants per module, a subset of the modules) skips the baseline.
The policy pack (policies/*.py) runs in its own process and virtualenv (policies/venv, preflight/pack_process.py), one
process per pytest session answering every test over gRPC: there each request names the asking test, and coverage's
context follows it (scripts/mutation_order.py, scripts/mutation_site/sitecustomize.py), so its lines are tied to
tests the same way.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from coverage import CoverageData

_DATA_FILE = ".mutation-coverage"


@dataclass(frozen=True)
class Selection:
    kind: str               # "only" (just these tests), "first" (these, then the mapped list), "all", "none"
    tests: tuple[str, ...]  # pytest node ids, for "only" and "first"


@dataclass(frozen=True)
class LineTests:
    tests: tuple[str, ...]  # the tests whose run phase executed the line
    shared: bool            # also executed where other tests read its result (see the module docstring)


def coverage_baseline(work: Path, modules: list[str], tests: list[str], timeout: float) -> dict[str, dict[int, LineTests]]:
    """Run `tests` unmutated under coverage; return, per measured module, each executed line and who executed it."""
    caches = _cached_helpers(work)
    include = [work / path for path in [*modules, *caches]] or [work / "nothing-measured"]
    fixtures_file = work / ".mutation-shared-fixtures.json"
    command, env = measured_pytest(work, include, tests, fixtures_file)
    completed = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True,
                               timeout=timeout * max(1, len(tests)))
    if completed.returncode != 0:
        sys.exit("the selected tests fail without any mutation; fix them first:\n" + completed.stdout[-3000:])
    data = recorded(work)
    filled = {context for path, bodies in caches.items()
              for line, contexts in data.contexts_by_lineno(str(work / path)).items() if line in bodies
              for context in contexts}
    fixtures = json.loads(fixtures_file.read_text())
    users: dict[str, set[str]] = {}
    for test, names in fixtures.items():
        for name in names:
            users.setdefault(name, set()).add(test)
    readers = {test: sorted({user for name in names for user in users[name]}) for test, names in fixtures.items()}
    # The helpers' caches live in the tests' process: they cannot hold what the policy pack's process computed.
    return {module: _by_line(data, str(work / module), set() if _in_pack(module) else filled, readers)
            for module in modules}


def _in_pack(module: str) -> bool:
    return module.startswith("policies/")


def measured_pytest(work: Path, include: list[Path], tests: list[str],
                    fixtures_file: Path) -> tuple[list[str], dict[str, str]]:
    """The command and environment of a pytest run in `work` that records, per test, the lines of `include` it
    executed, in the policy pack's process too, and writes each test's wider-scoped fixtures to `fixtures_file`."""
    rcfile = work / ".mutation-coveragerc"
    # sigterm: the policy pack is stopped with SIGTERM (preflight/pack_process.py) and must still save its data
    rcfile.write_text(f"[run]\ndata_file = {work / _DATA_FILE}\npatch = subprocess\nsigterm = true\ninclude =\n    "
                      + "\n    ".join(map(str, include)) + "\n")
    command = [sys.executable, "-m", "pytest", "-q", "-m", "not vllm", "-p", "no:cacheprovider", "-p", "mutation_order",
               "--no-header", "-o", "addopts=", "--cov", "--cov-context=test", f"--cov-config={rcfile}",
               "--cov-report=", *tests]
    here = Path(__file__).parent
    env = {**_env(), "MUTATION_SHARED_FIXTURES": str(fixtures_file), "MUTATION_TEST_HEADER": "x-mutation-test",
           "MUTATION_COVERAGE_PATH": str(_coverage_alone(work)),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(here), str(here / "mutation_site"),
                                                       os.environ.get("PYTHONPATH")]))}
    return command, env


def recorded(work: Path) -> CoverageData:
    data = CoverageData(basename=str(work / _DATA_FILE))
    data.read()
    return data


def _coverage_alone(work: Path) -> Path:
    """A directory holding only this coverage.py, for the pack's virtualenv to import it from and nothing else."""
    import coverage

    alone = work / ".mutation-coverage-lib"
    alone.mkdir(exist_ok=True)
    if not (alone / "coverage").exists():
        (alone / "coverage").symlink_to(Path(coverage.__file__).parent)
    return alone


def _cached_helpers(work: Path) -> dict[str, set[int]]:
    """The body lines of every `lru_cache`/`cache` function of the test helpers: executing one fills the cache."""
    found: dict[str, set[int]] = {}
    for path in sorted((work / "tests").rglob("*.py")):
        source = path.read_text()
        if "cache" not in source:
            continue
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef) and any("cache" in ast.unparse(d) for d in node.decorator_list):
                lines = set(range(node.body[0].lineno, (node.end_lineno or node.lineno) + 1))
                found.setdefault(str(path.relative_to(work)), set()).update(lines)
    return found


def _by_line(data: CoverageData, path: str, filled: set[str], readers: dict[str, list[str]]) -> dict[int, LineTests]:
    """Who can see a change of each line: the tests that ran it, and for a line run in a fixture's set-up or
    tear-down, every test using one of that test's module- or session-scoped fixtures. A line run at import, in a
    child process (no test context) or in a context that filled a helper's cache can be seen by any test: shared."""
    by_line = {}
    for line, contexts in data.contexts_by_lineno(path).items():
        tests: set[str] = set()
        shared = False
        for context in contexts:
            test, _, phase = context.rpartition("|")
            shared = shared or not test or test not in readers or context in filled
            if test and phase == "run":
                tests.add(test)
            elif test in readers:
                tests.update(readers[test])
        by_line[line] = LineTests(tuple(sorted(tests)), shared)
    return by_line


def select(line_map: dict[int, LineTests] | None, source: str, line: int, mapped_files: list[str]) -> Selection:
    """What runs for a mutant on `line`, from who executed any line of its statement unmutated."""
    if line_map is None:
        return Selection("all", ())
    executed = [line_map[number] for number in statement_lines(source, line) if number in line_map]
    if not executed:
        return Selection("none", ())
    order = {path: index for index, path in enumerate(mapped_files)}  # most specific file first, as with -x before
    tests = tuple(sorted({test for found in executed for test in found.tests},
                         key=lambda node: (order.get(node.split("::")[0], len(order)), node)))
    if any(found.shared for found in executed):
        return Selection("first", tests) if tests else Selection("all", ())
    return Selection("only", tests)


def pytest_arguments(chosen: Selection, mapped_files: list[str]) -> list[str]:
    """What pytest is given for a selection: "only", the covering tests (the statement ran in their run phases and
    nowhere else, so no other test can see the change); otherwise the module's mapped files plus any covering test
    outside them (for "first", scripts/mutation_order.py puts the covering tests ahead)."""
    if chosen.kind == "only":
        return list(chosen.tests)
    return [*mapped_files, *(test for test in chosen.tests if test.split("::")[0] not in mapped_files)]


def statement_lines(source: str, line: int) -> range:
    """The lines coverage may have recorded for a change on `line`: the whole statement around it (a multi-line
    literal is one line event, at its first line), or for a compound statement its header up to `line`."""
    innermost = None
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.stmt) and node.lineno <= line <= (node.end_lineno or node.lineno):
            if innermost is None or node.lineno >= innermost.lineno:
                innermost = node
    if innermost is None:
        return range(line, line + 1)
    if any(isinstance(child, ast.stmt) for child in ast.iter_child_nodes(innermost)):
        return range(innermost.lineno, line + 1)
    return range(innermost.lineno, (innermost.end_lineno or line) + 1)


def tree_key(work: Path) -> str:
    """A digest of every file of the private copy: a coverage map is reused only on the very tree it was taken on."""
    digest = hashlib.sha256()
    for path in sorted(work.rglob("*")):  # symlinked directories (the pack's venv) are not descended into
        if path.is_file() and not path.is_symlink() and not path.name.startswith(".mutation-"):
            digest.update(str(path.relative_to(work)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:24]


def load_line_maps(cache: Path) -> tuple[set[str], dict[str, dict[int, LineTests]]]:
    """The modules whose tests passed on this tree, and their line maps, from an earlier run (none if no file)."""
    if not cache.is_file():
        return set(), {}
    stored = json.loads(cache.read_text())
    maps = {module: {int(line): LineTests(tuple(tests), shared) for line, (tests, shared) in lines.items()}
            for module, lines in stored["maps"].items()}
    return set(stored["passed"]), maps


def save_line_maps(cache: Path, passed: set[str], maps: dict[str, dict[int, LineTests]]) -> None:
    cache.parent.mkdir(parents=True, exist_ok=True)
    stored = {module: {str(line): [list(found.tests), found.shared] for line, found in lines.items()}
              for module, lines in maps.items()}
    cache.write_text(json.dumps({"passed": sorted(passed), "maps": stored}))


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
