"""One trace per agent run, across services: in one process (in-process transport) and
across two processes on loopback (real HTTP, the W3C traceparent header)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from agentic_platform.app import create_app
from agentic_platform.clients.internal import (
    llm_client_for,
    memory_client_for,
    retrieval_client_for,
)
from agentic_platform.telemetry.spans import agent_span, current_trace_id, tool_span
from agentic_platform.testing.server import serve_in_thread
from agentic_platform.testing.telemetry import (
    descendants_of,
    parent_of,
    record_spans,
    span_named,
)

ALL = ("llm-gateway", "memory", "retrieval")


def chain(span: ReadableSpan, spans: Sequence[ReadableSpan], depth: int) -> list[str]:
    """The names of ``span``'s ancestors, nearest first."""
    names = []
    for _ in range(depth):
        span = parent_of(span, spans)
        names.append(span.name)
    return names


async def test_an_agent_run_is_one_trace(
    telemetry_settings: Any, platform: Any, admin_key: str
) -> None:
    async with platform(telemetry_settings(ALL)) as (app, spans):
        state = app.state.platform
        user = await state.authenticator.authenticate(admin_key)
        async with retrieval_client_for(state, user) as retrieval:
            kb = await retrieval.create_knowledge_base("handbook")
            await retrieval.add_documents(kb.id, [{"text": "Holidays start in August."}])
        with agent_span(state, "helper", conversation_id="conv-7") as run:
            async with (
                retrieval_client_for(state, user) as retrieval,
                memory_client_for(state, user) as memory,
                llm_client_for(state, user) as llm,
            ):
                with tool_span(state, "search_handbook", call_id="call_1"):
                    await retrieval.retrieve(kb.id, "when are holidays?")
                with tool_span(state, "recall", call_id="call_2"):
                    await memory.search("holidays")
                await llm.chat(model="echo", messages=[{"role": "user", "content": "hi"}])
            trace_id = current_trace_id()
        finished = spans.get_finished_spans()
    assert trace_id == f"{run.get_span_context().trace_id:032x}"
    root = span_named(finished, "invoke_agent helper")
    assert root.parent is None
    assert dict(root.attributes or {})["gen_ai.conversation.id"] == "conv-7"
    assert dict(root.attributes or {})["gen_ai.agent.name"] == "helper"
    in_run = descendants_of(root, finished)
    assert {f"{s.context.trace_id:032x}" for s in in_run} == {trace_id}

    retrieval_span = span_named(in_run, f"retrieval {kb.id}")
    assert chain(retrieval_span, finished, 4) == [
        "POST /retrieval/v1/knowledge-bases/{kb}/retrieve",
        "POST",
        "execute_tool search_handbook",
        "invoke_agent helper",
    ]
    embed_calls = [
        s for s in descendants_of(retrieval_span, finished) if s.name == "embeddings test-embed"
    ]
    assert len(embed_calls) == 1
    assert chain(embed_calls[0], finished, 2) == ["POST /llm/v1/embeddings", "POST"]

    memory_search = span_named(in_run, "search_memory")
    assert chain(memory_search, finished, 3)[1:] == ["POST", "execute_tool recall"]
    tool = span_named(in_run, "execute_tool recall")
    assert dict(tool.attributes or {})["gen_ai.tool.call.id"] == "call_2"

    chat = span_named(in_run, "chat echo")
    assert chain(chat, finished, 3) == ["POST /llm/v1/chat/completions", "POST", root.name]
    client = parent_of(parent_of(chat, finished), finished)
    assert client.kind is SpanKind.CLIENT
    sql = [s for s in in_run if s.name.endswith(" sqlite")]
    assert sql, "no SQL statement spans in the run"
    assert all(dict(s.attributes or {})["db.system.name"] == "sqlite" for s in sql)

    ingest = span_named(finished, f"ingest {kb.id}")
    assert parent_of(ingest, finished).name == "POST /retrieval/v1/knowledge-bases/{kb}/documents"


def test_one_trace_across_two_processes(telemetry_settings: Any, admin_key: str) -> None:
    gateway_app = create_app(telemetry_settings(["llm-gateway"]))
    with serve_in_thread(gateway_app) as gateway_url:
        gateway_spans = record_spans(gateway_app)
        settings = telemetry_settings(["memory"])
        settings.service_urls = {"llm-gateway": gateway_url}
        memory_app = create_app(settings)
        with serve_in_thread(memory_app) as memory_url:
            memory_spans = record_spans(memory_app)
            reply = httpx.post(
                f"{memory_url}/memory/v1/memories/search",
                json={"query": "holidays"},
                headers={"Authorization": f"Bearer {admin_key}"},
                timeout=30,
            )
    assert reply.status_code == 200, reply.text
    caller_side = memory_spans.get_finished_spans()
    callee_side = gateway_spans.get_finished_spans()
    search = span_named(caller_side, "search_memory")
    client = next(
        s
        for s in descendants_of(search, caller_side)
        if s.kind is SpanKind.CLIENT and s.name == "POST"
    )
    assert dict(client.attributes or {})["url.full"] == f"{gateway_url}/llm/v1/embeddings"
    server = span_named(callee_side, "POST /llm/v1/embeddings")
    assert server.parent is not None and server.parent.is_remote
    assert server.parent.span_id == client.context.span_id
    assert server.context.trace_id == search.context.trace_id
    assert f"{server.context.trace_id:032x}" == reply.headers["x-trace-id"]
    assert parent_of(span_named(callee_side, "embeddings test-embed"), callee_side) is server
    assert server.resource.attributes["service.name"] == "agentic-llm-gateway"
    assert search.resource.attributes["service.name"] == "agentic-memory"
