"""``agents.mcp_servers``: the MCP servers whose tools agents may offer their models.

Kept apart from ``settings.py`` so the settings tree imports nothing of the MCP SDK.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator

MCP_SERVER_NAME = r"^[a-z0-9][a-z0-9-]{0,29}$"


class McpServerSettings(BaseModel):
    """One MCP server: how to reach it and which agents may use its tools."""

    name: str = Field(
        pattern=MCP_SERVER_NAME,
        description="Short name (lowercase letters, digits, dashes; at most 30): its tools are "
        "offered to the model as '<name>__<tool>'.",
    )
    transport: Literal["stdio", "http"] = Field(
        description="'stdio' starts 'command' as a child process and speaks MCP over its "
        "stdin/stdout; 'http' speaks streamable HTTP to 'url'.",
    )
    command: str | None = Field(
        default=None, min_length=1, description="stdio: the program to start."
    )
    args: list[str] = Field(default_factory=list, description="stdio: its arguments.")
    env: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="stdio: environment variables set for it (over a minimal default "
        "environment: the platform's own variables are not passed on).",
    )
    url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="http: the server's streamable-HTTP endpoint, e.g. http://tools:8000/mcp.",
    )
    headers: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="http: headers sent with every request (e.g. Authorization).",
    )
    agents: list[str] | Literal["all"] = Field(
        default="all",
        description="The agents and workflows that get its tools: a list of names, or 'all'.",
    )
    timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="Longest connecting and listing its tools may take; past it the run goes "
        "on without them (each tool call is bounded by agents.tool_timeout_seconds).",
    )

    @model_validator(mode="after")
    def _transport_fields(self) -> McpServerSettings:
        where = f"agents.mcp_servers '{self.name}'"
        if self.transport == "stdio":
            if self.command is None:
                raise ValueError(f"{where}: transport 'stdio' needs 'command'")
            if self.url is not None or self.headers:
                raise ValueError(f"{where}: 'url' and 'headers' are for transport 'http'")
        else:
            if self.url is None:
                raise ValueError(f"{where}: transport 'http' needs 'url'")
            if self.command is not None or self.args or self.env:
                raise ValueError(f"{where}: 'command', 'args' and 'env' are for transport 'stdio'")
        return self

    def serves(self, agent: str) -> bool:
        """Whether ``agent`` gets this server's tools."""
        return self.agents == "all" or agent in self.agents
