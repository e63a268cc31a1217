"""The platform's tracer: OpenTelemetry API spans at a fraction of the SDK's cost.

The SDK's tracer costs about 40 µs a span on the gateway's hot path: a sampler object chain,
a lock per span, attribute validation through ``BoundedAttributes``, a context lookup per
call. The platform knows what it sets (strings, numbers, booleans and their sequences), so
this tracer keeps what the SDK's pipeline needs and drops the rest. Its spans are
``opentelemetry.trace.Span`` for the code that traces (``trace.use_span``,
``set_span_in_context`` and the rest of the API take them) and ``ReadableSpan`` for what
follows, so the SDK's span processors and exporters (``BatchSpanProcessor``, the OTLP gRPC
exporter, the in-memory exporter of the tests) take them as they are.

Sampling is the SDK's ``ParentBased(TraceIdRatioBased(ratio))`` written inline: a span
inside the process follows its parent; a new trace, and a caller's unless
``honour_incoming`` says to follow its flag, is recorded when the low 64 bits of its trace
id are under ``ratio * 2**64``, the same decision every service makes at the same ratio.
"""

from __future__ import annotations

import random
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from time import time_ns
from typing import TYPE_CHECKING, Any, cast

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)
from opentelemetry.util.types import Attributes, AttributeValue

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import Span

MAX_ATTRIBUTES = 128
"""Per span, event and link, as the SDK's default limit; past it, new keys are dropped."""
MAX_EVENTS = 128
_LOW_64 = 0xFFFFFFFFFFFFFFFF
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_NOT_SAMPLED = TraceFlags(TraceFlags.DEFAULT)
_get_current_span = trace.get_current_span


def _span_id() -> int:
    found = random.getrandbits(64)
    while not found:
        found = random.getrandbits(64)
    return found


def _trace_id() -> int:
    found = random.getrandbits(128)
    while not found:
        found = random.getrandbits(128)
    return found


