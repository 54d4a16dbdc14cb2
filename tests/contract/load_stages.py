"""Start-up measured stage by stage: a vLLM server whose log is watched while it loads, and the table of the results.

The stages and their log markers are the planner's own (vllm_eks/planning/startup_time.py names them, vllm_eks/planning/catalog.py
VLLM_STAGE_LOG_MARKERS says what vLLM 0.32 logs when each ends), so the planner and the engine cannot drift apart:
a stage the planner names that no run shows fails test_model_load.py.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import s3_emulator as s3e
import vllm_server as vs

# A "few hundred MB" checkpoint of the tiny model's architecture: hidden 1024, 12 layers, MLP 2816 (about 290 MB bf16),
# saved in 50 MB shards as published multi-GB checkpoints are split (transformers' save_pretrained `max_shard_size`).
# Sharded because moto 5.2.5 answers every ranged GET by reading the WHOLE object and slicing it
# (moto/s3/responses.py get_object returns `key.value`, _handle_range_header slices it; FakeKey.value reads the
# entire buffer under the key's lock, moto/s3/models.py): the streamer's ~300 ranged GETs of one 290 MB object
# made moto copy ~90 GB and stall past the streamer's 1 s no-progress limit (README.md; on a loaded machine the tests
# also lengthen that limit, s3_emulator.STREAMER_TEST_SETTINGS).
SYNTHETIC_SHAPE = (1024, 12, 2816, 50)
# Where the weights start (vllm/v1/worker/cpu_model_runner.py load_model); the stream ends at the planner's marker.
LOAD_START = ("load start", r"Starting to load model")
VLLM_WEIGHTS_TOOK = re.compile(r"Loading weights took ([\d.]+) seconds")  # the default loader only
# Harness-measured stages (not in vLLM's log): the local process has no image to pull; s3-sync's copy is timed around
# the init container's command.
PROCESS_START = "image pull"
WEIGHT_COPY = "weight copy"
STREAMED, LOCAL = "S3 (runai_streamer)", "local disk (s3-sync copy)"  # the two load paths, as the table names them
RUNS: list["StageTimes"] = []  # every measured start of the session, in order: the table and the planner check


@dataclass
class StageTimes:
    """Seconds from process start to the first log line of each stage, plus what the loaders said about themselves."""

    run: str
    load: str
    weight_bytes: int
    marks: dict[str, float] = field(default_factory=dict)
    vllm_weights_seconds: float | None = None
    weight_copy_seconds: float | None = None
    model_info_cached: bool = False  # vs.VllmServer.model_info_seed: no model-class inspection subprocess
    log: str = ""

    def measured_stages(self) -> set[str]:
        stages = (set(self.marks) - {LOAD_START[0]}) | {PROCESS_START}  # process start is where the pull would end
        if self.weight_copy_seconds is not None:
            stages.add(WEIGHT_COPY)
        return stages

    def row(self) -> list[str]:
        def at(stage: str) -> str:
            return f"{self.marks[stage]:.1f}" if stage in self.marks else "-"

        weights = self.weights_seconds
        rate = f"{self.weight_bytes / weights / 1e6:.0f}" if weights else "-"
        copy = f"{self.weight_copy_seconds:.1f}" if self.weight_copy_seconds is not None else "-"
        return [self.run, self.load, f"{self.weight_bytes / 1e6:.1f}", copy, "0.0",
                "yes" if self.model_info_cached else "no", at("compile/graph capture"),
                at(LOAD_START[0]), at("weight stream"), f"{weights:.2f}" if weights else "-", rate,
                f"{self.vllm_weights_seconds:.2f}" if self.vllm_weights_seconds else "-", at("engine init"), at("ready")]

    @property
    def weights_seconds(self) -> float | None:
        """Load start to weights loaded, as the log's lines arrived (polled every 0.25 s)."""
        if "weight stream" not in self.marks or LOAD_START[0] not in self.marks:
            return None
        return self.marks["weight stream"] - self.marks[LOAD_START[0]]


TABLE_HEADERS = ["run", "weights from", "MB", "s3 sync s", "process start", "model-class cache", "compile skipped s",
                 "load start s", "weights loaded s", "weights s", "MB/s", "vLLM says s", "KV cache allocated s", "ready s"]  # fmt: skip


def format_table(rows: list[StageTimes]) -> str:
    cells = [TABLE_HEADERS] + [row.row() for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(TABLE_HEADERS))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in cells)


