"""Contract: the request path behind API Gateway, for real — the rendered routers in front of two vLLM servers.

What runs for real: two vLLM CPU servers, the rendered containers of the two models streaming from S3 as their own
roles (the live server of test_vllm_contract.py with the tiny model; the synthetic checkpoint's streamed run of
test_model_load.py), one vllm-router per model
started with the RENDERED router arguments (`--service-discovery` included), and the routers' Kubernetes service
discovery against a test stand-in of the EKS API server that lists each model's pods.

Two stand-ins, labelled as such, replace AWS services that cannot run here:
- `KubernetesApiStandIn` answers the namespaced pod list/watch the router's discovery makes (what the Role allows);
- `edge_stand_in.api_gateway_and_alb` (tests/edge_stand_in.py, unit-tested without vLLM in tests/test_edge_path.py)
  applies the RENDERED integration request parameters (API Gateway: body `model` -> x-vllm-model, authorizer context
  -> Authorization, request id -> X-Request-Id), puts the RENDERED stage in front of the path as API Gateway does
  for private integrations (AWS, "Private integrations for REST APIs", considerations), then applies the RENDERED
  ALB listener rules and their url-rewrite transform (header + path -> target group -> that model's router, at the
  rewritten path; otherwise the fixed 404). It forwards nothing itself: the test then calls the chosen router
  directly at the path the ALB would send. There is no proxy in the product.
The stack rendered is dev with a second model added (two models, one router each), through tests/edge_stacks.py.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import edge_stand_in
import vllm_server as vs

pytestmark = pytest.mark.vllm

POD_ADDRESSES = vs.POD_ADDRESSES  # one "pod IP" per model; vLLM listens on the rendered port there
ROUTER_READY_SECONDS = 30
DISCOVERY_SECONDS = 30


# --- the rendered stack ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def edge_plan(two_model_snapshot) -> dict[str, Any]:
    """What the rendered stack says: stage, integration parameters, listener rules, each model's router and pods."""
    return edge_stand_in.edge_plan(two_model_snapshot)


# --- stand-ins -----------------------------------------------------------------------------------------------------


class KubernetesApiStandIn:
    """STAND-IN for the EKS API server: namespaced pod list + watch, the only calls the router's discovery makes."""

    def __init__(self) -> None:
        self.pods: dict[str, list[dict]] = {}
        self.watchers: dict[str, list[queue.Queue]] = {}
        self.requests: list[str] = []
        self.version = 1
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # the watch is a chunked stream, which HTTP/1.0 cannot carry

            def log_message(self, *args):  # noqa: D401 - silence the default stderr logging
                pass

            def do_GET(self):  # noqa: N802
                stand_in.requests.append(self.path)
                parts = self.path.split("?")[0].strip("/").split("/")
                if len(parts) != 5 or parts[:3] != ["api", "v1", "namespaces"] or parts[4] != "pods":
                    self.send_error(403, "the router's Role allows pods in its namespace only")
                    return
                namespace = parts[3]
                if "watch=true" in self.path:
                    self._watch(namespace)
                    return
                body = json.dumps({"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": str(stand_in.version)},
                                   "items": stand_in.pods.get(namespace, [])}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _watch(self, namespace: str) -> None:
                events: queue.Queue = queue.Queue()
                stand_in.watchers.setdefault(namespace, []).append(events)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    while True:
                        event = events.get()
                        if event is None:
                            break
                        data = (json.dumps(event) + "\n").encode()
                        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                except OSError:
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def set_pod(self, namespace: str, name: str, labels: dict[str, str], ip: str, ready: bool) -> None:
        self.version += 1
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels, "uid": str(uuid.uuid5(uuid.NAMESPACE_DNS, name)),
                         "resourceVersion": str(self.version)},
            "spec": {"containers": [{"name": "vllm", "image": "vllm"}]},
            "status": {
                "phase": "Running",
                "podIP": ip,
                "podIPs": [{"ip": ip}],
                "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            },
        }
        existing = [p for p in self.pods.get(namespace, []) if p["metadata"]["name"] != name]
        kind = "MODIFIED" if len(existing) != len(self.pods.get(namespace, [])) else "ADDED"
        self.pods[namespace] = existing + [pod]
        for events in self.watchers.get(namespace, []):
            events.put({"type": kind, "object": pod})

    def kubeconfig(self, directory: Path) -> Path:
        path = directory / "kubeconfig"
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "stand-in",
            "clusters": [{"name": "stand-in", "cluster": {"server": self.url}}],
            "contexts": [{"name": "stand-in", "context": {"cluster": "stand-in", "user": "router"}}],
            "users": [{"name": "router", "user": {"token": "service-account-token"}}],
        }))
        return path

    def close(self) -> None:
        for watchers in self.watchers.values():
            for events in watchers:
                events.put(None)
        self.server.shutdown()
        self.server.server_close()


