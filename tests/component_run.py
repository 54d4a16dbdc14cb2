"""Run a few lines of Pulumi program (one component, built directly) under the preflight mocks, as render_config runs
the whole program: for a component's own checks of arguments that the stack's config never lets through."""

from __future__ import annotations

from typing import Callable

from preflight.render import install_mocks


def run_component(build: Callable[[], None], region: str = "us-east-1") -> None:
    """Raise what `build` raises inside a Pulumi program (the engine wraps nothing here: the error is the program's)."""
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    install_mocks(region, "vllm-eks", "component")
    _sync_await(run_pulumi_func(build))
