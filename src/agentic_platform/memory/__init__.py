"""The memory gateway: sessions (conversation history) and long-term memories per user."""
