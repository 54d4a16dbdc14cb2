"""The one pulumi_eks DeprecationWarning the project filters is real, is about a class the stack does not use, and is
the only warning hidden (pulumi_eks/node_group.py warns on import that `NodeGroup` uses EC2 launch configurations)."""

import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
STRICT = [sys.executable, "-W", "error::DeprecationWarning", "-c"]


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([*STRICT, code], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)


def test_importing_pulumi_eks_alone_raises_the_warning():
    result = _run("import pulumi_eks")
    assert result.returncode != 0 and "NodeGroup uses AWS EC2 LaunchConfiguration" in result.stderr


def test_the_program_imports_pulumi_eks_without_it():
    result = _run("import vllm_eks.cluster.gpu_cluster")
    assert result.returncode == 0, result.stderr


def test_the_stack_uses_no_pulumi_eks_node_group():
    source = (PROJECT_DIR / "vllm_eks" / "cluster" / "gpu_cluster.py").read_text()
    assert "eks.NodeGroup(" not in source.replace("aws.eks.NodeGroup(", "") and "eks.NodeGroupV2(" not in source
