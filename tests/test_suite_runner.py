"""`./test.sh` (what `.ci/run` runs) runs the real-vLLM contract beside the rest of the suite and must fail when either
half fails. Checked on a copy of the script whose `.venv/bin/python` stands in for pip and pytest, so the split and
its exit status are judged in a second, not by running the suite."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Records each pytest invocation's arguments and exits as the test asks for that half (`-m vllm` or the rest).
FAKE_PYTHON = """#!/bin/sh
[ "$2" = pip ] && exit 0
echo "$*" >> "$(dirname "$0")/../../calls"
if [ "$3 $4" = "-m vllm" ]; then echo contract-output; exit $CONTRACT_STATUS; fi
exit $REST_STATUS
"""


def _run(tmp_path: Path, rest: int, contract: int, *args: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    shutil.copy(ROOT / "test.sh", tmp_path / "test.sh")
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_PYTHON)
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    # promtool and amtool present, so the copy installs nothing (test.sh only runs apt when one is missing).
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("promtool", "amtool"):
        (tools / tool).write_text("#!/bin/sh\n")
        (tools / tool).chmod(0o755)
    done = subprocess.run(["bash", str(tmp_path / "test.sh"), *args], capture_output=True, text=True, timeout=60,
                          env={"PATH": f"{tools}:/usr/bin:/bin", "REST_STATUS": str(rest),
                               "CONTRACT_STATUS": str(contract)})
    calls = (tmp_path / "calls").read_text().splitlines() if (tmp_path / "calls").exists() else []
    return done, sorted(calls)


@pytest.mark.parametrize("rest, contract, expected", [(0, 0, 0), (1, 0, 1), (0, 1, 1), (2, 1, 2)])
def test_a_bare_run_is_both_halves_and_fails_when_either_fails(tmp_path, rest, contract, expected):
    done, calls = _run(tmp_path, rest, contract)
    assert calls == ["-m pytest -m not vllm", "-m pytest -m vllm"]
    assert done.returncode == expected, done.stdout + done.stderr
    assert "contract-output" in done.stdout  # the contract's log, printed at the end
    assert (tmp_path / "out" / "contract-tests.log").read_text() == "contract-output\n"


def test_arguments_make_one_pytest_run_of_what_they_select(tmp_path):
    done, calls = _run(tmp_path, 3, 0, "-m", "not vllm", "-k", "edge")
    assert (calls, done.returncode) == (["-m pytest -m not vllm -k edge"], 3)
