"""The mutation benchmark's coverage-based test selection (scripts/mutation_coverage.py): which lines of a mutated
statement count, and when a mutant's covering tests judge it alone, run first, or not at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from coverage import CoverageData

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from mutation_coverage import (  # noqa: E402
    LineTests, Selection, _by_line, measured_pytest, pytest_arguments, recorded, select, statement_lines,
)

SOURCE = '''TABLE = {
    "a": 1,
    "b": 2,
}


@decorated
def f(x):
    if x > 1:
        return TABLE["a"]
    return 0
'''
MAPPED = ["tests/test_specific.py", "tests/test_wide.py"]


def test_a_change_inside_a_literal_counts_the_whole_statement():
    """Python runs a constant multi-line literal as one line event, at its first line: line 3 alone was never seen."""
    assert list(statement_lines(SOURCE, 3)) == [1, 2, 3, 4]


def test_a_change_in_a_header_counts_the_header_and_not_the_body():
    assert list(statement_lines(SOURCE, 9)) == [9]
    assert list(statement_lines(SOURCE, 10)) == [10]
    assert list(statement_lines(SOURCE, 7)) == [7]  # a decorator: outside every statement's line span


def test_selection_follows_who_executed_the_statement():
    run_only = {9: LineTests(("tests/test_wide.py::t2", "tests/test_specific.py::t1"), False)}
    assert select(run_only, SOURCE, 9, MAPPED) == Selection("only", ("tests/test_specific.py::t1", "tests/test_wide.py::t2"))
    shared = {1: LineTests(("tests/test_wide.py::t2",), True)}
    assert select(shared, SOURCE, 3, MAPPED) == Selection("first", ("tests/test_wide.py::t2",))
    assert select({1: LineTests((), True)}, SOURCE, 2, MAPPED) == Selection("all", ())
    assert select({1: LineTests((), True)}, SOURCE, 10, MAPPED) == Selection("none", ())
    assert select(None, SOURCE, 10, MAPPED) == Selection("all", ())  # --select module: no map, the whole list


def test_contexts_become_tests_or_shared(tmp_path):
    """pytest-cov names a context `<node id>|<phase>`; import time has the empty context."""
    path = str(tmp_path / "module.py")
    data = CoverageData(basename=str(tmp_path / ".coverage"))
    for context, lines in [("", [1]), ("tests/a.py::t1|run", [2, 3]), ("tests/a.py::t2|setup", [4]),
                           ("tests/a.py::t3|run", [3, 5])]:
        data.set_context(context)
        data.add_lines({path: lines})
    readers = {"tests/a.py::t1": [], "tests/a.py::t2": ["tests/a.py::t2", "tests/a.py::t4"], "tests/a.py::t3": []}
    by_line = _by_line(data, path, filled={"tests/a.py::t3|run"}, readers=readers)
    assert by_line[1] == LineTests((), True)  # import time: any test may read it
    assert by_line[2] == LineTests(("tests/a.py::t1",), False)
    assert by_line[3] == LineTests(("tests/a.py::t1", "tests/a.py::t3"), True)  # t3 filled a helper's cache
    assert by_line[4] == LineTests(("tests/a.py::t2", "tests/a.py::t4"), False)  # the fixture's users
    assert 6 not in by_line


PROBE = '''
import sys
sys.path.insert(0, {root!r})
from pathlib import Path
from preflight.engine import PolicyPackSession
from tests.policies.snapshots import compliant_stack


def test_asks_the_pack():
    with PolicyPackSession(Path({root!r}) / "policies", stack="test") as pack:
        assert not pack.check(compliant_stack()).by_policy("serving-namespace-default-deny")
'''


def test_the_pack_process_records_its_lines_under_the_asking_test(tmp_path):
    """The pack answers in its own process and virtualenv: its policy code must still be tied to the test that sent
    the request (gRPC metadata in, coverage's context switched there), and its import to no test at all."""
    root = Path(__file__).resolve().parent.parent
    (tmp_path / "test_probe.py").write_text(PROBE.format(root=str(root)))
    module = root / "policies" / "pod_isolation.py"
    command, env = measured_pytest(tmp_path, [module], ["test_probe.py"], tmp_path / "fixtures.json")
    completed = subprocess.run([*command, "--rootdir", str(tmp_path)], cwd=tmp_path, env=env, capture_output=True,
                               text=True, timeout=300)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    contexts = recorded(tmp_path).contexts_by_lineno(str(module))
    source = module.read_text().splitlines()
    body = next(n for n, text in enumerate(source, 1) if "for deployment in vllm_deployments(view):" in text)
    declaration = next(n for n, text in enumerate(source, 1) if text.startswith("NETWORK_POLICY ="))
    assert contexts[body] == ["test_probe.py::test_asks_the_pack|run"]
    assert contexts[declaration] == [""]


def test_pytest_runs_the_covering_tests_even_outside_the_modules_mapped_files():
    first = Selection("first", ("tests/test_specific.py::t1", "tests/test_other.py::t9"))
    assert pytest_arguments(first, MAPPED) == [*MAPPED, "tests/test_other.py::t9"]
    assert pytest_arguments(Selection("only", ("tests/test_other.py::t9",)), MAPPED) == ["tests/test_other.py::t9"]
    assert pytest_arguments(Selection("all", ()), MAPPED) == MAPPED


SHARED_PROBE = '''
import pytest


@pytest.fixture(scope="module")
def rendered_once():
    return 1


def test_declares(rendered_once):
    assert rendered_once


@pytest.mark.parametrize("name", ["rendered_once"])
def test_asks_by_name(request, name):
    assert request.getfixturevalue(name)
'''


def test_a_fixture_asked_for_by_name_counts_as_shared_with_its_declared_users(tmp_path):
    """A module-scoped result read through `request.getfixturevalue` is read as surely as a declared one."""
    (tmp_path / "test_shared.py").write_text(SHARED_PROBE)
    listed = tmp_path / "fixtures.json"
    env = {**os.environ, "MUTATION_SHARED_FIXTURES": str(listed), "PYTHONPATH": str(Path(__file__).parent.parent / "scripts")}
    completed = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "mutation_order", "-p", "no:cacheprovider",
                                "-o", "addopts=", "--rootdir", str(tmp_path), "test_shared.py"],
                               cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stdout[-2000:]
    assert json.loads(listed.read_text()) == {"test_shared.py::test_declares": ["rendered_once"],
                                              "test_shared.py::test_asks_by_name[rendered_once]": ["rendered_once"]}
