"""The model-load path for real: weights from an S3 API on loopback, with the rendered pod's arguments, env and IAM role.

vLLM starts with the rendered container's arguments — `--model s3://<bucket>/<prefix>`, `--load-format runai_streamer`
and `--model-loader-extra-config` kept; only tensor parallelism and host/port adapted to one CPU — and the rendered
env plus what the EKS pod identity webhook injects for IRSA. moto (s3_emulator.py, moto_launcher.py) plays S3, STS and
IAM with enforcement on, so the role's rendered read policy is what lets the streamer read; a narrowed policy must
fail the load with AccessDenied. The s3-sync fallback runs its rendered init command against the same server.
Every run is watched stage by stage (load_stages.py) and the stages are checked against the planner's. The tiny model's
streamed run is the live server of test_vllm_contract.py (conftest.vllm_server), started once for both modules.
What moto does and does not emulate is listed in s3_emulator.py's docstring.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest

import load_stages as ls
import s3_emulator as s3e
import vllm_server as vs

pytestmark = pytest.mark.vllm

OTHER_PREFIX = "models/another-model"  # a prefix the role must not reach
SYNC_TIMEOUT_SECONDS = 300


@pytest.fixture(scope="module", autouse=True)
def _servers_stopped():
    """Servers of this module are stopped in the background (load_stages.StagedServer.stop_in_background); all are
    gone before the module ends, pass or fail."""
    yield
    ls.join_stopping()


def _ranged_gets(moto, identity, file_name: str) -> list[str]:
    """The emulator's log lines of ranged GETs (206) of one checkpoint file under the prefix."""
    return [line for line in moto.log_file.read_text().splitlines()
            if f"{identity.prefix}/{file_name} HTTP/1.1\" 206" in line]  # fmt: skip


# --- identity, without vLLM ------------------------------------------------------------------------------------------


def test_rendered_read_policy_is_the_pure_builders_document(identity):
    """The RolePolicy the stack renders is exactly vllm_eks.iam.iam_documents.model_read_policy for the model's prefix."""
    vs.import_project()
    from vllm_eks.iam.iam_documents import model_read_policy

    built = model_read_policy(f"arn:aws:s3:::{identity.bucket}", identity.prefix, identity.kms_key_arn, identity.region)
    assert json.loads(identity.read_policy) == built
    trust = json.loads(identity.trust_policy)["Statement"][0]["Condition"]["StringEquals"]
    assert trust[f"{identity.issuer}:sub"] == f"system:serviceaccount:{identity.namespace}:{identity.service_account}"


def test_web_identity_sign_in_follows_the_trust_policy(moto, identity, work_dir):
    """IRSA's exchange (AWS STS AssumeRoleWithWebIdentity, unsigned; botocore sends it without auth): the rendered service account's token gets the
    role, and the role reads inside its prefix only; another service account's token is refused."""
    import boto3
    from botocore.exceptions import ClientError

    sts = boto3.client("sts", endpoint_url=moto.endpoint, region_name=identity.region,
                       aws_access_key_id="unused", aws_secret_access_key="unused")  # fmt: skip
    token = s3e.web_identity_token(identity)
    credentials = sts.assume_role_with_web_identity(RoleArn=identity.role_arn, RoleSessionName="contract",
                                                    WebIdentityToken=token)["Credentials"]  # fmt: skip
    s3 = moto.client("s3", {"aws_access_key_id": credentials["AccessKeyId"],
                            "aws_secret_access_key": credentials["SecretAccessKey"],
                            "aws_session_token": credentials["SessionToken"]}, identity.region)  # fmt: skip
    assert s3.get_object(Bucket=identity.bucket, Key=f"{identity.prefix}/config.json")["ContentLength"] > 0
    moto.client("s3", region=identity.region).put_object(Bucket=identity.bucket, Key=f"{OTHER_PREFIX}/config.json", Body=b"{}")
    with pytest.raises(ClientError) as outside:
        s3.get_object(Bucket=identity.bucket, Key=f"{OTHER_PREFIX}/config.json")
    assert outside.value.response["Error"]["Code"] == "AccessDenied"
    stranger = s3e.web_identity_token(identity, service_account="default")
    with pytest.raises(ClientError) as refused:
        sts.assume_role_with_web_identity(RoleArn=identity.role_arn, RoleSessionName="stranger", WebIdentityToken=stranger)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"


# --- the streamed load ---------------------------------------------------------------------------------------------------


