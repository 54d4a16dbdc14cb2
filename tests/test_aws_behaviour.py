"""The list of AWS behaviours the tests assume (tests/aws_behaviour.py) stays tied to the tests that assume them."""

from __future__ import annotations

from pathlib import Path

import pytest

from aws_behaviour import ASSUMPTIONS

TESTS_DIR = Path(__file__).resolve().parent


@pytest.mark.parametrize("assumption", ASSUMPTIONS, ids=lambda a: a.source)
def test_each_assumption_is_cited_where_it_is_used(assumption):
    for module in assumption.used_by:
        path = TESTS_DIR / module
        assert path.exists(), f"{module} is listed for {assumption.source!r} but does not exist"
        assert assumption.source in path.read_text(), f"{module} relies on {assumption.source!r} without citing it"
