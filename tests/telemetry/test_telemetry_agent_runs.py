"""An agent run is one trace: ``invoke_agent {name}`` above its model calls, tool calls,
memory and retrieval calls, and the run's record, answer and events carry the trace id."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from agentic_platform.testing.agents import agent_models
from agentic_platform.testing.telemetry import descendants_of, span_named

SERVICES = ("llm-gateway", "memory", "retrieval", "agents")


def agent_platform(telemetry_settings: Any, model: str) -> Any:
    settings = telemetry_settings(SERVICES, models=agent_models())
    settings.agents.default_model = model
    return settings


def hex_trace(span: ReadableSpan) -> str:
    assert span.context is not None
    return f"{span.context.trace_id:032x}"


def named(spans: Sequence[ReadableSpan], prefix: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name.startswith(prefix)]


async def test_a_run_with_a_session_is_one_trace_under_its_agent_span(
    telemetry_settings: Any, platform: Any, client_for: Any
) -> None:
    async with platform(agent_platform(telemetry_settings, "calc-bot")) as (app, spans):
        async with client_for(app) as http:
            first = await http.post("/agents/v1/diy-agent/invoke", json={"message": "1 + 1"})
            assert first.status_code == 200, first.text
            session_id = first.json()["session_id"]
            spans.clear()
            reply = await http.post(
                "/agents/v1/diy-agent/invoke", json={"message": "6 * 7", "session_id": session_id}
            )
            assert reply.status_code == 200, reply.text
            answer = reply.json()
            record = (await http.get(f"/agents/v1/runs/{answer['run_id']}")).json()
            listed = (await http.get("/agents/v1/runs", params={"session_id": session_id})).json()
        finished = spans.get_finished_spans()
    assert answer["output"] == "The answer is 42."
    root = span_named(finished, "invoke_agent diy-agent")
    attributes = dict(root.attributes or {})
    assert attributes["gen_ai.agent.name"] == "diy-agent"
    assert attributes["gen_ai.conversation.id"] == session_id
    assert attributes["gen_ai.request.model"] == "calc-bot"
    assert root.status.status_code is StatusCode.UNSET
    trace_id = hex_trace(root)
    assert answer["trace_id"] == record["trace_id"] == trace_id
    assert {run["id"]: run["trace_id"] for run in listed["data"]}[answer["run_id"]] == trace_id
    assert reply.headers["x-trace-id"] == trace_id
    assert first.json()["trace_id"] not in (None, trace_id)

    in_run = descendants_of(root, finished)
    assert {hex_trace(span) for span in in_run} == {trace_id}
    assert len(named(in_run, "chat calc-bot")) == 2
    tool = span_named(in_run, "execute_tool calculator")
    [call] = answer["tool_calls"]
    assert dict(tool.attributes or {})["gen_ai.tool.call.id"] == call["call_id"]
    assert tool.status.status_code is StatusCode.UNSET
    assert span_named(in_run, "search_memory")
    memory_routes = {span.name for span in named(in_run, "GET /memory/v1/")}
    memory_routes |= {span.name for span in named(in_run, "POST /memory/v1/")}
    assert "GET /memory/v1/sessions/{session_id}" in memory_routes, memory_routes
    assert any(name.endswith("/messages") for name in memory_routes), memory_routes


async def test_a_streamed_run_traces_its_knowledge_base_search(
    telemetry_settings: Any, platform: Any, client_for: Any
) -> None:
    async with platform(agent_platform(telemetry_settings, "kb-bot")) as (app, spans):
        async with client_for(app) as http:
            created = await http.post("/retrieval/v1/knowledge-bases", json={"name": "handbook"})
            assert created.status_code == 201, created.text
            kb = created.json()["id"]
            added = await http.post(
                "/retrieval/v1/knowledge-bases/handbook/documents",
                json={"documents": [{"id": "leave", "text": "Thirty days of paid leave."}]},
            )
            assert added.status_code < 300, added.text
            spans.clear()
            reply = await http.post(
                "/agents/v1/diy-agent/stream",
                json={"message": "paid leave", "knowledge_base": "handbook"},
            )
            assert reply.status_code == 200, reply.text
        finished = spans.get_finished_spans()
    events = [
        orjson.loads(line[6:]) for line in reply.text.splitlines() if line.startswith("data: ")
    ]
    root = span_named(finished, "invoke_agent diy-agent")
    trace_id = hex_trace(root)
    started, ended = events[0], events[-1]
    assert started["type"] == "run_started" and ended["type"] == "run_finished", events
    assert started["trace_id"] == ended["trace_id"] == trace_id
    assert reply.headers["x-trace-id"] == trace_id
    in_run = descendants_of(root, finished)
    tool = span_named(in_run, "execute_tool search_knowledge_base")
    search = span_named(descendants_of(tool, finished), f"retrieval {kb}")
    assert hex_trace(search) == trace_id
    assert len(named(in_run, "chat kb-bot")) == 2


async def test_a_failed_run_marks_its_agent_span(
    telemetry_settings: Any, platform: Any, client_for: Any
) -> None:
    async with platform(agent_platform(telemetry_settings, "broken-bot")) as (app, spans):
        async with client_for(app) as http:
            reply = await http.post("/agents/v1/diy-agent/invoke", json={"message": "hello"})
            assert reply.status_code >= 500, reply.text
            runs = (await http.get("/agents/v1/runs", params={"status": "failed"})).json()
        finished = spans.get_finished_spans()
    root = span_named(finished, "invoke_agent diy-agent")
    assert root.status.status_code is StatusCode.ERROR
    assert dict(root.attributes or {})["error.type"] == reply.json()["error"]["code"]
    [run] = runs["data"]
    assert run["trace_id"] == hex_trace(root) == reply.headers["x-trace-id"]
