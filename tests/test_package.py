"""The component library is an installable package (issue 19): `pip install .` gives a consumer `vllm_eks`, and
nothing of the program (stack_config, stack_checks, program_args, preflight, policies, tests) comes with it.

The full check from the issue, with the registry: `python -m venv /tmp/v && /tmp/v/bin/pip install . &&
/tmp/v/bin/python -c "from vllm_eks.serving import VllmService"`. Here the wheel is built offline with the venv's own
setuptools and its file list compared with the package's sources.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "vllm_eks"
PROGRAM_MODULES = {"stack_config", "stack_checks", "program_args", "preflight", "policies", "tests", "__main__"}


def _library_sources() -> list[Path]:
    return sorted(path for path in LIBRARY.rglob("*.py") if "__pycache__" not in path.parts)


@pytest.mark.slow
def test_wheel_holds_the_library_and_nothing_of_the_program(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, text=True, timeout=300,
    )
    (wheel,) = tmp_path.glob("vllm_eks-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {name for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert shipped == {path.relative_to(ROOT).as_posix() for path in _library_sources()}
    assert "vllm_eks/edge/authorizer/handler.py" in shipped  # the Lambda's source, archived by Edge at deploy
    from vllm_eks import __version__

    assert wheel.name.startswith(f"vllm_eks-{__version__}-")  # the version lives in vllm_eks/__init__.py only


def test_no_library_module_imports_the_program_or_reads_config():
    offenders = []
    for path in _library_sources():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(ROOT)} imports {m}" for m in modules if m.split(".")[0] in PROGRAM_MODULES]
            if isinstance(node, ast.Attribute) and node.attr == "Config" and getattr(node.value, "id", "") == "pulumi":
                offenders.append(f"{path.relative_to(ROOT)} reads pulumi.Config")
    assert not offenders, offenders


def test_every_library_module_imports_first():
    """A consumer may import any module of the library before any other (`from vllm_eks.network.network_policies
    import vllm_policy`): no import cycle may depend on which module comes first. Each module is imported into an
    interpreter that holds no vllm_eks module yet (the SDKs stay loaded: only the library's own order matters)."""
    modules = [".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
               for path in _library_sources()]
    code = ("import importlib, sys, traceback\nfailed = []\n"
            f"for name in {modules!r}:\n"
            "    for loaded in [m for m in sys.modules if m == 'vllm_eks' or m.startswith('vllm_eks.')]:\n"
            "        del sys.modules[loaded]\n"
            "    try:\n        importlib.import_module(name)\n"
            "    except Exception as error:\n        failed.append(f'{name}: {error!r}')\n"
            "print('\\n'.join(failed))")
    # The authorizer's handler makes its Secrets Manager client at import, in the region Lambda sets (Lambda
    # developer guide, "Defined runtime environment variables": AWS_REGION and AWS_DEFAULT_REGION; boto3 reads the latter).
    environment = {**os.environ, "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "", result.stdout
    assert len(modules) == len(_library_sources()) > 40


def test_planning_is_pulumi_free():
    """vllm_eks.planning (catalog, sizing, throughput, cost, start-up time) imports without Pulumi: preflight's plan
    and any other tool may use the arithmetic alone."""
    modules = sorted(f"vllm_eks.planning.{path.stem}" for path in (LIBRARY / "planning").glob("*.py") if path.stem != "__init__")
    code = "import sys\n" + "".join(f"import {m}\n" for m in modules) + \
        "print(sorted(m for m in sys.modules if m.split('.')[0].startswith('pulumi')))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", result.stdout
    assert len(modules) >= 6


PUBLIC_API = {  # what the README's library section tells a consumer to import, group by group
    "vllm_eks.network": ["Network", "NetworkArgs"],
    "vllm_eks.cluster": ["ClusterAddons", "ClusterAddonsArgs", "GpuCluster", "GpuClusterArgs", "ImageCache",
                         "ImageCacheArgs"],
    "vllm_eks.model_store": ["ModelStore", "ModelStoreArgs"],
    "vllm_eks.serving": ["InternalApiKey", "InternalApiKeyArgs", "VllmService", "VllmServiceArgs"],
    "vllm_eks.autoscaling": ["Autoscaling", "AutoscalingArgs"],
    "vllm_eks.observability": ["Observability", "ObservabilityArgs"],
    "vllm_eks.edge": ["Edge", "EdgeArgs"],
}


@pytest.mark.parametrize("group", sorted(PUBLIC_API))
def test_each_group_exports_its_components_and_their_args(group):
    namespace: dict = {}
    exec(f"from {group} import *", namespace)  # noqa: S102 - what `import *` binds is the group's __all__
    assert sorted(name for name in namespace if name != "__builtins__") == PUBLIC_API[group]
