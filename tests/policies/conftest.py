"""Policy tests drive the pack in policies/ through the Analyzer gRPC protocol, like `pulumi preview` does.

One pack subprocess serves the whole session; every check re-sends Configure, so tests stay independent.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from preflight.engine import PolicyPackSession  # noqa: E402


def strict_pack_session() -> PolicyPackSession:
    """The pack as the tests run it. Strict mode: a policy that raises fails the test instead of being reported
    "not applicable"."""
    return PolicyPackSession(ROOT / "policies", stack="test", extra_env={"VLLM_EKS_POLICY_STRICT": "1"})


@pytest.fixture(scope="session")
def pack():
    with strict_pack_session() as session:
        yield session


@pytest.fixture
def check(pack):
    def run(snapshot, policy_config=None):
        return pack.check(snapshot, policy_config)
    return run
