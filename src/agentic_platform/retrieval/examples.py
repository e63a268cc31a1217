"""Example bodies of the retrieval routes, shown in the OpenAPI document."""

from __future__ import annotations

from typing import Any

KNOWLEDGE_BASE: dict[str, Any] = {
    "name": "handbook",
    "description": "The employee handbook.",
    "chunking": {"chunk_tokens": 300, "overlap_tokens": 40},
}
INGEST: dict[str, Any] = {
    "documents": [
        {
            "id": "leave-policy",
            "title": "Leave policy",
            "text": "Every employee has 25 days of paid leave a year.",
            "metadata": {"section": "hr"},
        }
    ]
}
RETRIEVE: dict[str, Any] = {
    "query": "how many days of leave?",
    "top_k": 5,
    "filter": {"and": [{"field": "section", "op": "eq", "value": "hr"}]},
}
RETRIEVE_MANY: dict[str, Any] = {**RETRIEVE, "knowledge_bases": ["handbook"]}
