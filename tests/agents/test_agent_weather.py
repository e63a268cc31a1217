"""The weather tool makes real HTTP calls, here to a fake Open-Meteo on loopback: the
diy-agent's model asks for the weather and gets what the API said; an API that fails,
knows no such place or hangs is an error text for the model, and the run goes on."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest_asyncio
from agents_harness import agent_settings, running
from aiohttp import web

from agentic_platform.agents.tools.toolbox import ToolBox
from agentic_platform.agents.tools.weather import get_weather
from agentic_platform.testing.upstream import FakeUpstream, serve_fake_upstream

OSLO = {"results": [{"name": "Oslo", "country": "Norway", "latitude": 59.91, "longitude": 10.75}]}
CURRENT = {
    "current": {
        "time": "2026-12-03T12:00",
        "temperature_2m": -3.5,
        "wind_speed_10m": 12.0,
        "weather_code": 71,
    }
}


@pytest_asyncio.fixture
async def weather_api() -> AsyncIterator[FakeUpstream]:
    async with serve_fake_upstream() as fake:
        yield fake


def _box(api: FakeUpstream, http: httpx.AsyncClient, timeout: float = 5.0) -> ToolBox:
    tool = get_weather(http, f"{api.base_url}/v1/forecast", f"{api.base_url}/v1/search")
    return ToolBox([tool], timeout_seconds=timeout, max_output_chars=10_000)


async def test_the_agent_reports_what_the_weather_api_said(
    weather_api: FakeUpstream, tmp_path: Path, admin_key: str
) -> None:
    weather_api.reply_json("/v1/search", OSLO)
    weather_api.reply_json("/v1/forecast", CURRENT)
    settings = agent_settings(
        tmp_path,
        admin_key,
        f"sqlite+aiosqlite:///{tmp_path / 'p.db'}",
        default_model="weather-bot",
        weather_url=f"{weather_api.base_url}/v1/forecast",
        geocoding_url=f"{weather_api.base_url}/v1/search",
    )
    async with running(settings) as platform:
        alice = await platform.user("alice")
        answer = await alice.ok(message="How is the weather in Oslo?")
    assert answer["output"] == "It is sunny in Oslo."
    [call] = answer["tool_calls"]
    assert call["name"] == "get_weather" and call["is_error"] is False
    assert orjson.loads(call["result"]) == {
        "place": "Oslo, Norway",
        "temperature_c": -3.5,
        "wind_kmh": 12.0,
        "conditions": "light snow",
        "time": "2026-12-03T12:00",
    }
    search, forecast = weather_api.requests
    assert search.path == "/v1/search"
    assert forecast.path == "/v1/forecast"


async def test_the_query_has_the_open_meteo_shape(weather_api: FakeUpstream) -> None:
    seen: list[dict[str, str]] = []

    async def forecast(request: web.Request) -> web.StreamResponse:
        seen.append(dict(request.query))
        return web.json_response(CURRENT)

    weather_api.reply_json("/v1/search", OSLO)
    weather_api.on("/v1/forecast", forecast)
    async with httpx.AsyncClient() as http:
        outcome = await _box(weather_api, http).run("get_weather", {"city": "Oslo"})
    assert not outcome.is_error
    assert seen == [
        {
            "latitude": "59.91",
            "longitude": "10.75",
            "current": "temperature_2m,wind_speed_10m,weather_code",
        }
    ]


async def test_an_unknown_place_and_a_failing_api_are_errors_for_the_model(
    weather_api: FakeUpstream,
) -> None:
    weather_api.reply_json("/v1/search", {"results": []})
    async with httpx.AsyncClient() as http:
        box = _box(weather_api, http)
        unknown = await box.run("get_weather", {"city": "Atlantis"})
        assert unknown.is_error and "no place called 'Atlantis'" in unknown.result
        weather_api.reply_json("/v1/search", OSLO)
        weather_api.reply_json("/v1/forecast", {"error": True}, status=500)
        failing = await box.run("get_weather", {"city": "Oslo"})
        assert failing.is_error and "answered HTTP 500" in failing.result


async def test_a_hanging_weather_api_times_out_and_the_run_goes_on(
    weather_api: FakeUpstream,
) -> None:
    weather_api.hang("/v1/search")
    async with httpx.AsyncClient() as http:
        box = _box(weather_api, http, timeout=0.3)
        outcome = await box.run("get_weather", {"city": "Oslo"})
    assert outcome.is_error
    assert "did not answer within 0.3 seconds" in outcome.result
    async with asyncio.timeout(5):
        await weather_api.disconnected.wait()  # the call was closed, not left behind


async def test_an_unreachable_weather_api_is_an_error() -> None:
    with socket.socket() as sock:  # a port nothing listens on (bound, then released)
        sock.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{sock.getsockname()[1]}"
    async with httpx.AsyncClient() as http:
        tool = get_weather(http, f"{refused}/f", f"{refused}/s")
        box = ToolBox([tool], timeout_seconds=5, max_output_chars=1000)
        outcome = await box.run("get_weather", {"city": "Oslo"})
    assert outcome.is_error and "cannot be reached (ConnectError)" in outcome.result


async def test_a_run_whose_tool_hangs_gets_the_timeout_and_finishes(
    weather_api: FakeUpstream, tmp_path: Path, admin_key: str
) -> None:
    weather_api.hang("/v1/search")
    settings = agent_settings(
        tmp_path,
        admin_key,
        f"sqlite+aiosqlite:///{tmp_path / 'p.db'}",
        default_model="weather-bot",
        tool_timeout_seconds=0.3,
        geocoding_url=f"{weather_api.base_url}/v1/search",
    )
    async with running(settings) as platform:
        alice = await platform.user("alice")
        answer = await alice.ok(message="How is the weather in Oslo?")
    assert answer["status"] == "succeeded"
    [call] = answer["tool_calls"]
    assert call["is_error"] is True
    assert "did not answer within 0.3 seconds" in call["result"]
    assert 300 <= call["duration_ms"] < 3000
