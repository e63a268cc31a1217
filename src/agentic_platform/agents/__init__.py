"""Agents and workflows: one API (``/agents/v1``), run for the caller through the gateways."""
