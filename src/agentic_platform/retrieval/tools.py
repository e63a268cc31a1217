"""``search_knowledge_base``: the tool agents use to answer from a team's documents.

The tool is a plain object: its OpenAI-style definition (name, description, JSON-schema
parameters) for the model, and an async call that runs the search through a
:class:`~agentic_platform.retrieval.client.RetrievalClient` (acting for the agent's user) and
returns a compact JSON text the model can cite: by default the best distinct documents
(each with its best passage, and the chunks around it when ``neighbours`` is set), with
document id, title, source, location and score, best first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from agentic_platform.retrieval.client import RetrievalClient
from agentic_platform.retrieval.schemas import RetrievedChunk, RetrievedDocument

NAME = "search_knowledge_base"


def _document(document: RetrievedDocument) -> dict[str, Any]:
    """A document for the model: its best passages (with the chunks around them, in
    document order, when asked for), id, title, source and score."""
    hit: dict[str, Any] = {"document_id": document.id, "score": round(document.score, 4)}
    if document.title:
        hit["title"] = document.title
    if document.source:
        hit["source"] = document.source
    pieces = [(p.position or 0, p.text) for p in document.passages]
    pieces += [(n.position, n.text) for n in document.neighbours]
    if document.neighbours:
        pieces.sort(key=lambda piece: piece[0])
    hit["text"] = "\n…\n".join(text for _, text in pieces) if len(pieces) > 1 else pieces[0][1]
    location = document.passages[0].location
    if location:
        hit["location"] = location
    if document.metadata:
        hit["metadata"] = document.metadata
    return hit


def _hit(chunk: RetrievedChunk) -> dict[str, Any]:
    hit: dict[str, Any] = {
        "text": chunk.text,
        "document_id": chunk.document_id,
        "score": round(chunk.score, 4),
    }
    if chunk.title:
        hit["title"] = chunk.title
    if chunk.location:
        hit["location"] = chunk.location
    if chunk.metadata:
        hit["metadata"] = chunk.metadata
    return hit


class KnowledgeBaseSearchTool:
    """Searches the knowledge bases an agent was given (the model may narrow to one)."""

    name = NAME

    def __init__(
        self,
        client: RetrievalClient,
        knowledge_bases: Sequence[str],
        *,
        top_k: int = 5,
        description: str | None = None,
        group_by: str = "document",
        neighbours: int = 0,
    ) -> None:
        if not knowledge_bases:
            raise ValueError("the tool needs at least one knowledge base")
        self._client = client
        self.knowledge_bases = list(knowledge_bases)
        self.top_k = top_k
        self.group_by = group_by
        self.neighbours = neighbours
        self.description = description or (
            "Search the team's documents and return the most relevant passages, with where "
            "they come from. Use it before answering questions about these documents."
        )

    def parameters(self) -> dict[str, Any]:
        """The JSON schema of the call's arguments."""
        properties: dict[str, Any] = {
            "query": {"type": "string", "description": "What to look for, in plain words."},
            "top_k": {
                "type": "integer",
                "minimum": 1,
                "maximum": 50,
                "description": f"How many results to return (default {self.top_k}).",
            },
            "filter": {
                "type": "object",
                "description": 'Optional metadata filter, e.g. {"field": "year", "op": "gte", '
                '"value": 2024}; combine with {"and": [...]} or {"or": [...]}.',
            },
        }
        if len(self.knowledge_bases) > 1:
            properties["knowledge_base"] = {
                "type": "string",
                "enum": self.knowledge_bases,
                "description": "Search only this knowledge base (default: all of them).",
            }
        return {"type": "object", "properties": properties, "required": ["query"]}

    def definition(self) -> dict[str, Any]:
        """The tool as a chat-completions ``tools`` entry."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters(),
            },
        }

    async def __call__(
        self,
        query: str,
        top_k: int | None = None,
        filter: dict[str, Any] | None = None,
        knowledge_base: str | None = None,
    ) -> str:
        """Run the search; the result is JSON text for the model."""
        if knowledge_base is not None and knowledge_base not in self.knowledge_bases:
            return orjson.dumps({"error": f"unknown knowledge base '{knowledge_base}'"}).decode()
        target: str | list[str] = knowledge_base or (
            self.knowledge_bases[0] if len(self.knowledge_bases) == 1 else self.knowledge_bases
        )
        response = await self._client.retrieve(
            target,
            query,
            top_k=top_k or self.top_k,
            filter=filter,
            group_by=self.group_by,
            neighbours=self.neighbours or None,
        )
        if response.documents is not None:
            results = [_document(document) for document in response.documents]
        else:
            results = [_hit(chunk) for chunk in response.data]
        return orjson.dumps({"results": results}).decode()
