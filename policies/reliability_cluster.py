"""Reliability pillar, cluster: volumes that can bind, router health checks that judge only the router."""

from __future__ import annotations

POLICIES: list = []
