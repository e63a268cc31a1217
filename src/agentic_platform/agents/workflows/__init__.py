"""The five workflow patterns, each an agent of kind ``workflow`` (docs/agents.md)."""
