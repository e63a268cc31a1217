"""How a valid extraction reply is read: repeats dropped, an update that states another fact
kept as a new memory (the existing one stays)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from agentic_platform.memory.extraction import Prompt
from agentic_platform.memory.models import MemoryRow, MessageRow

NOW = datetime(2024, 5, 2, 10, tzinfo=UTC)


def _prompt(*memories: str) -> Prompt:
    turns = [
        MessageRow(id=f"msg_{i}", position=i, role="user", name="Sam", content=f"turn {i}")
        for i in range(1, 4)
    ]
    for turn in turns:
        turn.created_at = NOW
    existing = [MemoryRow(id=f"mem_{i}", text=text) for i, text in enumerate(memories, start=1)]
    return Prompt([], turns, existing)


def _reply(*operations: tuple[str, str | None, str]) -> str:
    return orjson.dumps(
        {
            "operations": [
                {"action": action, "memory": memory, "sources": ["T1"], "type": "fact",
                 "time": None, "text": text}
                for action, memory, text in operations
            ]
        }
    ).decode()  # fmt: skip


def test_repeated_operations_are_dropped() -> None:
    prompt = _prompt("Sam lives in Oslo.", "Sam likes jazz.")
    operations = prompt.parse(
        _reply(
            ("add", None, "Sam adopted a puppy named Rex."),
            ("add", None, "Sam adopted a puppy named Rex"),  # the same text again
            ("update", "M1", "Sam lives in Bergen since April 2024."),
            ("update", "M2", "Sam adopted a puppy named Rex."),  # a text already written
            ("update", "M2", "Sam likes jazz"),  # changes nothing
        )
    )
    assert [(o.action, o.text) for o in operations] == [
        ("add", "Sam adopted a puppy named Rex."),
        ("update", "Sam lives in Bergen since April 2024."),
    ]
    assert operations[1].target is not None and operations[1].target.id == "mem_1"
    twice = prompt.parse(
        _reply(
            ("update", "M1", "Sam lives in Bergen since April 2024."),
            ("update", "M1", "Sam lives in Bergen."),  # the same memory again
        )
    )
    assert [o.text for o in twice] == ["Sam lives in Bergen since April 2024."]


def test_an_update_that_states_another_fact_is_added_instead() -> None:
    prompt = _prompt("Gina got a picture from a dance competition last year.")
    [operation] = prompt.parse(_reply(("update", "M1", "Jon lost his job as a banker.")))
    assert operation.action == "add" and operation.target is None
    [kept] = prompt.parse(
        _reply(("update", "M1", "Gina got a second picture from a dance competition."))
    )
    assert kept.action == "update" and kept.target is not None
