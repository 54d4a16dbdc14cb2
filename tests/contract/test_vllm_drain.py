"""Contract: SIGTERM drains a running stream — on the live server of test_vllm_contract.py, which it stops.

A module of its own so that it runs after test_routing.py, which uses the live server as its first model's pod
(conftest MODULE_ORDER).
"""

from __future__ import annotations

import json
import threading
import time

import pytest

import vllm_server as vs

pytestmark = pytest.mark.vllm


# --- drain ---------------------------------------------------------------------------------------

IN_FLIGHT_MARGIN_SECONDS = 0.25


def _streamed_tokens_per_second(server, model: str, api_key: str, tokens: int = 300) -> float:
    """Generation pace of a warm server: tokens per second between the 10th event and the last of a stream."""
    for _ in range(2):  # the first stream warms the server up; the second is measured
        arrivals: list[float] = []
        status, events = vs.stream_sse(server.base_url, "/v1/chat/completions",
                                       vs.chat_body(model, max_tokens=tokens, ignore_eos=True, stream=True),
                                       vs.bearer(api_key), timeout=120, on_event=lambda *_: arrivals.append(time.monotonic()))
        assert status == 200, events
    span = arrivals[-2] - arrivals[10]  # the last event is [DONE]
    assert span > 0, f"the calibration stream arrived all at once ({len(arrivals)} events): vLLM is not streaming"
    return (len(arrivals) - 12) / span


