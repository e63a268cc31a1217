"""The retrieval gateway on a real loopback port, shared by a test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from retrieval_harness import SERVICES, Caller, caller_for, retrieval_settings

from agentic_platform.app import create_app
from agentic_platform.testing.server import serve_in_thread


@pytest.fixture(scope="module")
def retrieval_url(tmp_path_factory: pytest.TempPathFactory, admin_key: str) -> Iterator[str]:
    settings = retrieval_settings(tmp_path_factory.mktemp("retrieval") / "data", admin_key)
    with serve_in_thread(create_app(settings, SERVICES)) as url:
        yield url


@pytest.fixture
def admin(retrieval_url: str, admin_key: str) -> Iterator[Caller]:
    caller = caller_for(retrieval_url, admin_key)
    yield caller
    caller.http.close()
