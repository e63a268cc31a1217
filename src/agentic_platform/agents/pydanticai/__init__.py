"""``pydanticai-agent``: a PydanticAI agent hosted on the platform."""