def test_sigterm_drains_a_running_stream(vllm_server, server_container, tiny_model, api_key, contract_report):
    """SIGTERM to PID 1 (what the kubelet sends) mid-stream: the stream still ends normally within the timeout.

    The stream must still be generating when the signal goes out (events keep arriving well after it), or the run
    fails: a stream already complete in the client's buffer would pass every other assertion and prove nothing.
    vLLM 0.32: `--shutdown-timeout` lets running requests finish on SIGTERM (vllm/entrypoints/openai/cli_args.py).
    """
    shutdown_timeout = server_container.shutdown_timeout_seconds
    if not shutdown_timeout:
        pytest.fail(f"{server_container.label} renders no --shutdown-timeout: vLLM would abort the stream")
    grace = float(server_container.termination_grace_period_seconds or shutdown_timeout + 30)
    # The kubelet runs preStop first and sends SIGTERM after it: what is left of the grace period is vLLM's.
    after_sigterm = grace - server_container.pre_stop_seconds
    model = vs.served_name(server_container, tiny_model)

    # Calibrate on a warm server, from a stream's own pace (not a whole request, whose first-token latency and any
    # warm-up would understate the rate): the drained stream must last about a quarter of the drain window (at most
    # 8 s), so SIGTERM lands while most of it is still being generated.
    tokens_per_second = _streamed_tokens_per_second(vllm_server, model, api_key)
    target_seconds = min(8.0, shutdown_timeout / 4)
    max_model_len = int(vs.flag_value(server_container.args, "--max-model-len") or 4096)
    max_tokens = int(min(max(tokens_per_second * target_seconds, 200), max_model_len - 64))

    first_events = threading.Event()
    outcome: dict = {}
    arrivals: list[float] = []

    def on_event(count: int, _data: str) -> None:
        arrivals.append(time.monotonic())
        if count == 5:  # signal from the reader itself: no thread hand-off between "streaming" and SIGTERM
            outcome["signalled"] = time.monotonic()
            vllm_server.terminate()
            first_events.set()

    def consume() -> None:
        try:
            body = vs.chat_body(model, max_tokens=max_tokens, ignore_eos=True, stream=True,
                              stream_options={"include_usage": True})
            outcome["status"], outcome["events"] = vs.stream_sse(
                vllm_server.base_url, "/v1/chat/completions", body, vs.bearer(api_key),
                timeout=shutdown_timeout + 30, on_event=on_event)
        except Exception as exc:  # noqa: BLE001 - reported below
            outcome["error"] = repr(exc)
        outcome["ended"] = time.monotonic()

    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    assert first_events.wait(60), f"the stream never started: {outcome}"
    signalled = outcome["signalled"]
    events_at_signal = 5
    reader.join(shutdown_timeout + 30)
    assert not reader.is_alive(), "the stream neither finished nor broke within --shutdown-timeout + 30 s"
    exit_code = vllm_server.wait_exit(max(after_sigterm - (time.monotonic() - signalled), 1))
    exited_after = time.monotonic() - signalled

    stream_after = outcome["ended"] - signalled
    # In flight means generated after the signal: events parsed from data already buffered before SIGTERM all
    # arrive within milliseconds of it, so only events arriving a while later prove vLLM kept generating.
    late = [t for t in arrivals if t - signalled >= IN_FLIGHT_MARGIN_SECONDS]
    contract_report["drain"] = {
        "shutdown_timeout": shutdown_timeout, "termination_grace_period_seconds": grace,
        "pre_stop_seconds": server_container.pre_stop_seconds, "left_for_vllm_after_sigterm_s": after_sigterm,
        "max_tokens": max_tokens, "events_at_sigterm": events_at_signal,
        "events_total": len(outcome.get("events", [])),
        "fifth_event_to_sigterm_s": round(signalled - arrivals[4], 3) if len(arrivals) > 4 else None,
        "stream_start_to_end_s": round(arrivals[-1] - arrivals[0], 2) if arrivals else None,
        "stream_end_after_sigterm_s": round(stream_after, 2),
        "process_exit_after_sigterm_s": round(exited_after, 2), "exit_code": exit_code,
        "calibrated_tokens_per_second": round(tokens_per_second, 1),
        "events_before_sigterm": sum(t <= signalled for t in arrivals),
        f"events_arriving_{IN_FLIGHT_MARGIN_SECONDS}s_or_more_after_sigterm": len(late),
    }
    assert len(late) > 20 and arrivals[-1] - signalled >= 0.25 * target_seconds, (
        f"the stream was not in flight at SIGTERM: {len(late)} events arrived {IN_FLIGHT_MARGIN_SECONDS}s or more "
        f"after it and the last {arrivals[-1] - signalled:.2f}s after it (whole stream "
        f"{arrivals[-1] - arrivals[0]:.2f}s for {max_tokens} tokens): this run proves nothing about draining"
    )
    assert "error" not in outcome, outcome.get("error")
    assert outcome["status"] == 200
    events = outcome["events"]
    assert events[-1] == "[DONE]", f"stream cut after SIGTERM; last events {events[-3:]}"
    # vLLM ends an aborted stream with `[DONE]` too (finish_reason "abort"), so [DONE] alone proves nothing.
    reasons = [choice.get("finish_reason") for event in events[:-1]
               for choice in json.loads(event).get("choices", []) if choice.get("finish_reason")]
    assert reasons == ["length"], f"finish reasons {reasons}: the stream was not drained to its end"
    usage = json.loads(events[-2]).get("usage") or {}
    assert usage.get("completion_tokens") == max_tokens, usage
    assert stream_after <= shutdown_timeout, f"drain took {stream_after:.1f}s > --shutdown-timeout {shutdown_timeout}"
    # Worst case, recorded, not asserted: a drain using the whole --shutdown-timeout plus the teardown seen here.
    # CPU teardown on a shared 2-core runner (6-15 s) says little about a GPU node's, so it only informs the margin.
    teardown = exited_after - stream_after
    contract_report["drain"]["teardown_after_stream_s"] = round(teardown, 2)
    contract_report["drain"]["worst_case_exit_after_sigterm_s"] = round(shutdown_timeout + teardown, 2)
    assert exit_code is not None, (
        f"vLLM still running {exited_after:.0f}s after SIGTERM; the kubelet would SIGKILL it after {after_sigterm:.0f}s "
        f"(terminationGracePeriodSeconds {grace:.0f} - preStop {server_container.pre_stop_seconds:.0f})"
    )
