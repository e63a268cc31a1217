"""A client span per SQL statement run inside a traced request.

Two SQLAlchemy cursor events on the engine; nothing happens for statements outside a
recorded span (the ledger's flushes, the change feed's polls), so background work does not
start a trace per query. The statement text is SQLAlchemy's, with its parameters as
placeholders: values never reach the span.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

_SPAN_KEY = "_agentic_span"
_MAX_STATEMENT = 2_000
_SYSTEMS = {"sqlite": "sqlite", "postgresql": "postgresql"}


def trace_statements(engine: AsyncEngine, tracer: Tracer) -> None:
    system = _SYSTEMS.get(engine.dialect.name, engine.dialect.name)
    namespace = engine.url.database or ""

    def before(
        _conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        if context is None or not trace.get_current_span().is_recording():
            return
        operation = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
        span = tracer.start_span(
            f"{operation} {system}",
            kind=SpanKind.CLIENT,
            attributes={
                "db.system.name": system,
                "db.namespace": namespace.rsplit("/", 1)[-1],
                "db.operation.name": operation,
                "db.query.text": statement[:_MAX_STATEMENT],
            },
        )
        setattr(context, _SPAN_KEY, span)

    def after(
        _conn: Any, _cursor: Any, _statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        span: Span | None = getattr(context, _SPAN_KEY, None)
        if span is not None:
            span.end()
            setattr(context, _SPAN_KEY, None)

    def failed(exception_context: Any) -> None:
        context = exception_context.execution_context
        span: Span | None = getattr(context, _SPAN_KEY, None) if context is not None else None
        if span is not None:
            span.set_attribute("error.type", type(exception_context.original_exception).__name__)
            span.set_status(Status(StatusCode.ERROR))
            span.end()
            setattr(context, _SPAN_KEY, None)

    sync_engine = engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", before)
    event.listen(sync_engine, "after_cursor_execute", after)
    event.listen(sync_engine, "handle_error", failed)