class PlatformSpan(trace.Span, ReadableSpan):
    """A recorded span: written by the request that runs it, read by the exporters once it
    has ended (and never written after)."""

    def __init__(
        self,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        kind: SpanKind,
        attributes: dict[str, Any],
        links: list[Link],
        start_time: int,
        tracer: PlatformTracer,
    ) -> None:
        # ReadableSpan's fields, set directly: its constructor builds a Resource when none is
        # given, and each property reads these.
        self._name = name
        self._context = self._span_context = context
        self._parent = parent
        self._kind = kind
        self._attributes = self._values = attributes
        self._events: list[Event] = []
        self._links = self._link_list = links
        self._start_time = start_time
        self._end_time: int | None = None
        self._status = Status(StatusCode.UNSET)
        self._resource = tracer.resource
        self._instrumentation_scope = tracer.scope
        self._instrumentation_info = None
        self._dropped_attributes = 0
        self._dropped_events = 0
        self._processors = tracer.processors

    @property
    def dropped_attributes(self) -> int:
        return self._dropped_attributes

    @property
    def dropped_events(self) -> int:
        return self._dropped_events

    @property
    def dropped_links(self) -> int:
        return 0

    def get_span_context(self) -> SpanContext:
        return self._span_context

    def is_recording(self) -> bool:
        return self._end_time is None

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None:
        if self._end_time is not None:
            return
        mine = self._values
        for key, value in attributes.items():
            self._set(mine, key, value)

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        if self._end_time is None:
            self._set(self._values, key, value)

    def _set(self, mine: dict[str, Any], key: str, value: Any) -> None:
        if value is None:
            return
        if type(value) is list:  # sequences are kept immutable, as the SDK keeps them
            value = tuple(value)
        if key in mine or len(mine) < MAX_ATTRIBUTES:
            mine[key] = value
        else:
            self._dropped_attributes += 1

    def add_event(
        self, name: str, attributes: Attributes = None, timestamp: int | None = None
    ) -> None:
        if self._end_time is not None:
            return
        if len(self._events) >= MAX_EVENTS:
            self._dropped_events += 1
            return
        kept = _bounded(attributes)
        self._events.append(Event(name, kept, timestamp or time_ns()))

    def add_link(self, context: SpanContext, attributes: Attributes = None) -> None:
        if self._end_time is None and context.is_valid:
            self._link_list.append(Link(context, _bounded(attributes)))

    def update_name(self, name: str) -> None:
        if self._end_time is None:
            self._name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        if self._end_time is not None or self._status.status_code is StatusCode.OK:
            return  # OK is final, as the specification has it
        if isinstance(status, Status):
            self._status = status
        else:
            self._status = Status(status, description if status is StatusCode.ERROR else None)

    def record_exception(
        self,
        exception: BaseException,
        attributes: Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        found: dict[str, Any] = {
            "exception.type": type(exception).__qualname__,
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        if attributes:
            found.update(attributes)
        self.add_event("exception", found, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self._end_time is not None:
            return
        self._end_time = end_time or time_ns()
        for processor in self._processors:
            processor.on_end(self)

    def __repr__(self) -> str:
        return f"PlatformSpan(name={self._name!r}, context={self._context!r})"


def _bounded(attributes: Attributes) -> dict[str, Any] | None:
    if not attributes:
        return None
    kept: dict[str, Any] = {}
    for key, value in attributes.items():
        if len(kept) >= MAX_ATTRIBUTES:
            break
        if value is not None:
            kept[key] = tuple(value) if type(value) is list else value
    return kept


class PlatformTracer(trace.Tracer):
    """Starts spans for one instrumentation scope of a :class:`PlatformTracerProvider`."""

    def __init__(self, provider: PlatformTracerProvider, scope: InstrumentationScope) -> None:
        self.resource = provider.resource
        self.scope = scope
        self.processors = provider.processors  # the provider's own list: added to later
        self._bound = provider.bound
        self._honour_incoming = provider.honour_incoming

    def _sampled(self, trace_id: int, parent: SpanContext | None) -> bool:
        if parent is not None and (not parent.is_remote or self._honour_incoming):
            return parent.trace_flags.sampled
        return (trace_id & _LOW_64) < self._bound

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace.Span:
        parent: SpanContext | None = _get_current_span(context).get_span_context()
        if parent is not None and parent.is_valid:
            trace_id = parent.trace_id
            trace_state = parent.trace_state
        else:
            parent = None
            trace_id = _trace_id()
            trace_state = None
        sampled = self._sampled(trace_id, parent)
        span_context = SpanContext(
            trace_id,
            _span_id(),
            is_remote=False,
            trace_flags=_SAMPLED if sampled else _NOT_SAMPLED,
            trace_state=trace_state,
        )
        if not sampled:
            return NonRecordingSpan(span_context)
        span = PlatformSpan(
            name,
            span_context,
            parent,
            kind,
            _bounded(attributes) or {},
            [link for link in links or () if link.context.is_valid],
            start_time or time_ns(),
            self,
        )
        for processor in self.processors:
            processor.on_start(cast("Span", span), parent_context=context)
        return span

    @contextmanager
    def start_as_current_span(  # type: ignore[override]
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[trace.Span]:
        span = self.start_span(name, context, kind, attributes, links, start_time)
        with trace.use_span(
            span,
            end_on_exit=end_on_exit,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        ) as current:
            yield current


class PlatformTracerProvider(trace.TracerProvider):
    """One process's tracers, their resource, sampling and span processors."""

    def __init__(
        self, resource: Resource, sampling_ratio: float = 1.0, honour_incoming: bool = False
    ) -> None:
        self.resource = resource
        self.bound = round(sampling_ratio * (_LOW_64 + 1))
        self.honour_incoming = honour_incoming
        self.processors: list[SpanProcessor] = []

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes = None,
    ) -> PlatformTracer:
        scope = InstrumentationScope(
            instrumenting_module_name, instrumenting_library_version, schema_url, attributes
        )
        return PlatformTracer(self, scope)

    def add_span_processor(self, processor: SpanProcessor) -> None:
        """Every span ended from now on also goes to ``processor``."""
        self.processors.append(processor)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return all(processor.force_flush(timeout_millis) for processor in self.processors)

    def shutdown(self) -> None:
        for processor in self.processors:
            processor.shutdown()
