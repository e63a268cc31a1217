"""Long-term memory extraction: what the model is asked, and how its answer is judged.

One structured call per batch of new turns shows the model the turns (labelled ``T1``..)
and the owner's most related existing memories (``M1``..) and asks for operations: ``add``
a new self-contained memory, ``update`` an existing one with newer facts, or ``delete`` one
the conversation contradicts. The JSON schema sent as ``response_format`` enumerates the
labels, so a constrained decoder cannot invent a turn or a memory; the reply is still checked
here in full, and any violation rejects the whole reply (nothing stored, the error shown in
the session's extraction status). Only ``time`` is lenient: a date the model garbles is
dropped rather than failing the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any, Literal, get_args

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentic_platform.memory.index import turn_text
from agentic_platform.memory.models import MemoryRow, MessageRow
from agentic_platform.memory.schemas import MemoryType
from agentic_platform.memory.store import content_hash
from agentic_platform.search.lexical import Analyzer

MAX_MEMORY_CHARS = 200
MAX_OPERATIONS = 5
MAX_SOURCES = 4
MAX_OUTPUT_TOKENS = 640
"""Bounds of one reply: a small local model writes slowly (and pretty-prints its JSON), and a
reply cut off by the token limit is junk; these keep a full reply well inside the limit."""

SYSTEM_PROMPT = """\
You maintain long-term memories about a user from their conversations with an assistant.
Read the new turns and return operations on the memory list:
- "add": a new memory. One short self-contained sentence (at most 25 words) that makes \
sense without the conversation: name people instead of saying "he" or "I", and turn relative dates \
("yesterday") into absolute ones using the turn dates.
- "update": an existing memory (by its M label) that the new turns change; give the full \
new text. Newer facts win.
- "delete": an existing memory the new turns show to be wrong or obsolete.
Each operation has a type: preference (likes, dislikes, wishes), fact (about people, \
things, plans), event (something that happened, with its time) or instruction (how the user \
wants the assistant to behave). "time" is the ISO date (YYYY-MM-DD) the memory refers to, \
or null. "sources" lists the T labels of the turns it comes from.
Only keep what is worth remembering in a later conversation; skip greetings and small talk. \
Do not repeat a memory that already exists. Return {"operations": []} when nothing is new.

Example. New turns:
T1 [2024-05-02 10:00] Sam: Hi! How are you?
T2 [2024-05-02 10:01] Sam: I just adopted a puppy named Rex yesterday.
T3 [2024-05-02 10:02] Sam: Please always answer me in French.
Reply:
{"operations": [{"action": "add", "memory": null, "sources": ["T2"], "type": "event", \
"time": "2024-05-01", "text": "Sam adopted a puppy named Rex on 1 May 2024."}, \
{"action": "add", "memory": null, "sources": ["T3"], "type": "instruction", "time": null, \
"text": "Sam wants answers in French."}]}"""

TEXT_PATTERN = r"^[A-Z][A-Za-z'-]* [^\n]{8,}$"
"""Guides a constrained decoder to a sentence that starts with a name or a word (a small model
otherwise copies a turn with its "Name:" prefix, or writes just a turn label). Not checked on
the reply: a model that starts a good memory otherwise is not rejected for it."""


class ExtractionError(Exception):
    """The model's reply was not usable; the message says why (shown in the status)."""


@dataclass(frozen=True, slots=True)
class Operation:
    action: Literal["add", "update", "delete"]
    text: str
    type: str
    time: datetime | None
    sources: tuple[MessageRow, ...]
    target: MemoryRow | None = None


class _RawOperation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["add", "update", "delete"]
    memory: str | None = None
    text: str = Field(default="", max_length=MAX_MEMORY_CHARS)
    type: MemoryType = "fact"
    time: str | None = None
    sources: list[str] = Field(default_factory=list, max_length=MAX_SOURCES)


class _RawReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operations: list[_RawOperation] = Field(max_length=MAX_OPERATIONS)


