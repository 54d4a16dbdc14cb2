"""Shared fixtures: the dev and prod stacks rendered once per session by the same function `preflight` uses."""

from __future__ import annotations

import pytest

from rendered import rendered, rendered_without_cloudfront


@pytest.fixture(scope="session")
def dev_snapshot() -> dict:
    return rendered("dev")


@pytest.fixture(scope="session")
def prod_snapshot() -> dict:
    return rendered("prod")


@pytest.fixture(scope="session")
def regional_snapshot() -> dict:
    """dev without CloudFront: the API Gateway stage is the public entry."""
    return rendered_without_cloudfront("dev")
