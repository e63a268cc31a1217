"""OTLP/HTTP span export with the lean encoder of :mod:`.otlp_encoding`.

Does what the OpenTelemetry OTLP/HTTP exporter does for the platform's use (protobuf over
HTTP/1.1 with keep-alive, the configured headers, one timeout per export), on the
``BatchSpanProcessor``'s thread. A batch the collector refuses or that cannot be delivered
within the timeout is dropped and logged; a connection the collector closed while idle is
reopened once at once.
"""

from __future__ import annotations

import http.client
import logging
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from agentic_platform.telemetry.otlp_encoding import SpanEncoder

logger = logging.getLogger("agentic_platform.telemetry")


class OtlpHttpSpanExporter(SpanExporter):
    """Sends batches of spans to ``endpoint`` (the full URL, ``.../v1/traces``)."""

    def __init__(self, endpoint: str, headers: Mapping[str, str], timeout: float) -> None:
        url = urlsplit(endpoint)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"not an http(s) URL: {endpoint}")
        self._https = url.scheme == "https"
        self._host = url.hostname
        self._port = url.port
        self._path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        self._headers = {**headers, "Content-Type": "application/x-protobuf"}
        self._timeout = timeout
        self._encoder = SpanEncoder()
        self._connection: http.client.HTTPConnection | None = None
        self._shutdown = False

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._connection = kind(self._host, self._port, timeout=self._timeout)
        return self._connection

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _post(self, body: bytes) -> int:
        connection = self._connect()
        connection.request("POST", self._path, body=body, headers=self._headers)
        response = connection.getresponse()
        response.read()
        if response.will_close:
            self._close()
        return response.status

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shutdown:
            return SpanExportResult.FAILURE
        body = self._encoder.encode(spans)
        try:
            try:
                status = self._post(body)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self._close()  # a kept-alive connection the collector dropped: once more
                status = self._post(body)
        except (OSError, http.client.HTTPException) as error:
            self._close()
            logger.warning("span export to %s failed: %s", self._host, error)
            return SpanExportResult.FAILURE
        if not 200 <= status < 300:
            logger.warning("span export to %s refused: HTTP %s", self._host, status)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._shutdown = True
        self._close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
