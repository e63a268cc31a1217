"""Property-based pass over the whole OpenAPI schema (schemathesis): every generated request,
valid or not, is answered without a 5xx, and every answer is one the schema declares (status
code, content type, body schema), the errors in the error envelope.

The platform runs every service on a real loopback server (uvicorn, SQLite, the scripted
models), so keep-alive connections, the middleware and the background workers are the real
ones. Each operation is called as an admin and as a member. CI runs a bounded number of
examples per operation; ``make fuzz`` runs many more (``AGENTIC_FUZZ_EXAMPLES``).

Nothing is excluded: path ids are generated at random, so a revoke or delete can never name
the admin's or the member's own key (the final test checks that both still work).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from pydantic import SecretStr
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from agentic_platform.app import create_app
from agentic_platform.settings import Settings
from agentic_platform.testing.catalog import scripted_models, scripted_rerank_model
from agentic_platform.testing.memory import memory_models
from agentic_platform.testing.server import serve_in_thread

EXAMPLES = int(os.environ.get("AGENTIC_FUZZ_EXAMPLES", "50"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def fuzz_settings(data_dir: Path, admin_key: str) -> Settings:
    return Settings(
        data_dir=data_dir,
        models=[*scripted_models(), *memory_models(), scripted_rerank_model()],
        auth={"bootstrap_admin_key": SecretStr(admin_key)},  # type: ignore[arg-type]
        log_requests=False,
        gateway={"retry_backoff_seconds": 0.01, "max_body_bytes": 64 * 1024},  # type: ignore[arg-type]
        memory={"embedding_model": "test-embed", "worker_poll_seconds": 0.2},  # type: ignore[arg-type]
        retrieval={"default_embedding_model": "test-embed"},  # type: ignore[arg-type]
        agents={"default_model": "echo"},  # type: ignore[arg-type]
    )


# The schema is read from an app that is never started (building one opens nothing).
schema = schemathesis.openapi.from_dict(
    create_app(fuzz_settings(Path("unused"), "unused")).openapi()
)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory, admin_key: str) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("fuzz") / "data"
    with serve_in_thread(create_app(fuzz_settings(data_dir, admin_key))) as url:
        yield url


def _session(key: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    return session


@pytest.fixture(scope="module")
def member_key(platform: str, admin_key: str) -> str:
    with _session(admin_key) as admin:
        who = admin.post(f"{platform}/admin/v1/principals", json={"name": "fuzz-member"})
        assert who.status_code == 201, who.text
        key = admin.post(f"{platform}/admin/v1/keys", json={"principal_id": who.json()["id"]})
        assert key.status_code == 201, key.text
    secret: str = key.json()["secret"]
    return secret


@pytest.fixture(scope="module", params=["admin", "member"])
def caller(
    request: pytest.FixtureRequest, admin_key: str, member_key: str
) -> Iterator[requests.Session]:
    """One keep-alive session per caller, reused by every example."""
    with _session(admin_key if request.param == "admin" else member_key) as session:
        yield session


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error_and_answers_match_the_schema(
    case: Any, platform: str, caller: requests.Session
) -> None:
    case.call_and_validate(base_url=platform, session=caller, checks=CHECKS)


def test_the_callers_keys_survive_the_run(platform: str, admin_key: str, member_key: str) -> None:
    for key in (admin_key, member_key):
        with _session(key) as session:
            me = session.get(f"{platform}/admin/v1/me")
        assert me.status_code == 200, me.text
