"""LoCoMo conversations as the benchmark uses them, and the evidence-recall score.

A LoCoMo conversation has dated sessions of turns (``dia_id`` such as ``D3:7``) and questions
whose ``evidence`` names the turns that answer them. Category 5 (adversarial, no answer) is
left out, as are the two questions without evidence. A question scores the share of its
evidence turns found among the sources of the top 10 results; the figure is the mean.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

DATASET = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "locomo"
DEV_FILE = DATASET / "locomo-dev.json"
TUNING = ("conv-26", "conv-30", "conv-41")
"""The conversations the search parameters were tuned on; the others are held out."""


@dataclass(frozen=True, slots=True)
class Turn:
    dia_id: str
    speaker: str
    text: str
    when: datetime


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    evidence: frozenset[str]
    category: int


@dataclass(frozen=True)
class Conversation:
    sample_id: str
    sessions: list[list[Turn]]
    questions: list[Question]

    @property
    def turns(self) -> int:
        return sum(len(session) for session in self.sessions)


def _when(text: str) -> datetime:
    """'1:56 pm on 8 May, 2023' (LoCoMo's session dates carry no zone: read as UTC)."""
    return datetime.strptime(text, "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)


def _evidence(items: list[str]) -> frozenset[str]:
    """Evidence ids; a few items hold several ids ('D8:6; D9:17')."""
    return frozenset(part for item in items for part in re.split(r"[;,\s]+", item) if part)


def _sessions(conversation: dict[str, object]) -> list[list[Turn]]:
    sessions = []
    number = 1
    while f"session_{number}" in conversation:
        when = _when(str(conversation[f"session_{number}_date_time"]))
        raw = conversation[f"session_{number}"]
        assert isinstance(raw, list)
        sessions.append([Turn(t["dia_id"], t["speaker"], t["text"], when) for t in raw])
        number += 1
    return sessions


def load(path: Path = DEV_FILE, only: set[str] | None = None) -> list[Conversation]:
    found = []
    for item in json.loads(path.read_text()):
        if only and item["sample_id"] not in only:
            continue
        questions = [
            Question(q["question"], _evidence(q.get("evidence", [])), int(q["category"]))
            for q in item["qa"]
            if int(q["category"]) != 5
        ]
        found.append(
            Conversation(
                item["sample_id"],
                _sessions(item["conversation"]),
                [q for q in questions if q.evidence],
            )
        )
    return found


def coverage(question: Question, found: set[str]) -> float:
    """The share of the question's evidence turns among ``found``."""
    return len(question.evidence & found) / len(question.evidence)
