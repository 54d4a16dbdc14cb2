"""Start a CrossGuard policy pack the way the Pulumi CLI (3.x) does, and stop it again.

The CLI has the Python language host run the pack (pulumi/pulumi sdk/python/cmd/pulumi-language-python/main.go
RunPlugin): the pack's own virtualenv (PulumiPolicy.yaml `runtime.options.virtualenv`, here `policies/venv` holding
`policies/requirements.txt`) runs `python -u -m pulumi.policy <engine-address> <pack dir>` with the pack directory as
working directory and PULUMI_ORGANIZATION / PULUMI_PROJECT / PULUMI_STACK / PULUMI_DRY_RUN / PULUMI_CONFIG (the
stack's config as a JSON map of "ns:key" to string) in the environment; the stack's tags arrive in ConfigureStack.
`PolicyPack(...)` starts a gRPC server on 127.0.0.1:0 and prints the port on stdout. `PolicyPackProcess` does the
same, creating the pack's virtualenv on first use (and refreshing it when requirements.txt changes), and opens a
channel to that port; `preflight.engine.PolicyPackSession` speaks the Analyzer protocol over it.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from concurrent import futures
from pathlib import Path
from typing import Any, Optional

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POLICY_PACK = PROJECT_ROOT / "policies"
DEFAULT_PROJECT = "vllm-eks"
GRPC_OPTIONS = [("grpc.max_receive_message_length", 1024 * 1024 * 400),
                ("grpc.max_send_message_length", 1024 * 1024 * 400)]


class PolicyPackError(RuntimeError):
    """The policy pack failed to start or answered an RPC with an error."""


def pack_virtualenv(pack_dir: Path) -> Path:
    """The pack's virtualenv as PulumiPolicy.yaml names it (relative to the pack directory)."""
    import yaml

    document = yaml.safe_load((pack_dir / "PulumiPolicy.yaml").read_text()) or {}
    runtime = document.get("runtime") or {}
    options = runtime.get("options") if isinstance(runtime, dict) else None
    name = (options or {}).get("virtualenv") or "venv"
    return (pack_dir / name).resolve()


def ensure_pack_python(pack_dir: Path) -> Path:
    """The python of the pack's virtualenv, created with the pack's requirements.txt on first use and reinstalled
    when that file changes (a stamp inside the venv holds its hash)."""
    venv = pack_virtualenv(pack_dir)
    python = venv / "bin" / "python"
    requirements = pack_dir / "requirements.txt"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest() if requirements.exists() else ""
    stamp = venv / ".preflight-requirements.sha256"
    if python.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return python
    base = getattr(sys, "_base_executable", None) or sys.executable
    steps = [] if python.exists() else [[base, "-m", "venv", str(venv)]]
    if requirements.exists():
        steps.append([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                      "-r", str(requirements)])
    for step in steps:
        completed = subprocess.run(step, capture_output=True, text=True)
        if completed.returncode != 0:
            raise PolicyPackError(f"could not prepare the policy pack's virtualenv {venv} ({' '.join(step)}):\n"
                                  + (completed.stderr or completed.stdout)[-4000:])
    stamp.write_text(digest + "\n")
    return python


def stack_environment(project_dir: Path, stack: str, stack_config: dict) -> tuple[dict[str, str], dict[str, str]]:
    """(config, tags) the CLI gives a policy pack for a stack: the project's and the stack's config as strings
    (pkg/engine/update.go, target.Config decrypted), and the stack tags pulumi:project / pulumi:runtime /
    pulumi:description from Pulumi.yaml plus the `pulumi:tags` config (pkg/backend/stack.go
    GetEnvironmentTagsForCurrentStack; its git metadata tags are left out)."""
    import yaml

    project = yaml.safe_load((project_dir / "Pulumi.yaml").read_text()) or {}
    name = str(project.get("name", DEFAULT_PROJECT))
    config: dict[str, Any] = {}
    for key, value in (project.get("config") or {}).items():
        value = value.get("value", value.get("default")) if isinstance(value, dict) else value
        if value is not None:
            config[key if ":" in key else f"{name}:{key}"] = value
    config.update(stack_config)
    as_strings = {key: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()}
    runtime = project.get("runtime")
    tags = {"pulumi:project": name, "pulumi:runtime": runtime.get("name") if isinstance(runtime, dict) else runtime}
    if project.get("description"):
        tags["pulumi:description"] = str(project["description"])
    configured_tags = config.get("pulumi:tags")
    for key, value in (configured_tags if isinstance(configured_tags, dict) else {}).items():
        tags[key] = str(value)
    return as_strings, {key: str(value) for key, value in tags.items() if value}


