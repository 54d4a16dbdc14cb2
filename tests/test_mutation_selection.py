"""The mutation benchmark's coverage-based test selection (scripts/mutation_coverage.py): which lines of a mutated
statement count, and when a mutant's covering tests judge it alone, run first, or not at all."""

from __future__ import annotations

import sys
from pathlib import Path

from coverage import CoverageData

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from mutation_coverage import LineTests, Selection, _by_line, select, statement_lines  # noqa: E402

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
    assert select(None, SOURCE, 10, MAPPED) == Selection("all", ())  # the pack: no map, the whole list


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
