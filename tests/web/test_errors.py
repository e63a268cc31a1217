"""An error nothing handled is a clean 500 in the error envelope, and the connection it came
on stays open for the client's next request."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import orjson
import pytest
from fastapi import FastAPI

from agentic_platform.logs import JsonFormatter
from agentic_platform.testing.server import serve_in_thread
from agentic_platform.web.errors import install_error_handlers
from agentic_platform.web.middleware import RequestContextMiddleware

SECRET = "db password is hunter2"


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/broken")
    async def broken() -> dict[str, str]:
        raise RuntimeError(SECRET)

    @app.get("/fine")
    async def fine() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(RequestContextMiddleware, max_body_bytes=1024, log_requests=False)
    return app


class _Lines(logging.Handler):
    """Formats records as the platform's log does, at the moment they are written."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    handler = _Lines()
    logger = logging.getLogger("agentic_platform.http")
    logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)


def _local_port(response: httpx.Response) -> int:
    stream = response.extensions["network_stream"]
    port: int = stream.get_extra_info("client_addr")[1]
    return port


def test_an_unhandled_error_is_a_500_and_the_connection_stays_usable(
    log_lines: list[str],
) -> None:
    with serve_in_thread(_app()) as url, httpx.Client(base_url=url) as client:
        failed = client.get("/broken")
        first_port = _local_port(failed)
        after = client.get("/fine")
        assert _local_port(after) == first_port  # the same connection
    assert failed.status_code == 500
    assert failed.headers["content-type"] == "application/json"
    assert failed.headers.get("connection", "").lower() != "close"
    assert failed.json() == {
        "error": {
            "message": "The server failed to handle the request.",
            "type": "server_error",
            "param": None,
            "code": "server_error",
        }
    }
    assert after.status_code == 200 and after.json() == {"status": "ok"}
    logged = [orjson.loads(line) for line in log_lines]
    assert [entry["message"] for entry in logged] == ["unhandled error"]
    assert logged[0]["request_id"] == failed.headers["x-request-id"]
    assert logged[0]["error"] == f"RuntimeError: {SECRET}"
    assert "Traceback" not in log_lines[0]
    assert SECRET not in failed.text
