"""Model provider adapters. Each translates the canonical OpenAI shapes to one upstream API."""
