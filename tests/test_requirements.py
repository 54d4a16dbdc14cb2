"""Every third-party module the program and `preflight` import is installed by requirements.txt alone.

`up.sh` builds its venv from requirements.txt (requirements-dev.txt is the tests'), so a module that only the tests
install crashes `./up.sh` on a fresh machine while every test passes: it happened with jsonschema, which
`preflight check` uses to validate policy config.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_SOURCES = ["__main__.py", "program_args.py", "stack_config.py", "stack_checks.py", "preflight", "vllm_eks"]
LOCAL = {"preflight", "vllm_eks", "stack_config", "stack_checks", "program_args"}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _top_level_imports() -> set[str]:
    files = [path for source in RUNTIME_SOURCES for path in ([ROOT / source] if (ROOT / source).is_file()
                                                             else (ROOT / source).rglob("*.py"))]
    names = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - LOCAL - set(sys.stdlib_module_names)


def _installed_by(requirements: Path) -> set[str]:
    """The distributions requirements.txt names, and everything they require, transitively."""
    pending = [
        _normal(re.split(r"[<>=!~\[; ]", line.strip(), maxsplit=1)[0])
        for line in requirements.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "-"))
    ]
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            needs = requires(name) or []
        except PackageNotFoundError:
            continue
        pending += [_normal(re.split(r"[<>=!~\[; (]", need, maxsplit=1)[0]) for need in needs if "extra ==" not in need]
    return seen


def test_every_runtime_import_comes_from_requirements_txt():
    installed = _installed_by(ROOT / "requirements.txt")
    distributions = packages_distributions()
    missing = {
        module: distributions.get(module, ["(not installed)"])
        for module in sorted(_top_level_imports())
        if not any(_normal(dist) in installed for dist in distributions.get(module, []))
    }
    assert not missing, f"imported at run time but not installed by requirements.txt: {missing}"


def test_the_check_notices_a_module_only_the_tests_install():
    assert "pytest" not in {_normal(name) for name in _installed_by(ROOT / "requirements.txt")}
    assert {"pulumi", "grpcio", "jsonschema"} <= _installed_by(ROOT / "requirements.txt")
