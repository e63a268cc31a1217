"""JSON logs carry the trace, span, request and principal of the request they were written
for, and neither keys nor message content."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from agentic_platform.llm_gateway.catalog import ModelEntry
from agentic_platform.logs import JsonFormatter


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Everything logged at DEBUG and above, as the platform's JSON lines."""
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield sink
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_log_lines_carry_the_trace_and_no_secrets(
    telemetry_settings: Any,
    platform: Any,
    client_for: Any,
    admin_key: str,
    json_log: io.StringIO,
    flaky_model: ModelEntry,
) -> None:
    settings = telemetry_settings(models=[flaky_model])
    settings.log_requests = True
    prompt = {"role": "user", "content": "my very private prompt"}
    async with platform(settings) as (app, _spans), client_for(app) as http:
        me = (await http.get("/admin/v1/me")).json()
        reply = await http.post(
            "/llm/v1/chat/completions", json={"model": "flaky", "messages": [prompt]}
        )
    assert reply.status_code == 200
    text = json_log.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    access = next(
        line
        for line in lines
        if line["logger"] == "agentic_platform.access"
        and line.get("path") == "/llm/v1/chat/completions"
    )
    assert access["trace_id"] == reply.headers["x-trace-id"]
    assert len(access["span_id"]) == 16
    assert access["request_id"] == reply.headers["x-request-id"]
    assert access["principal_id"] == me["principal"]["id"]
    failover = next(line for line in lines if line["message"] == "upstream call failed")
    assert failover["trace_id"] == reply.headers["x-trace-id"]
    for secret in (admin_key, "sk-upstream-never-shown", "my very private prompt"):
        assert secret not in text
