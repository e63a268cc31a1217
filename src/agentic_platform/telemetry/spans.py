"""Spans for the work above a single request: agent runs, tool calls, retrieval, memory
search and ingestion.

Each helper is a context manager that opens a span as the current one (so the model calls,
typed-client calls and SQL inside it become its children), marks it failed with
``error.type`` if the block raises, and yields it for more attributes. Outside any span it
starts a trace of its own (an agent run in the background). With telemetry off it yields a
non-recording span and costs next to nothing::

    with agent_span(state, "diy-agent", conversation_id=session_id) as span:
        with tool_span(state, "get_weather", call_id=call.id):
            result = await tool(**arguments)
        run.trace_id = current_trace_id()

Work split across tasks (an agent run prepared in the request and streamed from a task of its
own) takes a span from :func:`started_agent_span` or :func:`started_span` and enters it with
:func:`within` in each task; the last one ends it.

Names and attributes follow the OpenTelemetry GenAI conventions: ``invoke_agent {name}``
with ``gen_ai.agent.name`` and ``gen_ai.conversation.id``; ``execute_tool {name}`` with
``gen_ai.tool.name`` and ``gen_ai.tool.call.id``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind, Status, StatusCode

if TYPE_CHECKING:
    from agentic_platform.state import PlatformState

AttributeValue = str | bool | int | float | Sequence[str]


@contextmanager
def traced(
    state: PlatformState,
    name: str,
    attributes: Mapping[str, AttributeValue | None],
    kind: SpanKind = SpanKind.INTERNAL,
) -> Iterator[Span]:
    """A span called ``name`` around the block (attributes that are None are left out)."""
    span = started_span(state, name, attributes, kind)
    with within(span, end=True):
        yield span


def started_span(
    state: PlatformState,
    name: str,
    attributes: Mapping[str, AttributeValue | None],
    kind: SpanKind = SpanKind.INTERNAL,
) -> Span:
    """A span called ``name``, started under the current one but not made current: for work
    split across tasks, each of which enters it with :func:`within`."""
    tracer = state.telemetry.tracer
    if tracer is None:
        return INVALID_SPAN
    present = {key: value for key, value in attributes.items() if value is not None}
    return tracer.start_span(name, kind=kind, attributes=present)


@contextmanager
def within(span: Span, *, end: bool) -> Iterator[Span]:
    """``span`` as the current span for the block, marked failed with ``error.type`` if the
    block raises; ended after it when ``end`` (the last block of its work)."""
    if not span.is_recording():
        yield span
        return
    with trace.use_span(
        span, end_on_exit=end, record_exception=False, set_status_on_exception=False
    ):
        try:
            yield span
        except BaseException as error:
            span.set_attribute("error.type", getattr(error, "code", None) or type(error).__name__)
            span.set_status(Status(StatusCode.ERROR))
            raise


def agent_span(
    state: PlatformState,
    name: str,
    conversation_id: str | None = None,
    *,
    agent_id: str | None = None,
    description: str | None = None,
    model: str | None = None,
) -> AbstractContextManager[Span]:
    """``invoke_agent {name}``: one agent run (a whole invoke or stream)."""
    attributes = _agent_attributes(
        name, conversation_id, agent_id=agent_id, description=description, model=model
    )
    return traced(state, f"invoke_agent {name}", attributes)


def started_agent_span(
    state: PlatformState,
    name: str,
    conversation_id: str | None = None,
    *,
    model: str | None = None,
) -> Span:
    """:func:`agent_span`, started but not current, for a run prepared in one task and run
    in another (a stream): enter it with :func:`within` in each."""
    return started_span(
        state, f"invoke_agent {name}", _agent_attributes(name, conversation_id, model=model)
    )


def _agent_attributes(
    name: str,
    conversation_id: str | None,
    *,
    agent_id: str | None = None,
    description: str | None = None,
    model: str | None = None,
) -> dict[str, AttributeValue | None]:
    return {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": name,
        "gen_ai.agent.id": agent_id,
        "gen_ai.agent.description": description,
        "gen_ai.conversation.id": conversation_id,
        "gen_ai.request.model": model,
    }


def tool_span(
    state: PlatformState,
    name: str,
    call_id: str | None = None,
    *,
    tool_type: str = "function",
    description: str | None = None,
) -> AbstractContextManager[Span]:
    """``execute_tool {name}``: one tool call an agent made (``call_id`` is the model's id
    for it, so the span matches the tool call in the model's answer)."""
    return traced(
        state,
        f"execute_tool {name}",
        {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": name,
            "gen_ai.tool.call.id": call_id,
            "gen_ai.tool.type": tool_type,
            "gen_ai.tool.description": description,
        },
    )


def retrieval_span(
    state: PlatformState, knowledge_bases: Sequence[str], search_type: str, top_k: int
) -> AbstractContextManager[Span]:
    """``retrieval {knowledge base}``: a search of one or several knowledge bases (ids)."""
    target = knowledge_bases[0] if len(knowledge_bases) == 1 else "knowledge_bases"
    return traced(
        state,
        f"retrieval {target}",
        {
            "gen_ai.operation.name": "retrieval",
            "gen_ai.data_source.id": list(knowledge_bases),
            "agentic.retrieval.search_type": search_type,
            "agentic.retrieval.top_k": top_k,
        },
    )


def memory_search_span(
    state: PlatformState, owner_id: str, mode: str, top_k: int
) -> AbstractContextManager[Span]:
    """``search_memory``: a search of one user's memories and turns."""
    return traced(
        state,
        "search_memory",
        {
            "gen_ai.operation.name": "retrieval",
            "gen_ai.data_source.id": "memory",
            "user.id": owner_id,
            "agentic.memory.mode": mode,
            "agentic.memory.top_k": top_k,
        },
    )


def ingestion_span(
    state: PlatformState, knowledge_base: str, documents: int, job: bool
) -> AbstractContextManager[Span]:
    """``ingest {knowledge base}``: documents ingested now, or handed to a job."""
    return traced(
        state,
        f"ingest {knowledge_base}",
        {
            "gen_ai.data_source.id": knowledge_base,
            "agentic.ingest.documents": documents,
            "agentic.ingest.job": job,
        },
    )


def current_trace_id() -> str | None:
    """The trace id (32 hex digits) of the current span, for records that link to their
    trace (an agent run's record), or None outside a trace."""
    context = trace.get_current_span().get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None
