"""The contract tests' progress lines reach the terminal while a stage runs, past pytest's capture.

pytest captures file descriptor 1 during a test, so even `sys.__stdout__` lands in the captured output and a
person sees nothing for minutes. Each line is written through pytest's own terminal reporter with capture suspended
for that moment (`CaptureManager.global_and_fixture_disabled`, what `capsys.disabled()` uses), so it shows at once,
in order with pytest's own output, with or without `-s`.
"""

from __future__ import annotations

import contextlib

import pytest

import vllm_server as vs


def install(config: pytest.Config) -> None:
    """Route `vllm_server.log` to the terminal for this session (tests/contract/conftest.py calls it)."""

    def show(line: str) -> None:
        # Looked up per line: a conftest's pytest_configure can run before the terminal reporter exists.
        reporter = config.pluginmanager.getplugin("terminalreporter")
        if reporter is None:  # -p no:terminal: nothing to show on
            return
        capture = config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
            reporter.ensure_newline()
            reporter.write_line(line)
            reporter.flush()

    vs.show_progress_with(show)
