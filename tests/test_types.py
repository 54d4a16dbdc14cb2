"""basedpyright (standard mode, pyrightconfig.json) over __main__.py, stack_config.py, vllm_eks/, examples/, preflight/ and
policies/: zero errors. The pure builders of AWS inputs return pulumi-aws's own *ArgsDict types, so a misspelt nested
key (the WAF association's `CLOUDFRONT` where WebAclAssociationConfigRequestBodyArgsDict has `cloudfront`) is an error
here, not a silent drop at deploy.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_basedpyright_finds_no_error():
    executable = Path(sys.executable).parent / "basedpyright"
    if not executable.exists():
        pytest.fail(f"basedpyright is not installed beside {sys.executable}: pip install -r requirements-dev.txt")
    result = subprocess.run(
        [str(executable), "--outputjson", "--project", str(PROJECT_DIR / "pyrightconfig.json")],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=900,
    )
    report = json.loads(result.stdout)
    errors = [
        f"{d['file'].removeprefix(str(PROJECT_DIR) + '/')}:{d['range']['start']['line'] + 1}: {d['message'].splitlines()[0]}"
        for d in report["generalDiagnostics"] if d["severity"] == "error"
    ]
    assert report["summary"]["filesAnalyzed"] > 40, report["summary"]
    assert not errors, "\n".join(errors)
