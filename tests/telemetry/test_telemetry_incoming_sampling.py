"""Whose sampling decision a request follows: by default the platform's own (the ratio on the
trace id), not the sampled flag of a caller's ``traceparent``, so no caller can make the
platform record, and pay for, every request it sends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentic_platform.settings import load_settings
from agentic_platform.testing.telemetry import span_named

CHAT = {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}
SERVER_SPAN = "POST /llm/v1/chat/completions"
# TraceIdRatioBased keeps a trace when the low 64 bits of its id are under ratio * 2**64.
LOW_TRACE = "4bf92f3577b34da60000000000000001"
HIGH_TRACE = "4bf92f3577b34da6fffffffffffffff0"
PARENT = "00f067aa0ba902b7"


def traceparent(trace_id: str, sampled: bool) -> dict[str, str]:
    return {"traceparent": f"00-{trace_id}-{PARENT}-{'01' if sampled else '00'}"}


async def chat_spans(
    settings: Any, platform: Any, client_for: Any, headers: dict[str, str]
) -> tuple[str, list[str]]:
    async with platform(settings) as (app, spans), client_for(app) as http:
        reply = await http.post("/llm/v1/chat/completions", json=CHAT, headers=headers)
    assert reply.status_code == 200
    return reply.headers["x-trace-id"], [span.name for span in spans.get_finished_spans()]


async def test_a_callers_sampled_flag_does_not_make_the_platform_record(
    telemetry_settings: Any, platform: Any, client_for: Any
) -> None:
    settings = telemetry_settings(sampling_ratio=0.0)
    header = traceparent(LOW_TRACE, sampled=True)
    trace_id, names = await chat_spans(settings, platform, client_for, header)
    assert names == []
    assert trace_id == LOW_TRACE  # the caller's trace is still joined and named


async def test_a_callers_unsampled_flag_does_not_hide_its_requests(
    telemetry_settings: Any, platform: Any, client_for: Any
) -> None:
    header = traceparent(LOW_TRACE, sampled=False)
    trace_id, names = await chat_spans(telemetry_settings(), platform, client_for, header)
    assert trace_id == LOW_TRACE
    assert SERVER_SPAN in names and "chat echo" in names


@pytest.mark.parametrize("sampled", [True, False])
async def test_the_ratio_decides_on_the_trace_id_whatever_the_flag(
    telemetry_settings: Any, platform: Any, client_for: Any, sampled: bool
) -> None:
    settings = telemetry_settings(sampling_ratio=0.5)
    _, kept = await chat_spans(settings, platform, client_for, traceparent(LOW_TRACE, sampled))
    _, dropped = await chat_spans(settings, platform, client_for, traceparent(HIGH_TRACE, sampled))
    assert SERVER_SPAN in kept
    assert dropped == []


async def test_honouring_incoming_sampling_follows_the_callers_flag(
    telemetry_settings: Any, platform: Any, client_for: Any
) -> None:
    followed = telemetry_settings(sampling_ratio=0.0, honour_incoming_sampling=True)
    header = traceparent(HIGH_TRACE, sampled=True)
    async with platform(followed) as (app, spans), client_for(app) as http:
        reply = await http.post("/llm/v1/chat/completions", json=CHAT, headers=header)
    server = span_named(spans.get_finished_spans(), SERVER_SPAN)
    assert reply.headers["x-trace-id"] == HIGH_TRACE
    assert server.parent is not None and f"{server.parent.span_id:016x}" == PARENT

    everything = telemetry_settings(sampling_ratio=1.0, honour_incoming_sampling=True)
    unsampled = traceparent(LOW_TRACE, sampled=False)
    _, names = await chat_spans(everything, platform, client_for, unsampled)
    assert names == []


def test_honouring_incoming_sampling_is_off_unless_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_settings(data_dir=tmp_path).telemetry.honour_incoming_sampling is False
    monkeypatch.setenv("AGENTIC_TELEMETRY__HONOUR_INCOMING_SAMPLING", "true")
    assert load_settings(data_dir=tmp_path).telemetry.honour_incoming_sampling is True
