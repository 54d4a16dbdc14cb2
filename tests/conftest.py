"""Shared fixtures: the dev and prod stacks rendered once per session by the same function `preflight` uses."""

from __future__ import annotations

import pytest

from preflight.render import render_stack


@pytest.fixture(scope="session")
def dev_snapshot() -> dict:
    return render_stack("dev")


@pytest.fixture(scope="session")
def prod_snapshot() -> dict:
    return render_stack("prod")


def resources_of(snapshot: dict, type_token: str) -> list[dict]:
    return [resource for resource in snapshot["resources"] if resource["type"] == type_token]


def resource_named(snapshot: dict, type_token: str, name: str) -> dict:
    matches = [r for r in resources_of(snapshot, type_token) if r["name"] == name]
    assert len(matches) == 1, f"expected one {type_token} named {name}, found {[r['name'] for r in resources_of(snapshot, type_token)]}"
    return matches[0]