# --- processes ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kube_api():
    api = KubernetesApiStandIn()
    yield api
    api.close()


@pytest.fixture(scope="module")
def model_servers(edge_plan, vllm_server, second_model_pod):
    """One vLLM server per rendered model, on the address and port its router discovers (the rendered port), both
    started with their rendered containers and streamed from S3 as their own roles: the first model's pod is the live
    server of test_vllm_contract.py (conftest.vllm_server, the tiny model), the second's the synthetic checkpoint's
    streamed run (conftest.second_model_pod). One internal key for both, as the edge injects it
    (docs/request-path.md): each reads it from its rendered secret file."""
    (model_a, router_a), (model_b, router_b) = sorted(edge_plan["routers"].items())
    servers = {model_a: vllm_server, model_b: second_model_pod}
    for (model, router), address in zip(((model_a, router_a), (model_b, router_b)), POD_ADDRESSES):
        server = servers[model]
        port = int(router["args"][router["args"].index("--service-discovery-port") + 1])
        assert vs.flag_value(server.args, "--served-model-name") == edge_plan["served"][model], f"{model}: not its pod"
        assert (server.host, server.port) == (address, port), f"{model}: its pod is not where its router looks"
        assert server.alive(), f"{model}: its pod stopped before the routing tests"
    return servers


def _start_router(executable: Path, rendered_args: list[str], kubeconfig: Path, log_file: Path, ready_path: str,
                  **flags: str) -> dict:
    """vllm-router with the RENDERED arguments, listening and exporting metrics on free loopback ports (plus any other
    `flags`, `--flag-name` as flag_name), discovering pods through the API stand-in; up once `ready_path` answers 200."""
    args = list(rendered_args)
    port, metrics_port = vs.free_port(), vs.free_port()
    overrides = {"--host": "127.0.0.1", "--port": str(port), "--prometheus-host": "127.0.0.1",
                 "--prometheus-port": str(metrics_port), **{f"--{k.replace('_', '-')}": v for k, v in flags.items()}}
    for flag, value in overrides.items():
        args[args.index(flag) + 1] = value
    handle = log_file.open("w")
    process = subprocess.Popen([str(executable), *args], stdout=handle, stderr=subprocess.STDOUT,
                               env={"PATH": "/usr/bin:/bin", "KUBECONFIG": str(kubeconfig)}, start_new_session=True)
    router = {"process": process, "handle": handle, "args": args, "log": log_file,
              "url": f"http://127.0.0.1:{port}", "metrics": f"http://127.0.0.1:{metrics_port}"}
    deadline = time.monotonic() + ROUTER_READY_SECONDS
    while time.monotonic() < deadline:
        try:
            if vs.request(router["url"], "GET", ready_path, timeout=2)[0] == 200:
                return router
        except OSError:
            time.sleep(0.2)
    _stop_router(router)
    pytest.fail(f"router not up in {ROUTER_READY_SECONDS}s ({ready_path}):\n{log_file.read_text()[-3000:]}")


def _stop_router(router: dict) -> None:
    router["process"].terminate()
    try:
        router["process"].wait(timeout=10)
    except subprocess.TimeoutExpired:
        router["process"].kill()
    router["handle"].close()


@pytest.fixture(scope="module")
def routers(vllm_python, edge_plan, kube_api, work_dir):
    """One router per model, started with the rendered arguments, discovering pods through the API stand-in."""
    executable = vs.router_executable(vllm_python)
    if not executable.exists():
        pytest.fail(f"vllm-router is not installed in the contract venv ({executable}); see requirements-vllm-cpu.txt")
    started = {}
    directory = work_dir / "routers"
    directory.mkdir(parents=True, exist_ok=True)
    kubeconfig = kube_api.kubeconfig(directory)
    try:
        for model, router in sorted(edge_plan["routers"].items()):
            started[model] = _start_router(executable, router["args"], kubeconfig, directory / f"{model}.log", "/health")
        yield started
    finally:
        for router in started.values():
            _stop_router(router)


def _wait_for_workers(router: dict, count: int) -> None:
    deadline = time.monotonic() + DISCOVERY_SECONDS
    while time.monotonic() < deadline:
        _, _, body = vs.request(router["url"], "GET", "/workers", timeout=5)
        if json.loads(body).get("total") == count:
            return
        time.sleep(0.5)
    raise AssertionError(f"router did not discover {count} worker(s):\n{router['log'].read_text()[-3000:]}")


