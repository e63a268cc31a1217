"""``langgraph-chat``: a LangGraph chat agent hosted on the platform."""
