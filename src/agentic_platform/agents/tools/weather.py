"""``get_weather``: the current weather for a place, from a real HTTP weather API.

Two calls in Open-Meteo's shape (``agents.geocoding_url``, ``agents.weather_url``): the place
name to coordinates (``?name=<city>&count=1`` → ``results[0]`` with ``latitude``,
``longitude``, ``name``, ``country``), then the current conditions
(``?latitude=..&longitude=..&current=temperature_2m,wind_speed_10m,weather_code`` →
``current``). The model gets a small JSON object; an unknown place or an API that fails is a
:class:`ToolError` it can read. Point both URLs at any service with that shape (a company
proxy, a local fake in tests).
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from agentic_platform.agents.tools.base import FunctionTool, ToolError

NAME = "get_weather"
_CURRENT = "temperature_2m,wind_speed_10m,weather_code"
_CONDITIONS = {
    0: "clear sky",
    1: "mainly clear",
    2: "partly cloudy",
    3: "overcast",
    45: "fog",
    48: "fog",
    51: "light drizzle",
    53: "drizzle",
    55: "heavy drizzle",
    61: "light rain",
    63: "rain",
    65: "heavy rain",
    71: "light snow",
    73: "snow",
    75: "heavy snow",
    80: "rain showers",
    81: "rain showers",
    82: "violent rain showers",
    95: "thunderstorm",
}


async def _get(http: httpx.AsyncClient, url: str, params: dict[str, Any]) -> dict[str, Any]:
    try:
        response = await http.get(url, params=params)
    except httpx.HTTPError as error:
        raise ToolError(f"the weather service cannot be reached ({type(error).__name__})") from None
    if response.status_code != 200:
        raise ToolError(f"the weather service answered HTTP {response.status_code}")
    try:
        found = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise ToolError("the weather service answered something that is not JSON") from None
    if not isinstance(found, dict):
        raise ToolError("the weather service answered an unexpected shape")
    return found


def get_weather(http: httpx.AsyncClient, weather_url: str, geocoding_url: str) -> FunctionTool:
    """The tool, calling the two APIs through ``http`` (shared, closed by its owner)."""

    async def weather(city: str) -> str:
        places = (await _get(http, geocoding_url, {"name": city, "count": 1})).get("results")
        if not places:
            raise ToolError(f"no place called '{city}' was found; try a larger city nearby")
        place = places[0]
        found = await _get(
            http,
            weather_url,
            {"latitude": place["latitude"], "longitude": place["longitude"], "current": _CURRENT},
        )
        current = found.get("current")
        if not isinstance(current, dict):
            raise ToolError("the weather service gave no current conditions")
        code = current.get("weather_code")
        conditions = (
            _CONDITIONS.get(code, f"weather code {code}") if isinstance(code, int) else None
        )
        return orjson.dumps(
            {
                "place": ", ".join(str(p) for p in (place.get("name"), place.get("country")) if p),
                "temperature_c": current.get("temperature_2m"),
                "wind_kmh": current.get("wind_speed_10m"),
                "conditions": conditions,
                "time": current.get("time"),
            }
        ).decode()

    return FunctionTool(
        NAME,
        "The current weather (temperature, wind, conditions) in a city.",
        {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "A city, e.g. Oslo."}},
            "required": ["city"],
            "additionalProperties": False,
        },
        weather,
    )
