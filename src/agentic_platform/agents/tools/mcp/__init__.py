"""MCP servers as agent tools: settings, one connection per server, and the tools it offers."""