class _EngineServicer(engine_pb2_grpc.EngineServicer):
    """The in-process Engine service the pack may log to."""

    def __init__(self) -> None:
        self.logs: list[tuple[int, str, str]] = []

    def Log(self, request, context):  # noqa: N802 - gRPC method name
        self.logs.append((request.severity, request.urn, request.message))
        return empty_pb2.Empty()

    def GetRootResource(self, request, context):  # noqa: N802
        return engine_pb2.GetRootResourceResponse(urn="")

    def SetRootResource(self, request, context):  # noqa: N802
        return engine_pb2.SetRootResourceResponse()


class PolicyPackProcess:
    """The policy pack subprocess, the Engine service it logs to, and a gRPC channel to it. A context manager."""

    def __init__(self, pack_dir: Path | str = DEFAULT_POLICY_PACK, *, stack: str = "dev",
                 project: str = DEFAULT_PROJECT, organization: str = "organization",
                 python: Optional[str] = None, startup_timeout: float = 60.0, extra_env: Optional[dict] = None,
                 dry_run: bool = True, config: Optional[dict[str, str]] = None, tags: Optional[dict[str, str]] = None):
        self.pack_dir = Path(pack_dir).resolve()
        self.stack, self.project, self.organization = stack, project, organization
        self.python, self.startup_timeout = python, startup_timeout  # None: the pack's own virtualenv
        self.dry_run, self.config, self.tags = dry_run, dict(config or {}), dict(tags or {})
        self.extra_env = dict(extra_env or {})
        self.process: Optional[subprocess.Popen] = None
        self.channel: Optional[grpc.Channel] = None
        self.engine_server: Optional[grpc.Server] = None
        self.engine = _EngineServicer()
        self.engine_address = ""
        self.stderr_lines: list[str] = []

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def command(self) -> list[str]:
        """What the language host runs: <venv>/bin/python -u -m pulumi.policy <engine> <pack dir>."""
        return [str(self.python), "-u", "-m", "pulumi.policy", self.engine_address, str(self.pack_dir)]

    def start(self) -> None:
        if not (self.pack_dir / "PulumiPolicy.yaml").exists():
            raise PolicyPackError(f"{self.pack_dir} is not a policy pack (no PulumiPolicy.yaml)")
        if self.python is None:
            self.python = str(ensure_pack_python(self.pack_dir))
        self.engine_server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), options=GRPC_OPTIONS)
        engine_pb2_grpc.add_EngineServicer_to_server(self.engine, self.engine_server)
        port = self.engine_server.add_insecure_port("127.0.0.1:0")
        self.engine_server.start()
        self.engine_address = f"127.0.0.1:{port}"

        env = {key: value for key, value in os.environ.items() if key != "PULUMI_CONFIG"}
        env.update({"PULUMI_PROJECT": self.project, "PULUMI_STACK": self.stack,
                    "PULUMI_DRY_RUN": "true" if self.dry_run else "false",
                    "PULUMI_ORGANIZATION": self.organization, "PYTHONUNBUFFERED": "1"})
        if self.config:
            env["PULUMI_CONFIG"] = json.dumps(self.config)
        env.update(self.extra_env)
        try:
            self.process = subprocess.Popen(
                self.command(), cwd=self.pack_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                start_new_session=True)  # own process group: close() kills the pack and anything it spawned
        except OSError as error:
            self.close()
            raise PolicyPackError(f"could not start the policy pack: {error}") from error

        port_line: queue.Queue[Optional[str]] = queue.Queue()
        threading.Thread(target=self._read_stdout, args=(port_line,), daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        try:
            line = port_line.get(timeout=self.startup_timeout)
        except queue.Empty:
            line = None
        if not line or not line.strip().isdigit():
            self.close()
            raise PolicyPackError("the policy pack did not print its port (first stdout line); stderr:\n"
                                  + "\n".join(self.stderr_lines[-40:]))
        self.channel = grpc.insecure_channel(f"127.0.0.1:{line.strip()}", options=GRPC_OPTIONS)
        try:
            grpc.channel_ready_future(self.channel).result(timeout=self.startup_timeout)
        except grpc.FutureTimeoutError as error:
            self.close()
            raise PolicyPackError("could not connect to the policy pack") from error

    def _read_stdout(self, port_line: queue.Queue[Optional[str]]) -> None:
        assert self.process and self.process.stdout
        first = True
        for raw in self.process.stdout:
            text = raw.decode(errors="replace").rstrip("\n")
            if first:
                port_line.put(text)
                first = False
        if first:
            port_line.put(None)

    def _read_stderr(self) -> None:
        assert self.process and self.process.stderr
        for raw in self.process.stderr:
            self.stderr_lines.append(raw.decode(errors="replace").rstrip("\n"))

    def close(self) -> None:
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        if self.process is not None:
            if self.process.poll() is None:
                try:
                    os.killpg(self.process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    self.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    try:
                        os.killpg(self.process.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    self.process.wait(timeout=5)
            for stream in (self.process.stdout, self.process.stderr):
                if stream is not None:
                    stream.close()
            self.process = None
        if self.engine_server is not None:
            self.engine_server.stop(0)
            self.engine_server = None