def test_streams_the_model_from_s3_with_the_rendered_role(vllm_server, server_container, moto, identity, contract_report):
    """The live server (conftest.vllm_server: the pod's rendered args and env, the IRSA variables) became Ready after
    streaming the tiny model from s3://<rendered bucket>/<rendered prefix> as the read role, with no static key."""
    assert vs.flag_value(server_container.args, "--load-format") == "runai_streamer"
    assert vs.flag_value(vllm_server.args, "--model") == f"s3://{identity.bucket}/{identity.prefix}"
    contract_report["s3_streamed_log"] = str(vllm_server.log_file)
    log = vllm_server.stage_times.log
    assert "Loading safetensors using Runai Model Streamer: 100%" in log, "the Run:ai streamer did not load"
    # The bytes came from the emulator: ranged GETs of the checkpoint, answered 206 under the role's credentials.
    assert _ranged_gets(moto, identity, "model.safetensors"), "no ranged GET of the checkpoint reached the emulator"
    assert "AWS_ACCESS_KEY_ID" not in vllm_server.environment()
    assert vllm_server.environment()["AWS_ROLE_ARN"] == identity.role_arn
    assert "AccessDenied" not in log


def test_a_policy_narrowed_to_another_prefix_fails_the_load(vllm_python, load_containers, moto, identity, api_key,
                                                            work_dir, contract_report):
    """The same role with its read policy built for another prefix (iam_documents.model_read_policy): vLLM exits, and
    its log names the refused S3 call. vLLM first fetches config and tokenizer with boto3 (HeadObject, then GetObject);
    S3 answers a denied HEAD with 403 and no body (HEAD responses carry none: S3 API Reference, HeadObject), so boto3
    reports "(403) ... HeadObject operation: Forbidden" rather than the AccessDenied code a GET carries."""
    vs.import_project()
    from vllm_eks.iam.iam_documents import model_read_policy

    container = load_containers["runai_streamer"]
    narrowed = json.dumps(model_read_policy(f"arn:aws:s3:::{identity.bucket}", OTHER_PREFIX, identity.kms_key_arn,
                                            identity.region))  # fmt: skip
    moto.put_read_policy(identity, moto.key_arn, narrowed)
    try:
        server = ls.start_pod(vllm_python, container, moto, identity, work_dir / "s3-denied", api_key)
        try:
            log = server.wait_exit_logged(container.startup_budget_seconds)
        finally:
            server.kill()
    finally:
        moto.put_read_policy(identity, moto.key_arn, identity.read_policy)
    refused = [line for line in log.splitlines() if "ClientError" in line]
    contract_report["narrowed_policy_error"] = refused[-1:]
    assert server.process.returncode != 0, "vLLM started although its role may not read the model's prefix"
    assert any("(403)" in line and "Forbidden" in line for line in refused), f"no refused S3 call in the log:\n{log[-3000:]}"
    denied_at_s3 = [line for line in moto.log_file.read_text().splitlines()
                    if f"/{identity.bucket}/{identity.prefix}/" in line and '" 403 ' in line]  # fmt: skip
    assert denied_at_s3, "the emulator logged no 403 for the model's prefix"


# --- the s3-sync fallback -------------------------------------------------------------------------------------------------


def _run_fetch(snapshot: dict, container: vs.VllmContainer, moto, identity, root: Path) -> float:
    """The rendered init container's command, with its env, the IRSA variables and its mounts under `root`."""
    deployment = next(r for r in snapshot["resources"] if r["type"] == vs.VLLM_DEPLOYMENT_TYPE
                      and r["props"]["metadata"]["name"] == container.deployment)  # fmt: skip
    fetch = next(c for c in deployment["props"]["spec"]["template"]["spec"]["initContainers"] if c["name"] == "fetch-weights")
    script = fetch["command"][2]
    env = {item["name"]: str(item["value"]) for item in fetch["env"]}
    mounts = {m["mountPath"]: root / "volumes" / m["mountPath"].lstrip("/") for m in fetch["volumeMounts"]}
    for local in mounts.values():
        local.mkdir(parents=True, exist_ok=True)
    # One pass (a local twin may itself start with /tmp), and only paths that start a word (not inside s3:// URLs).
    pattern = "|".join(re.escape(mount) for mount in sorted(mounts, key=len, reverse=True))
    script = re.sub(rf"(?<=\s)({pattern})(?=/|\s|$)", lambda match: str(mounts[match.group(1)]), script)
    env = {k: str(mounts.get(v, v)) for k, v in env.items()}
    env.update(moto.pod_environment(identity, ls.token_file(root, identity)))
    env["PATH"] = f"{vs.venv_dir() / 'bin'}:/usr/bin:/bin"  # `aws` is the venv's awscli
    started = time.monotonic()
    result = subprocess.run(["/bin/sh", "-c", script], env=env, capture_output=True, text=True, timeout=SYNC_TIMEOUT_SECONDS)
    assert result.returncode == 0, f"{shlex.join(fetch['command'])} failed:\n{result.stdout}\n{result.stderr}"
    return time.monotonic() - started


