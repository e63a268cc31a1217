"""``current_time``: the date and time now, in a time zone the model names."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agentic_platform.agents.tools.base import FunctionTool, ToolError

NAME = "current_time"


async def _now(timezone: str = "UTC") -> str:
    try:
        zone = UTC if timezone.upper() == "UTC" else ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ToolError(
            f"unknown time zone '{timezone}': use an IANA name such as Europe/Oslo"
        ) from None
    now = datetime.now(zone)
    return f"{now.isoformat(timespec='seconds')} ({now.strftime('%A')}, {timezone})"


def current_time() -> FunctionTool:
    return FunctionTool(
        NAME,
        "The current date, time and weekday, in a time zone (default UTC).",
        {
            "type": "object",
            "properties": {
                "timezone": {
                    "type": "string",
                    "description": "An IANA time zone, e.g. Europe/Oslo or America/New_York.",
                }
            },
            "additionalProperties": False,
        },
        _now,
    )
