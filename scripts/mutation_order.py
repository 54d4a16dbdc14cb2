"""pytest plugin of the mutation benchmark (`-p mutation_order`, scripts/mutation_coverage.py).

$MUTATION_FIRST_TESTS: a file of node ids, one a line, that run first (those that execute the mutated statement); the
others follow in their usual order in the same process, so the rendered stacks and the policy pack are built once.
$MUTATION_SHARED_FIXTURES: a file this plugin writes in the coverage baseline, each test's fixtures of a wider scope
than the function (a module- or session-scoped result other tests read without executing the code that made it),
including those a test asks for by name while it runs.
$MUTATION_TEST_HEADER (the coverage baseline too): every gRPC request the tests send names the asking test and phase
in that metadata key, from pytest's PYTEST_CURRENT_TEST, so the policy pack's process can record its lines under that
test (scripts/mutation_site/sitecustomize.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

_PHASES = {"setup": "setup", "call": "run", "teardown": "teardown"}  # pytest's words -> pytest-cov's context suffixes


def pytest_configure(config) -> None:
    header = os.environ.get("MUTATION_TEST_HEADER")
    if header:
        _name_the_test_in_requests(header)


def _name_the_test_in_requests(header: str) -> None:
    import grpc

    class NameTheTest(grpc.UnaryUnaryClientInterceptor):
        def intercept_unary_unary(self, continuation, details, request):
            current = os.environ.get("PYTEST_CURRENT_TEST", "")  # "<node id> (setup|call|teardown)"
            node, _, phase = current.rpartition(" (")
            if node and phase.rstrip(")") in _PHASES:
                details = details._replace(metadata=[*(details.metadata or ()),
                                                     (header, f"{node}|{_PHASES[phase.rstrip(')')]}")])
            return continuation(details, request)

    plain_channel = grpc.insecure_channel

    def insecure_channel(*args, **kwargs):
        return grpc.intercept_channel(plain_channel(*args, **kwargs), NameTheTest())

    grpc.insecure_channel = insecure_channel


def pytest_collection_modifyitems(session, config, items) -> None:
    listed = os.environ.get("MUTATION_FIRST_TESTS")
    if listed:
        rank = {node: index for index, node in enumerate(Path(listed).read_text().splitlines())}
        items.sort(key=lambda item: rank.get(item.nodeid, len(rank)))  # a stable sort: the rest keep their order


# Each test's fixtures of a wider scope, as pytest set them up for it: those it declares and those it asks for while
# it runs (`request.getfixturevalue`, as the tests parametrized over fixture names do), written when the session ends.
_WIDER: dict[str, set[str]] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    if os.environ.get("MUTATION_SHARED_FIXTURES"):
        used = getattr(getattr(item, "_request", None), "_fixture_defs", {})  # pytest's record of what ran
        _WIDER[item.nodeid] = _wider(used)
    yield


def pytest_sessionfinish(session) -> None:
    shared = os.environ.get("MUTATION_SHARED_FIXTURES")
    if shared:
        Path(shared).write_text(json.dumps({node: sorted(names) for node, names in _WIDER.items()}))


def _wider(definitions: dict) -> set[str]:
    # The project's own fixtures (pytest's and plugins' have no base id): tmp_path_factory and friends share nothing
    # computed by the code under test.
    return {name for name, definition in definitions.items() if definition.scope != "function" and definition.baseid}
