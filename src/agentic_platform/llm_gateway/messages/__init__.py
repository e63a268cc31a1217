"""The Anthropic Messages API (``/llm/v1/messages``) over every model of the catalog.

Requests are translated to the gateway's canonical chat request (:mod:`.translate`), run
through the same gateway and metering as ``/chat/completions`` (:mod:`.router`), and the
answer is translated back, streamed as Anthropic's server-sent events by :mod:`.stream`."""
