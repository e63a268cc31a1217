"""The ``anthropic`` provider: Claude models through the Anthropic Messages API
(``POST {api_base}/v1/messages``, ``api_base`` defaulting to https://api.anthropic.com).

Requests are translated from the canonical OpenAI shape (see ``anthropic_wire``):

* system and developer messages, wherever they appear, become the top-level ``system``
  text (joined by blank lines), since Anthropic has no system role;
* user images: ``data:...;base64,`` URLs become base64 image sources, http(s) URLs become URL
  sources; other URLs are refused with ``UnsupportedFeatureError``;
* assistant ``tool_calls`` become ``tool_use`` blocks (arguments parsed into ``input``; an
  argument string that is not a JSON object is refused), and ``tool`` messages become
  ``tool_result`` blocks of a user message; same-role neighbours are merged into one message
  because Anthropic requires alternating roles;
* ``tools`` become ``{name, description, input_schema}``; ``tool_choice`` auto / none /
  required / a named function become ``auto`` / ``none`` / ``any`` / ``tool``, and
  ``parallel_tool_calls: false`` sets ``disable_parallel_tool_use``;
* ``max_tokens`` is required by Anthropic: the caller's ``max_completion_tokens`` /
  ``max_tokens``, else the deployment option ``default_max_tokens`` (4096);
* ``temperature`` is capped at 1.0 (Anthropic's maximum) so requests written for OpenAI's
  0..2 range still run; ``top_p`` passes through, ``stop`` becomes ``stop_sequences`` and
  ``user`` becomes ``metadata.user_id``. ``seed``, the penalties and unknown OpenAI fields
  have no Anthropic equivalent and are dropped.

``response_format`` (``json_schema`` or ``json_object``) is *emulated*: Anthropic has no JSON
mode, so the request gets a single tool named after the schema (``json_response`` for
``json_object``) whose ``input_schema`` is the schema, and ``tool_choice`` forces that tool.
The tool's input is returned as the message ``content`` (a JSON string), with
``finish_reason`` ``stop`` rather than ``tool_calls``, streamed as content deltas too.
Combining ``response_format`` with the caller's own ``tools`` is refused with
``UnsupportedFeatureError``, because the forced tool would stop the model calling them.

Responses come back as OpenAI shapes: text blocks join into ``content``, ``tool_use`` blocks
become ``tool_calls``, ``stop_reason`` maps end_turn / stop_sequence → ``stop``, max_tokens →
``length``, tool_use → ``tool_calls``, refusal → ``content_filter``. Usage follows OpenAI's
convention that ``prompt_tokens`` includes cached tokens: it is ``input_tokens`` plus cache
reads and cache writes, with cache reads also reported as ``cached_tokens``. Thinking blocks
are not returned. Anthropic serves no embeddings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import orjson
from pydantic import ValidationError
from yarl import URL

from agentic_platform.llm_gateway.catalog import Deployment
from agentic_platform.llm_gateway.providers.anthropic_wire import (
    StreamTranslator,
    to_completion,
    to_messages_body,
)
from agentic_platform.llm_gateway.providers.base import upstream_model
from agentic_platform.llm_gateway.providers.http_upstream import HTTPUpstream
from agentic_platform.llm_gateway.schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
)

DEFAULT_API_BASE = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"
_UNREADABLE = (KeyError, TypeError, AttributeError, ValidationError)


def messages_url(api_base: str | None) -> URL:
    """The Messages endpoint; a base that already ends in ``/v1`` is accepted too."""
    base = (api_base or DEFAULT_API_BASE).rstrip("/")
    return URL(f"{base}/messages" if base.endswith("/v1") else f"{base}/v1/messages")


class AnthropicProvider:
    """Chat against one Anthropic deployment; see the module docstring for the translation."""

    def __init__(self, deployment: Deployment) -> None:
        key = deployment.resolve_api_key()
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if key:
            headers["x-api-key"] = key
        self._http = HTTPUpstream(deployment, headers=headers, secret=key)
        self._url = messages_url(deployment.api_base)
        self._model = deployment.model
        self._max_tokens = int(deployment.options.get("default_max_tokens", 4096))

    def _body(self, request: ChatCompletionRequest) -> tuple[dict[str, Any], str | None]:
        model = upstream_model(self._model, request)
        return to_messages_body(request, model=model, default_max_tokens=self._max_tokens)

    async def complete(self, request: ChatCompletionRequest) -> ChatCompletion:
        """One whole answer, translated to a chat completion with usage."""
        body, json_tool = self._body(request)
        data = await self._http.post_json(self._url, orjson.dumps(body))
        try:
            return to_completion(data, json_tool=json_tool)
        except _UNREADABLE as exc:
            raise self._http.unreadable() from exc

    async def stream(self, request: ChatCompletionRequest) -> AsyncIterator[ChatCompletionChunk]:
        """Anthropic's events as OpenAI chunks (role first, usage last). An ``error`` event,
        or a stream that ends before ``message_stop``, is raised as an UpstreamError; stopping
        early closes the upstream connection."""
        body, json_tool = self._body(request)
        body["stream"] = True
        translator = StreamTranslator(
            model=upstream_model(self._model, request), json_tool=json_tool
        )
        events = self._http.post_events(self._url, orjson.dumps(body))
        async with aclosing(events):
            async for data in events:
                event = self._http.decode(data)
                if not isinstance(event, dict):
                    raise self._http.unreadable()
                if event.get("type") == "error":
                    raise self._http.event_error(event.get("error"))
                try:
                    chunks = translator.feed(event)
                except _UNREADABLE as exc:
                    raise self._http.unreadable() from exc
                for chunk in chunks:
                    yield chunk
        if not translator.finished:
            raise self._http.cut_short()

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._http.aclose()


def chat_provider(deployment: Deployment) -> AnthropicProvider:
    return AnthropicProvider(deployment)
