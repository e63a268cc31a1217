"""Helpers for retrieval tests: settings with the scripted ``test-embed`` embedding model as
the knowledge bases' default, and HTTP callers for the admin and for other teams."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
from pydantic import SecretStr

from agentic_platform.llm_gateway.catalog import ModelEntry
from agentic_platform.settings import AuthSettings, RetrievalSettings, Settings
from agentic_platform.testing.catalog import scripted_models

SERVICES = ["llm-gateway", "retrieval"]


@dataclass
class Caller:
    """An HTTP client for one principal, rooted at ``/retrieval/v1``."""

    http: httpx.Client
    principal_id: str
    team_id: str


def retrieval_settings(
    data_dir: Path,
    admin_key: str,
    *,
    database_url: str | None = None,
    models: list[ModelEntry] | None = None,
    **retrieval: object,
) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        models=models or scripted_models(),
        auth=AuthSettings(bootstrap_admin_key=SecretStr(admin_key)),
        log_requests=False,
        gateway={"retry_backoff_seconds": 0.01, "max_body_bytes": 64 * 1024},  # type: ignore[arg-type]
        retrieval=RetrievalSettings(**{"default_embedding_model": "test-embed", **retrieval}),  # type: ignore[arg-type]
    )


def caller_for(url: str, key: str) -> Caller:
    http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    principal = http.get("/admin/v1/me").json()["principal"]
    http.base_url = httpx.URL(url + "/retrieval/v1/")
    return Caller(http, principal["id"], principal["team_id"])


def new_member(url: str, admin_key: str, team: str | None = None) -> Caller:
    """A member of a new team (or of ``team``), with a key of their own."""
    headers = {"Authorization": f"Bearer {admin_key}"}
    with httpx.Client(base_url=url + "/admin/v1", headers=headers) as http:
        if team is None:
            team = http.post("/teams", json={"name": f"team-{uuid.uuid4().hex[:8]}"}).json()["id"]
        principal = http.post("/principals", json={"name": "member", "team_id": team}).json()
        key = http.post("/keys", json={"principal_id": principal["id"]}).json()["secret"]
    return caller_for(url, key)
