"""Scripted extraction models for the memory gateway: deterministic, instant, offline.

``extraction_reply`` reads the extraction prompt the way a real model would (existing
memories ``M1``.., new turns ``T1``..) and answers with operations by simple rules:

* "I like / love / prefer X"  -> add the preference "<speaker> likes X";
* "I live in X"               -> update the memory that says where the speaker lives, or add it;
* "I no longer like X"        -> delete the memory that mentions X;
* "Please always / never X"   -> add the instruction "<speaker> wants the assistant to ...";
* anything else               -> nothing.

``junk_reply`` answers with text that is not JSON, to exercise the failure path.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agentic_platform.llm_gateway.catalog import Deployment, ModelEntry
from agentic_platform.llm_gateway.schemas import ChatCompletionRequest, UserMessage, message_text

_MEMORY = re.compile(r"^(M\d+): (.*)$")
_TURN = re.compile(r"^(T\d+) \[(\d{4}-\d{2}-\d{2})[^\]]*\] ([^:]+): (.*)$")
_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bi no longer like ([^.!?]+)", re.I), "forget"),
    (re.compile(r"\bi live in ([^.!?,]+)", re.I), "lives"),
    (re.compile(r"\bi (?:like|love|prefer) ([^.!?]+)", re.I), "likes"),
    (re.compile(r"\bplease ((?:always|never) [^.!?]+)", re.I), "instruction"),
]


def _sections(prompt: str) -> tuple[dict[str, str], list[tuple[str, str, str, str]]]:
    memories: dict[str, str] = {}
    turns: list[tuple[str, str, str, str]] = []
    new_turns = False
    for line in prompt.splitlines():
        if line.startswith("New turns:"):
            new_turns = True
        elif (memory := _MEMORY.match(line)) is not None:
            memories[memory.group(1)] = memory.group(2)
        elif new_turns and (turn := _TURN.match(line)) is not None:
            label, day, speaker, text = turn.groups()
            turns.append((label, day, speaker, text))
    return memories, turns


def _operation(
    rule: str, value: str, speaker: str, label: str, day: str, memories: dict[str, str]
) -> dict[str, Any] | None:
    value = value.strip()
    base = {"memory": None, "time": None, "sources": [label]}
    if rule == "forget":
        target = next((m for m, text in memories.items() if value.lower() in text.lower()), None)
        if target is None:
            return None
        return {**base, "action": "delete", "memory": target, "text": "", "type": "preference"}
    if rule == "lives":
        text = f"{speaker} lives in {value}"
        target = next((m for m, t in memories.items() if " lives in " in t), None)
        action = "update" if target else "add"
        return {**base, "action": action, "memory": target, "text": text, "type": "fact"}
    if rule == "likes":
        return {**base, "action": "add", "text": f"{speaker} likes {value}", "type": "preference"}
    return {
        **base,
        "action": "add",
        "text": f"{speaker} wants the assistant to {value}",
        "type": "instruction",
        "time": day,
    }


def extraction_reply(request: ChatCompletionRequest) -> str:
    """Operations for the new turns of an extraction prompt; see the module docstring."""
    prompt = next(
        (message_text(m.content) for m in reversed(request.messages) if isinstance(m, UserMessage)),
        "",
    )
    memories, turns = _sections(prompt)
    operations = []
    for label, day, speaker, text in turns:
        for pattern, rule in _RULES:
            match = pattern.search(text)
            if match is not None:
                found = _operation(rule, match.group(1), speaker, label, day, memories)
                if found is not None:
                    operations.append(found)
                break
    return json.dumps({"operations": operations})


def junk_reply(request: ChatCompletionRequest) -> str:
    del request
    return "Sure! Here are the memories: the user likes pizza."


def memory_models() -> list[ModelEntry]:
    """Catalog entries for the scripted extractors: ``memory-extractor`` and ``memory-junk``."""
    capabilities: Any = {"chat", "json_schema"}
    return [
        ModelEntry(
            alias=alias,
            capabilities=capabilities,
            deployments=[
                Deployment(
                    provider="test",
                    model=alias,
                    options={"function": f"agentic_platform.testing.memory:{function}"},
                )
            ],
        )
        for alias, function in (
            ("memory-extractor", "extraction_reply"),
            ("memory-junk", "junk_reply"),
        )
    ]
