"""The mutation benchmark's coverage baseline only (scripts/mutation_coverage.py puts this directory on PYTHONPATH):
ties each line the policy pack runs to the test whose request ran it.

The pack runs in its own virtualenv (policies/venv, preflight/pack_process.py), which has no coverage.py, so the
hook coverage installs for child processes (its `.pth` file, `patch = subprocess`) never starts there. This module,
imported by `site` at start-up, starts it instead, from the benchmark's own copy of coverage
($MUTATION_COVERAGE_PATH: a directory holding only `coverage`, the same interpreter build), with the configuration
the parent passed down ($COVERAGE_PROCESS_CONFIG). Every Analyzer request the tests send names the asking test in
its gRPC metadata under $MUTATION_TEST_HEADER (scripts/mutation_order.py adds it on the tests' side); a server interceptor switches coverage's
dynamic context to it before the policy code runs, in the `<node id>|<phase>` form pytest-cov's `--cov-context=test`
gives the tests' own lines. The pack's import (its policy tables) runs before any request: no context, so any test
may see it (scripts/mutation_coverage.py treats it as shared).
A process where coverage imports anyway (the tests' own, the renders they start) is left alone.
"""

import importlib.util
import os
import sys

def _borrow_coverage():
    if not os.environ.get("COVERAGE_PROCESS_CONFIG"):
        return None
    if importlib.util.find_spec("coverage") is not None:
        return None  # not the pack's virtualenv: coverage's own hook runs there
    sys.path.append(os.environ["MUTATION_COVERAGE_PATH"])
    import coverage
    return coverage.process_startup()


def _switch_context_per_request(measuring, header):
    import grpc

    class TestContext(grpc.ServerInterceptor):
        def intercept_service(self, continuation, handler_call_details):
            asking = dict(handler_call_details.invocation_metadata or ()).get(header)
            if asking:
                measuring.switch_context(asking)
            return continuation(handler_call_details)

    plain_server = grpc.server

    def server(*args, interceptors=(), **kwargs):
        return plain_server(*args, interceptors=(*interceptors, TestContext()), **kwargs)

    grpc.server = server


_measuring = _borrow_coverage()
if _measuring is not None and os.environ.get("MUTATION_TEST_HEADER"):
    _switch_context_per_request(_measuring, os.environ["MUTATION_TEST_HEADER"])
