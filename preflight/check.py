"""Public API of the offline policy check (`python -m preflight check`): re-exports the engine-side harness."""

from preflight.engine import (  # noqa: F401
    CheckResult, PolicyConfigError, PolicyPackError, PolicyPackSession, Violation, check_snapshot, format_report,
    load_snapshot, result_to_json,
)
