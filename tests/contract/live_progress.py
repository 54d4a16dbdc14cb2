"""pytest plugin: the contract tests' progress lines reach the terminal while a stage runs, past pytest's capture.

pytest captures file descriptor 1 during a test, so even `sys.__stdout__` lands in the captured output and a
person sees nothing for minutes. Each line is written through pytest's own terminal reporter with capture suspended
for that moment (`CaptureManager.global_and_fixture_disabled`, what `capsys.disabled()` uses), so it shows at once,
in order with pytest's own output, with or without `-s`.
"""

from __future__ import annotations

import pytest

import vllm_server as vs


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    capture = config.pluginmanager.getplugin("capturemanager")
    reporter = config.pluginmanager.getplugin("terminalreporter")
    if reporter is None:  # -p no:terminal: nothing to show on
        return

    def show(line: str) -> None:
        with capture.global_and_fixture_disabled() if capture is not None else _nothing():
            reporter.ensure_newline()
            reporter.write_line(line)
            reporter.flush()

    vs.show_progress_with(show)


def pytest_unconfigure(config: pytest.Config) -> None:  # noqa: ARG001
    vs.show_progress_with(None)


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
