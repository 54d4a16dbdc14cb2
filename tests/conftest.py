"""Shared fixtures: the dev and prod stacks rendered once per session by the same function `preflight` uses."""

from __future__ import annotations

import pytest

from rendered import rendered


@pytest.fixture(scope="session")
def dev_snapshot() -> dict:
    return rendered("dev")


@pytest.fixture(scope="session")
def prod_snapshot() -> dict:
    return rendered("prod")