class StagedServer(vs.VllmServer):
    """A vLLM server whose environment holds no credential of this machine and whose log is watched for stages."""

    stage_times: StageTimes | None = None

    def environment(self) -> dict[str, str]:
        env = super().environment()
        return {k: v for k, v in env.items() if not k.startswith("AWS_") or k in self.extra_env}

    def wait_stages(self, budget_seconds: float, markers: dict[str, str], times: StageTimes) -> StageTimes:
        """Poll the log and /health; record when each marker first appears. Raises with the log tail on death."""
        deadline = self.started_at + budget_seconds
        offset, pending = 0, ""
        while time.monotonic() < deadline:
            with self.log_file.open(errors="replace") as handle:
                handle.seek(offset)
                chunk = handle.read()
                offset = handle.tell()
            now = time.monotonic() - self.started_at
            pending += chunk
            *lines, pending = pending.split("\n")
            for line in lines:
                for stage, pattern in (*markers.items(), LOAD_START):
                    if stage not in times.marks and re.search(pattern, line):
                        times.marks[stage] = now
                took = VLLM_WEIGHTS_TOOK.search(line)
                if took:
                    times.vllm_weights_seconds = float(took.group(1))
            if not self.alive():
                times.log = self.log_file.read_text(errors="replace")
                raise RuntimeError(f"vLLM exited with {self.process.returncode} before /health:\n{self.log_tail()}")
            try:
                status, _, _ = vs.request(self.base_url, "GET", "/health", timeout=2)
                if status == 200:
                    times.marks.setdefault("ready", time.monotonic() - self.started_at)
                    times.model_info_cached = self.model_info_seeded
                    self.remember_model_info()
                    times.log = self.log_file.read_text(errors="replace")
                    return times
            except OSError:
                pass
            time.sleep(0.25)
        raise TimeoutError(f"/health not 200 within {budget_seconds:.0f}s:\n{self.log_tail()}")

    def wait_exit_logged(self, timeout: float) -> str:
        """For a start that must fail: wait for the process to end and return the whole log."""
        self.process.wait(timeout=timeout)
        return self.log_file.read_text(errors="replace")

    def stop_in_background(self) -> threading.Thread:
        """The usual bounded SIGTERM -> SIGKILL of the group, while the next test goes on: vLLM takes 6-10 s to exit
        after SIGTERM on this CPU, time the measured runs need not wait for. Join the thread before the session ends."""
        thread = threading.Thread(target=self.kill, name=f"stop vLLM {self.process.pid}", daemon=True)
        thread.start()
        STOPPING.append(thread)
        return thread


STOPPING: list[threading.Thread] = []


def join_stopping() -> None:
    """Wait for every server stopped in the background (each stop is bounded by VllmServer.kill)."""
    while STOPPING:
        STOPPING.pop().join()


def token_file(root: Path, identity: s3e.RenderedIdentity, **claims) -> Path:
    """The projected service-account token the pod identity webhook mounts, under `root`."""
    path = root / s3e.TOKEN_PATH.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(s3e.web_identity_token(identity, **claims))
    return path


def start_pod(python: Path, container: vs.VllmContainer, moto: s3e.MotoServer, identity: s3e.RenderedIdentity,
              root: Path, api_key: str, model: str | None = None, host: str = "127.0.0.1",
              port: int | None = None) -> StagedServer:
    """A vLLM server started like the pod: rendered entrypoint, args (load flags kept), env, and the IRSA variables;
    on `host`:`port` (a loopback "pod IP" and the rendered port, or by default a free port on 127.0.0.1)."""
    port = port or vs.free_port()
    args, _ = load_argv(container, host, port, model)
    command = vs.remap_entrypoint(container, root / "secrets", api_key)
    pod_env, _ = container.local_environment(root / "volumes")
    pod_env.update(moto.pod_environment(identity, token_file(root, identity)))
    server = StagedServer(python, command, args, port, root, extra_env=pod_env, host=host)
    server.start()
    return server


def serve_and_stage(server: StagedServer, container: vs.VllmContainer, run: str, load: str, weight_bytes: int,
                    api_key: str, keep: bool = False) -> StageTimes:
    """Watch a started pod to Ready stage by stage, ask it one chat completion, record the run in RUNS; then stop it
    in the background unless `keep` (a server other tests go on using)."""
    vs.import_project()
    from vllm_eks.planning.catalog import VLLM_STAGE_LOG_MARKERS

    times = StageTimes(run=run, load=load, weight_bytes=weight_bytes)
    try:
        server.wait_stages(container.startup_budget_seconds, VLLM_STAGE_LOG_MARKERS, times)
        status, _, body = vs.request(server.base_url, "POST", "/v1/chat/completions", headers=vs.bearer(api_key),
                                     body=vs.chat_body(container.served_model_name, max_tokens=4), timeout=120)
        assert status == 200, body
    finally:
        if not keep or not server.alive():
            server.stop_in_background()
    vs.log(f"{run} / {load}: " + ", ".join(f"{stage} {seconds:.1f}s" for stage, seconds in times.marks.items()))
    server.stage_times = times
    RUNS.append(times)
    return times


def load_argv(container: vs.VllmContainer, host: str, port: int, model: str | None = None) -> tuple[list[str], list[str]]:
    """The rendered arguments with the load flags kept; only device flags adapted to one CPU, and host/port local."""
    args = container.args if model is None else vs.replace_flag(container.args, "--model", model, add=False)
    args, dropped = vs.drop_flags(args, vs.CPU_DROPPED_FLAGS)
    args = vs.replace_flag(args, "--host", host)
    args = vs.replace_flag(args, "--port", str(port))
    if "--enforce-eager" not in args:
        args.append("--enforce-eager")  # no torch.compile: the compile stage shows up as skipped, in seconds
    return args, dropped


def build_scaled_model(python: Path, log_file: Path, shape: tuple[int, ...] = SYNTHETIC_SHAPE) -> dict[str, Any]:
    """The tiny model's architecture scaled to `shape` (hidden, layers, MLP, max shard MB), cached by content like the
    tiny model."""
    return vs.build_tiny_model(python, log_file, shape)