@dataclass(frozen=True)
class Prompt:
    """The labelled turns and memories of one call, and how to read its answer."""

    context: Sequence[MessageRow]
    turns: Sequence[MessageRow]
    existing: Sequence[MemoryRow]

    @property
    def turn_labels(self) -> dict[str, MessageRow]:
        return {f"T{i}": turn for i, turn in enumerate([*self.context, *self.turns], start=1)}

    @property
    def memory_labels(self) -> dict[str, MemoryRow]:
        return {f"M{i}": row for i, row in enumerate(self.existing, start=1)}

    def messages(self) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": self._user_text()},
        ]

    def _user_text(self) -> str:
        labelled = list(self.turn_labels.items())
        earlier, new = labelled[: len(self.context)], labelled[len(self.context) :]
        lines = ["Existing memories:"]
        lines += [f"{label}: {row.text}" for label, row in self.memory_labels.items()] or ["(none)"]
        if earlier:
            lines += ["", "Earlier turns (context only):"]
            lines += [_turn_line(label, turn) for label, turn in earlier]
        lines += ["", "New turns:"]
        lines += [_turn_line(label, turn) for label, turn in new]
        return "\n".join(lines)

    def response_format(self) -> dict[str, Any]:
        """The reply's JSON schema. Each action is its own branch (``add`` names no memory,
        ``update``/``delete`` name an existing one), so a constrained decoder cannot write an
        operation that this class would reject; with no memories yet only ``add`` exists."""
        fields = {  # in writing order: the turns first, then what they say
            "sources": {
                "type": "array",
                "items": {"type": "string", "enum": list(self.turn_labels)},
                "minItems": 1,
                "maxItems": MAX_SOURCES,
            },
            "type": {"type": "string", "enum": list(get_args(MemoryType))},
            "time": {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]},
            "text": {"type": "string", "maxLength": MAX_MEMORY_CHARS, "pattern": TEXT_PATTERN},
        }
        branches = [_operation_schema(["add"], {"type": "null"}, fields)]
        if self.existing:
            labels = {"type": "string", "enum": list(self.memory_labels)}
            branches.append(_operation_schema(["update", "delete"], labels, fields))
        operation = branches[0] if len(branches) == 1 else {"anyOf": branches}
        schema = {
            "type": "object",
            "properties": {
                "operations": {"type": "array", "items": operation, "maxItems": MAX_OPERATIONS}
            },
            "required": ["operations"],
            "additionalProperties": False,
        }
        return {
            "type": "json_schema",
            "json_schema": {"name": "memory_operations", "schema": schema, "strict": True},
        }

    def parse(self, reply: str | None) -> list[Operation]:
        """The operations in the model's reply; raises :class:`ExtractionError` on junk."""
        if not reply or not reply.strip():
            raise ExtractionError("the model returned an empty reply")
        try:
            raw = _RawReply.model_validate(orjson.loads(reply))
        except orjson.JSONDecodeError as exc:
            raise ExtractionError(f"the model's reply is not JSON ({exc}): {reply[:200]}") from None
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(part) for part in first["loc"])
            raise ExtractionError(
                f"the model's reply does not fit: {where}: {first['msg']}"
            ) from None
        return _sensible([self._operation(i, item) for i, item in enumerate(raw.operations)])

    def _operation(self, index: int, item: _RawOperation) -> Operation:
        where = f"operation {index + 1}"
        target = None
        if item.action != "add":
            target = self.memory_labels.get(item.memory or "")
            if target is None:
                raise ExtractionError(f"{where}: '{item.action}' names no existing memory")
        text = " ".join(item.text.split())
        if item.action != "delete" and not text:
            raise ExtractionError(f"{where}: the memory text is empty")
        unknown = [label for label in item.sources if label not in self.turn_labels]
        if unknown:
            raise ExtractionError(f"{where}: unknown source turn(s) {', '.join(unknown)}")
        if item.action != "delete" and not item.sources:
            raise ExtractionError(f"{where}: a memory needs at least one source turn")
        sources = tuple(self.turn_labels[label] for label in dict.fromkeys(item.sources))
        return Operation(item.action, text, item.type, _time(item.time), sources, target)


def _operation_schema(
    actions: list[str], memory: dict[str, Any], fields: dict[str, Any]
) -> dict[str, Any]:
    properties = {"action": {"type": "string", "enum": actions}, "memory": memory, **fields}
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


KEPT_WORDS = 0.3
"""Share of a memory's words an update must keep to count as one (see :func:`_sensible`)."""
_ANALYZER = Analyzer()  # words as search sees them: stemmed, without stop words


def _sensible(operations: list[Operation]) -> list[Operation]:
    """What a valid reply means, without what small models get wrong inside valid JSON.

    * An operation that repeats a text already written by this reply (models loop) is dropped,
      and so are an update that changes nothing and a second operation on the same memory
      (the first one stands).
    * An ``update`` that keeps under :data:`KEPT_WORDS` of its memory's words is not a newer
      version of that fact but another fact: it is added, and the memory stays.
    """
    kept: list[Operation] = []
    texts: set[str] = set()
    targets: set[str] = set()
    for operation in operations:
        text = content_hash(operation.text)  # the store's notion of the same memory
        target = operation.target
        unchanged = (
            target is not None
            and operation.action == "update"
            and content_hash(target.text) == text
        )
        if unchanged or (operation.action != "delete" and text in texts):
            continue
        if target is not None and target.id in targets:
            continue
        if operation.action == "update" and _states_another_fact(operation):
            operation = replace(operation, action="add", target=None)
        texts.add(text)
        if operation.target is not None:
            targets.add(operation.target.id)
        kept.append(operation)
    return kept


def _states_another_fact(update: Operation) -> bool:
    if update.target is None:
        return False
    before, after = set(_ANALYZER.terms(update.target.text)), set(_ANALYZER.terms(update.text))
    return bool(before) and len(before & after) < KEPT_WORDS * len(before)


def _turn_line(label: str, turn: MessageRow) -> str:
    when = turn.occurred_at or turn.created_at
    return f"{label} [{when:%Y-%m-%d %H:%M}] {turn_text(turn)}"


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        try:
            day = date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
