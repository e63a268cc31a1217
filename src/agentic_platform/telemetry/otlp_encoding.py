"""Finished spans to the bytes of an OTLP ``ExportTraceServiceRequest``, written directly in
the protobuf wire format.

The OpenTelemetry exporter builds a protobuf message object per span, per attribute and per
value and then serialises them: about 35 µs a span here, on the exporter's thread, which holds
the interpreter lock the event loop needs. Most of what a gateway's spans carry repeats from
one request to the next (the resource, the scope, attribute keys, model names, routes), so
this writes each span once into bytes and keeps the encoding of what repeats: the resource
and scope once per process, an attribute's key and value once while it keeps coming back.
The output decodes to the same message as the SDK's encoder (tests compare the two).
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext

logger = logging.getLogger("agentic_platform.telemetry")

_CACHE_LIMIT = 8192
_IS_REMOTE_KNOWN = 0x100  # SpanFlags.SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK
_IS_REMOTE = 0x200  # SpanFlags.SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK
_FIXED64 = struct.Struct("<Q")
_FIXED32 = struct.Struct("<I")
_DOUBLE = struct.Struct("<d")
_SMALL = [bytes((n,)) for n in range(128)]
_SCALARS = frozenset({str, bool, int, float})
"""Attribute values whose encoding is kept (with their type: ``True == 1``), and tuples of
strings; anything else is encoded every time."""


def _varint(value: int) -> bytes:
    if value < 128:
        return _SMALL[value]
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: its tag byte(s), the length, the payload."""
    return tag + _varint(len(payload)) + payload


