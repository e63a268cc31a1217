"""A fake OpenAI-compatible upstream that is never the bottleneck.

It is a raw asyncio ``Protocol`` on uvloop speaking just enough HTTP/1.1 (keep-alive,
``Content-Length`` bodies) to answer ``POST .../chat/completions`` with a canned
``chat.completion``, or, when the body asks for ``"stream": true``, with a canned
server-sent-events stream (chunked encoding, so the connection is reused). No framework, no
JSON parsing: a byte search decides streaming and usage, so one core serves tens of thousands
of requests a second and the gateway and LiteLLM are measured, not this.

Run it in its own process: ``python -m bench.gateway.upstream --port 9000``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
from typing import cast

import orjson

from bench.gateway import aio

_STREAM = re.compile(rb'"stream"\s*:\s*true')
_INCLUDE_USAGE = re.compile(rb'"include_usage"\s*:\s*true')
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)
_CLOSE = re.compile(rb"\r\nconnection:\s*close", re.IGNORECASE)

_CREATED = 1_767_225_600
_USAGE = {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21}
_WORDS = ["Hello", "!", " How", " can", " I", " help", " you", " today", "?"]


def _completion() -> bytes:
    return orjson.dumps(
        {
            "id": "chatcmpl-bench0000000000000000000000",
            "object": "chat.completion",
            "created": _CREATED,
            "model": "fake",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "".join(_WORDS)},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": _USAGE,
            "system_fingerprint": "fp_bench",
        }
    )


def _chunk(delta: dict[str, str], finish: str | None = None) -> dict[str, object]:
    return {
        "id": "chatcmpl-bench0000000000000000000000",
        "object": "chat.completion.chunk",
        "created": _CREATED,
        "model": "fake",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }


def _events(include_usage: bool) -> bytes:
    chunks = [_chunk({"role": "assistant", "content": ""})]
    chunks += [_chunk({"content": word}) for word in _WORDS]
    chunks.append(_chunk({}, "stop"))
    if include_usage:
        usage = _chunk({})
        usage["choices"] = []
        usage["usage"] = _USAGE
        chunks.append(usage)
    events = b"".join(b"data: " + orjson.dumps(chunk) + b"\n\n" for chunk in chunks)
    return events + b"data: [DONE]\n\n"


def _chunked(payload: bytes) -> bytes:
    return f"{len(payload):x}\r\n".encode() + payload + b"\r\n0\r\n\r\n"


_JSON_BODY = _completion()
_JSON_RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
    + f"content-length: {len(_JSON_BODY)}\r\n\r\n".encode()
    + _JSON_BODY
)
_SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
    b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
)
# The first event goes out alone (a real model's first token precedes the rest); the others
# follow in a second write, so time-to-first-token is measured on a genuine first event.
_SSE_FIRST = {flag: _events(flag).split(b"\n\n", 1)[0] + b"\n\n" for flag in (False, True)}
_SSE_REST = {flag: _events(flag)[len(_SSE_FIRST[flag]) :] for flag in (False, True)}
_SSE_RESPONSE = {
    flag: (
        _SSE_HEAD + f"{len(_SSE_FIRST[flag]):x}\r\n".encode() + _SSE_FIRST[flag] + b"\r\n",
        _chunked(_SSE_REST[flag]),
    )
    for flag in (False, True)
}
_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"


class FakeUpstream(asyncio.Protocol):
    """One connection: parse requests from the buffer as they complete, answer each one."""

    __slots__ = ("_buffer", "_transport")

    def __init__(self) -> None:
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        while True:
            head_end = buffer.find(b"\r\n\r\n")
            if head_end < 0:
                break
            head = buffer[:head_end]
            match = _CONTENT_LENGTH.search(head)
            length = int(match.group(1)) if match else 0
            end = head_end + 4 + length
            if len(buffer) < end:
                break
            body = buffer[head_end + 4 : end]
            buffer = buffer[end:]
            self._answer(head, body)
        self._buffer = buffer

    def _answer(self, head: bytes, body: bytes) -> None:
        transport = self._transport
        assert transport is not None
        if b"/chat/completions" not in head.split(b"\r\n", 1)[0]:
            transport.write(_NOT_FOUND)
        elif _STREAM.search(body):
            first, rest = _SSE_RESPONSE[bool(_INCLUDE_USAGE.search(body))]
            transport.write(first)
            transport.write(rest)
        else:
            transport.write(_JSON_RESPONSE)
        if _CLOSE.search(head):
            transport.close()


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(FakeUpstream, host, port, backlog=4096, reuse_address=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        aio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