def _sync_and_serve(vllm_python, load_snapshots, load_containers, moto, identity, model: dict, run: str, root: Path,
                    api_key: str) -> ls.StageTimes:
    """The init container's rendered `aws s3 sync` (same role, same server), then vLLM with the rendered
    `--model /models/<name>` on the copy; the copy must hold every checkpoint file byte for byte in size."""
    container = load_containers["s3-sync"]
    copy_seconds = _run_fetch(load_snapshots["s3-sync"], container, moto, identity, root)
    local_model = container.local_path(vs.flag_value(container.args, "--model"), root / "volumes")
    assert local_model, f"{container.label}: --model is on no volume mount"
    source = {p.name: p.stat().st_size for p in Path(model["path"]).iterdir() if p.is_file() and p.name != "tiny-model.json"}
    assert {p.name: p.stat().st_size for p in Path(local_model).iterdir()} == source
    server = ls.start_pod(vllm_python, container, moto, identity, root, api_key, model=local_model)
    times = ls.serve_and_stage(server, container, run, ls.LOCAL, model["weight_bytes"], api_key)
    times.weight_copy_seconds = copy_seconds
    return times


def test_s3_sync_of_the_tiny_model_serves_from_the_copy(vllm_python, load_snapshots, load_containers, moto, identity,
                                                      tiny_model, api_key, work_dir):
    """loadFormat s3-sync with the tiny model, still under the rendered prefix: the local-disk row beside its
    streamed one (the live server's start)."""
    root = work_dir / "sync-tiny"  # short: vLLM binds zmq IPC sockets under TMPDIR (107-character limit)
    _sync_and_serve(vllm_python, load_snapshots, load_containers, moto, identity, tiny_model, "tiny", root, api_key)


# --- a few hundred MB, streamed and synced ---------------------------------------------------------------------------


def test_synthetic_checkpoint_streamed_from_s3(second_model_pod, moto, synthetic_model):
    """The second model's rendered pod (conftest.second_model_pod) streamed the few-hundred-MB checkpoint from its own
    prefix as its own role (every shard, ranged GETs) and served; it stays up as test_routing.py's second pod."""
    times = second_model_pod.stage_times
    assert "Loading safetensors using Runai Model Streamer: 100%" in times.log, "the Run:ai streamer did not load"
    assert vs.flag_value(second_model_pod.args, "--model") == f"s3://{second_model_pod.identity.bucket}/{second_model_pod.identity.prefix}"
    assert all(_ranged_gets(moto, second_model_pod.identity, name) for name in synthetic_model["weight_files"]), \
        "a shard was not streamed"
    assert "AccessDenied" not in times.log


def test_s3_sync_copies_with_the_rendered_command_and_serves_from_the_copy(vllm_python, load_snapshots, load_containers,
                                                                           moto, identity, synthetic_model, api_key,
                                                                           work_dir):
    """loadFormat s3-sync with the same checkpoint: the init container's rendered `aws s3 sync` (same role, same
    server) copies it, then vLLM with the rendered `--model /models/<name>` serves from the copy."""
    root = work_dir / "sync-big"  # short: vLLM binds zmq IPC sockets under TMPDIR (107-character limit)
    moto.upload(identity.bucket, identity.prefix, Path(synthetic_model["path"]), identity.region)  # the tiny model's place
    _sync_and_serve(vllm_python, load_snapshots, load_containers, moto, identity, synthetic_model, "synthetic", root,
                    api_key)  # fmt: skip


# --- the table, and the planner's stages --------------------------------------------------------------------------------


def test_every_stage_the_planner_names_appears_in_the_measured_runs(server_container, contract_report):
    """vllm_eks/planning/startup_time.py's stages for each load format are all seen in the runs of that format."""
    vs.import_project()
    from vllm_eks.planning.sizing import plan_models
    from vllm_eks.planning.startup_time import estimate_startup
    from preflight.render import read_stack_config
    from stack_config import PROJECT, SECTIONS, load_stack_config

    assert ls.RUNS, "no run was measured"
    table = ls.format_table(ls.RUNS)
    vs.log("model load, stage by stage (seconds since process start; local disk = the s3-sync copy):\n" + table)
    contract_report["load_stages"] = [dict(zip(ls.TABLE_HEADERS, times.row())) for times in ls.RUNS]
    contract_report["load_stage_table"] = table
    raw = read_stack_config(server_container.stack)
    config = load_stack_config({section: raw.get(f"{PROJECT}:{section}") for section in SECTIONS})
    model = next(m for m in config.models if m.served_name == server_container.served_model_name)
    plan = plan_models(config.models)[model.name]
    for load, label in (("runai_streamer", ls.STREAMED), ("s3-sync", ls.LOCAL)):
        planned = [stage.name for stage in estimate_startup(plan.weight_bytes, model.startup_budget_seconds,
                                                            plan.instance_type, load).stages]  # fmt: skip
        runs = [times for times in ls.RUNS if times.load == label]
        assert runs, f"no {label} run was measured"
        for times in runs:
            missing = [stage for stage in planned if stage not in times.measured_stages()]
            assert not missing, f"{times.run} / {label}: the planner names {missing}, the run shows {sorted(times.measured_stages())}"
            order = [times.marks[stage] for stage in ("weight stream", "engine init", "ready")]
            assert order == sorted(order), f"{times.run} / {label}: stages out of order {times.marks}"
