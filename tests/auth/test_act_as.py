"""Services call the gateways for a user: the call becomes the user's, and nobody else may
claim to act for someone."""

from __future__ import annotations

import httpx
import pytest

from agentic_platform.app import create_app
from agentic_platform.clients.internal import llm_client_for
from agentic_platform.settings import Settings

MODELS = "/llm/v1/models"


@pytest.fixture
async def running(settings: Settings):  # type: ignore[no-untyped-def]
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


async def _call(app, key: str, act_as: str | None) -> httpx.Response:  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {key}"}
    if act_as is not None:
        headers["X-Agentic-Act-As"] = act_as
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        return await http.get(MODELS, headers=headers)


async def test_in_process_client_acts_for_the_user(running, admin_key: str) -> None:  # type: ignore[no-untyped-def]
    state = running.state.platform
    admin = await state.authenticator.authenticate(admin_key)
    async with llm_client_for(state, admin) as client:
        completion = await client.chat(model="echo", messages=[{"role": "user", "content": "hi"}])
    assert completion.choices[0].message.content == "hi"


async def test_only_services_may_act_for_others(running, admin_key: str) -> None:  # type: ignore[no-untyped-def]
    state = running.state.platform
    admin = await state.authenticator.authenticate(admin_key)
    response = await _call(running, admin_key, state.platform_service_id)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "act_as_not_allowed"
    ok = await _call(running, state.service_key, admin.id)
    assert ok.status_code == 200


async def test_unknown_principal_is_refused(running) -> None:  # type: ignore[no-untyped-def]
    state = running.state.platform
    response = await _call(running, state.service_key, "usr_does_not_exist")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "unknown_principal"
