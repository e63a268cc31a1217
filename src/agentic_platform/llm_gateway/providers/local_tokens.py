"""Counting a prompt's tokens with the local model's own chat template and tokenizer.

llama.cpp's embedded listener (locked with the provider's private key) renders the messages
with the model's template (``/apply-template``) and tokenizes the result (``/tokenize``), so
the count is the ``prompt_tokens`` the same request reports when it runs."""

from __future__ import annotations

from typing import Any

import httpx

from agentic_platform.errors import UpstreamUnavailableError


async def count_template_tokens(base_url: str, key: str, messages: list[dict[str, Any]]) -> int:
    headers = {"Authorization": f"Bearer {key}"}
    try:
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as http:
            rendered = await http.post("/apply-template", json={"messages": messages})
            rendered.raise_for_status()
            tokens = await http.post(
                "/tokenize",
                json={
                    "content": rendered.json()["prompt"],
                    "add_special": True,
                    "parse_special": True,
                },
            )
            tokens.raise_for_status()
            return len(tokens.json()["tokens"])
    except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
        raise UpstreamUnavailableError("the local model could not count the tokens") from exc
