"""JSON logs, one object a line, carrying the request id, the principal and the trace of
the request being served."""

from __future__ import annotations

import contextvars
import logging
import sys
from datetime import UTC, datetime
from typing import Any

import orjson
from opentelemetry import trace

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

principal_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "principal_id", default=None
)
"""The principal the request being served is for (set once the caller is known)."""

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_TRACEBACK = "Traceback (most recent call last)"


class JsonFormatter(logging.Formatter):
    """Never writes a traceback: an exception is logged by its type and message only, and a
    traceback a library put into its message is cut off."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage().split(_TRACEBACK, 1)[0].rstrip()
        moment = datetime.fromtimestamp(record.created, UTC)
        entry: dict[str, Any] = {
            "time": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": message,
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        principal_id = principal_id_var.get()
        if principal_id:
            entry["principal_id"] = principal_id
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            entry["trace_id"] = f"{span.trace_id:032x}"
            entry["span_id"] = f"{span.span_id:016x}"
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            entry["error"] = f"{type(error).__name__}: {error}"
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key != "color_message" and not key.startswith("_"):
                entry[key] = value
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    # One line per in-process call between services would drown the access log.
    logging.getLogger("httpx").setLevel(logging.WARNING)
