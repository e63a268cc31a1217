"""Request and answer of ``/llm/v1/rerank``: the Cohere shape, which LiteLLM and Jina speak.

A request names a rerank model, a query and the documents (strings, or objects with a
``text``); the answer lists ``results`` best first, each with the document's ``index`` in the
request, its ``relevance_score`` and (with ``return_documents``) the document itself, plus
``meta`` with the units billed and ``usage`` with the tokens read.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_DOCUMENTS = 1000


class RerankDocument(BaseModel):
    model_config = ConfigDict(extra="allow")

    text: str = Field(min_length=1)


class RerankRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1)
    query: str = Field(min_length=1, max_length=32_000)
    documents: list[str | RerankDocument] = Field(
        min_length=1, max_length=MAX_DOCUMENTS, description="Strings or objects with `text`."
    )
    top_n: int | None = Field(default=None, ge=1, description="How many results; default all.")
    return_documents: bool = False
    max_tokens_per_doc: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _no_empty_document(self) -> RerankRequest:
        if any(isinstance(d, str) and not d for d in self.documents):
            raise ValueError("documents must not contain empty strings")
        return self

    @property
    def texts(self) -> list[str]:
        return [d if isinstance(d, str) else d.text for d in self.documents]


class RerankResult(BaseModel):
    index: int = Field(description="The document's position in the request.")
    relevance_score: float
    document: RerankDocument | None = None


class RerankBilledUnits(BaseModel):
    search_units: int = 1


class RerankTokens(BaseModel):
    input_tokens: int


class RerankMeta(BaseModel):
    billed_units: RerankBilledUnits
    tokens: RerankTokens


class RerankUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class RerankResponse(BaseModel):
    object: Literal["rerank"] = "rerank"
    id: str
    model: str
    results: list[RerankResult]
    meta: RerankMeta
    usage: RerankUsage


class RerankScores(BaseModel):
    """What a rerank provider returns: one score per document, in the request's order."""

    scores: list[float]
    input_tokens: int
