"""Run a few lines of Pulumi program (one component, built directly) under the preflight mocks, as render_config runs
the whole program: for a component's own checks of arguments that the stack's config never lets through."""

from __future__ import annotations

from typing import Callable

from preflight.mocks import AwsLikeMocks, RecordingMonitor


def run_component(build: Callable[[], None], region: str = "us-east-1") -> None:
    """Raise what `build` raises inside a Pulumi program (the engine wraps nothing here: the error is the program's)."""
    import pulumi
    from pulumi.runtime import mocks as pulumi_mocks
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    mocks = AwsLikeMocks(region)
    pulumi.runtime.settings.SETTINGS.rpc_manager.clear()  # type: ignore[attr-defined]
    pulumi.runtime.settings.SETTINGS.outputs.clear()  # type: ignore[attr-defined]
    pulumi.runtime.settings.set_root_resource(None)  # type: ignore[arg-type]
    pulumi_mocks.set_mocks(mocks, project="vllm-eks", stack="component", preview=False, monitor=RecordingMonitor(mocks))
    _sync_await(run_pulumi_func(build))
