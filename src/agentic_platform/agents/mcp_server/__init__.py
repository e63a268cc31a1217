"""The platform as an MCP server at ``/mcp`` (streamable HTTP)."""