def _any_value(value: Any) -> bytes:
    """An ``AnyValue`` message, as the SDK's encoder maps Python values."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return _field(b"\x0a", value.encode())
    if isinstance(value, int):
        return b"\x18" + _varint(value & 0xFFFFFFFFFFFFFFFF)
    if isinstance(value, float):
        return b"\x21" + _DOUBLE.pack(value)
    if isinstance(value, bytes):
        return _field(b"\x3a", value)
    if isinstance(value, Sequence):
        return _field(b"\x2a", b"".join(_field(b"\x0a", _any_value(item)) for item in value))
    if isinstance(value, Mapping):
        pairs = b"".join(_field(b"\x0a", _key_value(str(k), v)) for k, v in value.items())
        return _field(b"\x32", pairs)
    raise TypeError(f"invalid attribute value type {type(value).__name__}")


def _key_value(key: str, value: Any) -> bytes:
    return _field(b"\x0a", key.encode()) + _field(b"\x12", _any_value(value))


class SpanEncoder:
    """Encodes batches of finished spans; one per exporter (it is not shared between
    threads, and its caches are its own)."""

    def __init__(self) -> None:
        self._attributes: dict[tuple[str, type, Any], bytes] = {}
        # By identity, holding the object so that its id is not reused while kept.
        self._resources: dict[int, tuple[Resource, bytes]] = {}
        self._scopes: dict[int, tuple[InstrumentationScope | None, bytes]] = {}

    def encode(self, spans: Sequence[ReadableSpan]) -> bytes:
        """The serialised ``ExportTraceServiceRequest`` for ``spans``."""
        # Grouped by identity: a provider's spans share its one Resource, a tracer's its one
        # scope, and Resource's own hash serialises its attributes to JSON on every call.
        grouped: dict[int, tuple[Resource, dict[int, tuple[Any, list[bytes]]]]] = {}
        for span in spans:
            resource = span.resource
            _, scopes = grouped.setdefault(id(resource), (resource, {}))
            scope = span.instrumentation_scope or None
            scopes.setdefault(id(scope), (scope, []))[1].append(self._span(span))
        out = []
        for resource, scopes in grouped.values():
            parts = [self._resource(resource)]
            for scope, encoded in scopes.values():
                body = self._scope(scope) + b"".join(_field(b"\x12", e) for e in encoded)
                if scope is not None and scope.schema_url:
                    body += _field(b"\x1a", scope.schema_url.encode())
                parts.append(_field(b"\x12", body))
            if resource.schema_url:
                parts.append(_field(b"\x1a", resource.schema_url.encode()))
            out.append(_field(b"\x0a", b"".join(parts)))
        return b"".join(out)

    def _resource(self, resource: Resource) -> bytes:
        kept = self._resources.get(id(resource))
        if kept is not None and kept[0] is resource:
            return kept[1]
        found = _field(b"\x0a", self._attribute_list(resource.attributes, b"\x0a"))
        self._resources[id(resource)] = (resource, found)
        return found

    def _scope(self, scope: InstrumentationScope | None) -> bytes:
        kept = self._scopes.get(id(scope))
        if kept is not None and kept[0] is scope:
            return kept[1]
        body = b""
        if scope is not None:
            if scope.name:
                body += _field(b"\x0a", scope.name.encode())
            if scope.version:
                body += _field(b"\x12", scope.version.encode())
            body += self._attribute_list(scope.attributes, b"\x1a")
        found = _field(b"\x0a", body)
        self._scopes[id(scope)] = (scope, found)
        return found

    def _attribute_list(self, attributes: Mapping[str, Any] | None, tag: bytes) -> bytes:
        if not attributes:
            return b""
        cache = self._attributes
        parts = []
        # The SDK's BoundedAttributes is a MutableMapping over a plain dict: iterating the
        # dict itself saves the abstract mapping's per-item overhead.
        plain: Mapping[str, Any] = getattr(attributes, "_dict", attributes)
        for key, value in plain.items():
            kind = type(value)
            hashable = kind in _SCALARS or (kind is tuple and all(type(v) is str for v in value))
            if hashable:
                found = cache.get((key, type(value), value))
                if found is not None:
                    parts.append(found)
                    continue
            try:
                encoded = _field(tag, _key_value(key, value))
            except (TypeError, ValueError, UnicodeError) as error:
                logger.warning("span attribute %s left out: %s", key, error)
                continue
            if hashable:
                if len(cache) >= _CACHE_LIMIT:
                    cache.clear()
                cache[(key, type(value), value)] = encoded
            parts.append(encoded)
        return b"".join(parts)

    def _span(self, span: ReadableSpan) -> bytes:
        context = span.get_span_context()
        assert context is not None
        parts = [
            b"\x0a\x10" + context.trace_id.to_bytes(16, "big"),
            b"\x12\x08" + context.span_id.to_bytes(8, "big"),
        ]
        if context.trace_state:
            state = ",".join(f"{key}={value}" for key, value in context.trace_state.items())
            parts.append(_field(b"\x1a", state.encode()))
        parent = span.parent
        if parent is not None:
            parts.append(b"\x22\x08" + parent.span_id.to_bytes(8, "big"))
        if span.name:
            parts.append(_field(b"\x2a", span.name.encode()))
        parts.append(b"\x30" + _varint(span.kind.value + 1))  # OTLP counts from UNSPECIFIED
        if span.start_time:
            parts.append(b"\x39" + _FIXED64.pack(span.start_time))
        if span.end_time:
            parts.append(b"\x41" + _FIXED64.pack(span.end_time))
        parts.append(self._attribute_list(span.attributes, b"\x4a"))
        if span.dropped_attributes:
            parts.append(b"\x50" + _varint(span.dropped_attributes))
        for event in span.events:
            body = b""
            if event.timestamp:
                body += b"\x09" + _FIXED64.pack(event.timestamp)
            if event.name:
                body += _field(b"\x12", event.name.encode())
            body += self._attribute_list(event.attributes, b"\x1a")
            if event.dropped_attributes:
                body += b"\x20" + _varint(event.dropped_attributes)
            parts.append(_field(b"\x5a", body))
        if span.dropped_events:
            parts.append(b"\x60" + _varint(span.dropped_events))
        for link in span.links:
            body = b"\x0a\x10" + link.context.trace_id.to_bytes(16, "big")
            body += b"\x12\x08" + link.context.span_id.to_bytes(8, "big")
            body += self._attribute_list(link.attributes, b"\x22")
            if link.dropped_attributes:
                body += b"\x28" + _varint(link.dropped_attributes)
            body += b"\x35" + _FIXED32.pack(_flags(link.context))
            parts.append(_field(b"\x6a", body))
        if span.dropped_links:
            parts.append(b"\x70" + _varint(span.dropped_links))
        status = span.status
        body = _field(b"\x12", status.description.encode()) if status.description else b""
        if status.status_code.value:
            body += b"\x18" + _varint(status.status_code.value)
        parts.append(_field(b"\x7a", body))
        parts.append(b"\x85\x01" + _FIXED32.pack(_flags(parent)))
        return b"".join(parts)


def _flags(parent: SpanContext | None) -> int:
    if parent is not None and parent.is_remote:
        return _IS_REMOTE_KNOWN | _IS_REMOTE
    return _IS_REMOTE_KNOWN
