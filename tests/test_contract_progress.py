"""The contract tests' progress lines reach the terminal while a test runs, under pytest's default capture.

pytest captures file descriptor 1 during a test ("How to capture stdout/stderr output", docs.pytest.org), so a line
written to stdout shows only after the test (or never, if it passes). Here a test logs, then waits for the reader to
acknowledge the line through a file before it ends: it can only pass if the line arrived live.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

CONTRACT_DIR = Path(__file__).resolve().parent / "contract"

TEST = '''
import time
from pathlib import Path
import vllm_server as vs

def test_stage():
    vs.log("stage demo: 0.0s")
    acknowledged = Path(r"{ack}")
    deadline = time.monotonic() + 60
    while not acknowledged.exists():
        assert time.monotonic() < deadline, "the progress line never reached the terminal while the test ran"
        time.sleep(0.05)
'''


def test_progress_lines_show_while_the_test_runs(tmp_path):
    ack = tmp_path / "seen"
    test_file = tmp_path / "sub" / "test_stage.py"
    # The same wiring as tests/contract/conftest.py, in a conftest below the rootdir as there.
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "conftest.py").write_text(
        f"import sys\nsys.path.insert(0, r'{CONTRACT_DIR}')\n\n\ndef pytest_configure(config):\n"
        "    import live_progress\n\n    live_progress.install(config)\n")
    test_file.write_text(TEST.format(ack=ack))
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", os.devnull, "--rootdir", str(tmp_path),
         str(test_file)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    seen_at = None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "[vllm-contract] stage demo: 0.0s" in line and seen_at is None:
            seen_at = time.monotonic()
            ack.write_text("seen")
    assert process.wait(timeout=120) == 0, "".join(lines)
    assert seen_at is not None, "".join(lines)
    assert "1 passed" in "".join(lines)
