"""Who is calling: API keys (and, later, OIDC tokens) resolved to a :class:`Principal`."""