@pytest.fixture(scope="module")
def path(edge_plan, model_servers, routers, kube_api, api_key):
    """Everything up: the API stand-in lists both models' pods as Ready; each router has found its own one."""
    for (model, router), address in zip(sorted(edge_plan["routers"].items()), POD_ADDRESSES):
        labels = {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": model}
        kube_api.set_pod(router["namespace"], f"{model}-0", labels, address, ready=True)
    for model, router in routers.items():
        _wait_for_workers(router, 1)
    return {"plan": edge_plan, "routers": routers, "servers": model_servers, "key": api_key, "kube": kube_api}


def _send(path: dict, url_path: str, body: dict, extra_headers: dict | None = None):
    """The client calls `<stage URL><url_path>`; the router is called at the path the ALB would forward."""
    decision = edge_stand_in.api_gateway_and_alb(path["plan"], url_path, body, path["key"])
    if decision.model is None:
        return decision.fixed_response, decision.headers, None
    headers = {**decision.headers, **(extra_headers or {})}
    router_url = path["routers"][decision.model]["url"]
    return decision.model, headers, vs.request(router_url, "POST", decision.router_path, body=body, headers=headers, timeout=60)


def _chat(served_name: str, **extra) -> dict:
    return {"model": served_name, "messages": [{"role": "user", "content": "hello edge"}], "max_tokens": 8, **extra}


# --- the contract --------------------------------------------------------------------------------------------------


def test_discovery_stays_inside_the_model_namespace(path):
    asked = {request.split("?")[0] for request in path["kube"].requests}
    assert asked == {f"/api/v1/namespaces/{r['namespace']}/pods" for r in path["plan"]["routers"].values()}


def test_requests_route_by_model(path, contract_report):
    for model, served in path["plan"]["served"].items():
        for url_path, body in (("/v1/chat/completions", _chat(served)), ("/v1/completions", {"model": served, "prompt": "hi", "max_tokens": 4})):
            routed_to, _, (status, _, raw) = _send(path, url_path, body)
            assert routed_to == model
            assert status == 200, raw[:500]
            assert json.loads(raw)["model"] == served
    contract_report["routing"] = {"models": path["plan"]["served"], "router_args": path["plan"]["routers"][next(iter(path["plan"]["routers"]))]["args"]}


def test_unknown_model_and_unrouted_paths_get_the_listener_404(path):
    decision, _, _ = _send(path, "/v1/chat/completions", _chat("no-such-model"))
    assert decision["type"] == "fixed-response" and decision["fixedResponse"]["statusCode"] == "404"
    assert json.loads(decision["fixedResponse"]["messageBody"])["error"]["code"] == 404
    served = next(iter(path["plan"]["served"].values()))
    for url_path in ("/metrics", "/health", "/v1/models/../../metrics", "/workers", "/v1/tokenize"):
        decision, _, _ = _send(path, url_path, _chat(served))
        assert not isinstance(decision, str), f"{url_path} would reach a router"


def test_stream_passes_through_intact(path):
    model, served = next(iter(path["plan"]["served"].items()))
    decision = edge_stand_in.api_gateway_and_alb(path["plan"], "/v1/chat/completions", _chat(served), path["key"])
    assert decision.model == model
    status, events = vs.stream_sse(path["routers"][model]["url"], decision.router_path,
                                   _chat(served, stream=True, max_tokens=12), decision.headers, timeout=60)
    assert status == 200, events
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert chunks and all(chunk["model"] == served for chunk in chunks)
    assert len({chunk["id"] for chunk in chunks}) == 1


def test_request_id_becomes_the_completion_id(path):
    model, served = next(iter(path["plan"]["served"].items()))
    routed, headers, (status, _, raw) = _send(path, "/v1/chat/completions", _chat(served))
    assert status == 200
    assert json.loads(raw)["id"] == f"chatcmpl-{headers['X-Request-Id']}"


def test_consumer_key_instead_of_the_internal_key_is_rejected_by_vllm(path):
    model, served = next(iter(path["plan"]["served"].items()))
    _, _, (status, _, raw) = _send(path, "/v1/chat/completions", _chat(served), {"Authorization": "Bearer consumer-" + "k" * 40})
    assert status == 401, raw[:300]


def test_model_with_no_ready_server_gets_a_prompt_503_never_the_other_model(path, contract_report):
    """Scale to zero as discovery sees it: the pod is not Ready; the router drops it and answers 503 at once."""
    (model_a, served_a), (model_b, served_b) = sorted(path["plan"]["served"].items())
    router_b = path["plan"]["routers"][model_b]
    labels = {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": model_b}
    path["kube"].set_pod(router_b["namespace"], f"{model_b}-0", labels, POD_ADDRESSES[1], ready=False)
    _wait_for_workers(path["routers"][model_b], 0)
    started = time.monotonic()
    routed, _, (status, headers, raw) = _send(path, "/v1/chat/completions", _chat(served_b))
    elapsed = time.monotonic() - started
    assert routed == model_b
    assert status == 503, raw[:300]
    assert elapsed < 5, f"the 503 took {elapsed:.1f}s: nothing should be held"
    assert served_a.encode() not in raw
    contract_report["no_ready_server"] = {"status": status, "seconds": round(elapsed, 3), "body": raw[:120].decode(errors="replace"),
                                          "retry_after": headers.get("retry-after") or headers.get("Retry-After")}
    # The other model is untouched.
    _, _, (status_a, _, raw_a) = _send(path, "/v1/chat/completions", _chat(served_a))
    assert status_a == 200 and json.loads(raw_a)["model"] == served_a
    # The pod comes back (scale from zero): the router picks it up without a restart.
    path["kube"].set_pod(router_b["namespace"], f"{model_b}-0", labels, POD_ADDRESSES[1], ready=True)
    _wait_for_workers(path["routers"][model_b], 1)
    _, _, (status_b, _, raw_b) = _send(path, "/v1/chat/completions", _chat(served_b))
    assert status_b == 200 and json.loads(raw_b)["model"] == served_b


# Runs last: it kills model B's server, as a dead replica.
def test_one_dead_worker_fails_health_but_not_liveness_and_requests_flow(path, vllm_python, work_dir, contract_report):
    """vllm-router 0.1.17 (FACTS.md "vLLM router", health endpoints): /health answers 503 once ANY worker fails the
    router's check, /liveness is the process alone, /readiness stays 200 while one worker is healthy. The rendered
    probes and ALB check use /liveness (vllm_eks/edge/router.py); this pins that choice to the real binary. One router
    started with the RENDERED arguments discovers two worker pods (both vLLM servers); one is killed."""
    (model_a, served_a), (model_b, _) = sorted(path["plan"]["served"].items())
    namespace = "vllm-two-workers"
    labels = {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": model_a}
    for index, address in enumerate(POD_ADDRESSES):
        path["kube"].set_pod(namespace, f"{model_a}-{index}", labels, address, ready=True)
    directory = work_dir / "two-workers"
    directory.mkdir(parents=True, exist_ok=True)
    router = _start_router(vs.router_executable(vllm_python), path["plan"]["routers"][model_a]["args"],
                           path["kube"].kubeconfig(directory), directory / "router.log", "/liveness",
                           service_discovery_namespace=namespace)
    log_file = router["log"]
    interval = float(router["args"][router["args"].index("--health-check-interval-secs") + 1])
    try:
        _wait_for_workers(router, 2)
        deadline = time.monotonic() + 3 * interval + 10
        while vs.request(router["url"], "GET", "/health", timeout=5)[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert vs.request(router["url"], "GET", "/health", timeout=5)[0] == 200, "both workers up: /health 200"

        path["servers"][model_b].kill()  # the dead replica (its pod still listed Ready, as before a probe fails)
        started = time.monotonic()
        health = 200
        while health == 200 and time.monotonic() - started < 6 * interval + 30:
            time.sleep(0.5)
            health = vs.request(router["url"], "GET", "/health", timeout=5)[0]
        took = time.monotonic() - started
        assert health == 503, f"/health stayed {health} for {took:.0f}s with one of two workers dead"
        assert vs.request(router["url"], "GET", "/liveness", timeout=5)[0] == 200
        assert vs.request(router["url"], "GET", "/readiness", timeout=5)[0] == 200
        decision = edge_stand_in.api_gateway_and_alb(path["plan"], "/v1/chat/completions", _chat(served_a), path["key"])
        statuses = [vs.request(router["url"], "POST", decision.router_path, body=_chat(served_a),
                               headers=decision.headers, timeout=60)[0] for _ in range(6)]
        assert statuses == [200] * 6, f"{statuses}:\n{log_file.read_text()[-3000:]}"
        contract_report["one_dead_worker"] = {"health_503_after_seconds": round(took, 1), "liveness": 200,
                                              "readiness": 200, "requests": statuses}
    finally:
        _stop_router(router)
