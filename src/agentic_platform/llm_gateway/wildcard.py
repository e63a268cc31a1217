"""Wildcard aliases: ``openai/*`` serves ``openai/gpt-4o``, ``openai/o3`` and every other
name with its prefix, for teams that do not want to list each model.

The requested name becomes an ordinary entry of the catalog for the call: its alias is the
name the client sent (so key allowlists, plans, limits and the ledger see
``openai/gpt-4o``, and an allowlist may name the exact model or the pattern), and each
deployment's ``*`` is replaced by the part after the prefix (``model: '*'`` sends ``gpt-4o``
upstream). Its price is the deployment's ``prices`` entry for that upstream model, else the
deployment's own ``input_price_per_mtok`` / ``output_price_per_mtok``. The providers built
for the wildcard's deployments serve every model under it (:attr:`ModelEntry.route`).
"""

from __future__ import annotations

from agentic_platform.llm_gateway.catalog import Deployment, ModelEntry

CACHE_LIMIT = 1024
"""Resolved names kept; past it the cache starts over (names come from clients)."""


def _concrete(deployment: Deployment, suffix: str) -> Deployment:
    model = deployment.model.replace("*", suffix)
    price = deployment.prices.get(model)
    update: dict[str, object] = {"model": model}
    if price is not None:
        update["input_price_per_mtok"] = price.input_price_per_mtok
        update["output_price_per_mtok"] = price.output_price_per_mtok
    return deployment.model_copy(update=update)


def expand(pattern: ModelEntry, name: str) -> ModelEntry:
    """The entry serving ``name`` through the wildcard ``pattern`` (which it matches)."""
    suffix = name[len(pattern.alias) - 1 :]
    entry = pattern.model_copy(
        update={
            "alias": name,
            "deployments": [_concrete(d, suffix) for d in pattern.deployments],
        }
    )
    entry.route = pattern.alias
    return entry


class Wildcards:
    """The catalog's wildcard aliases, longest prefix first, with the names resolved so far."""

    def __init__(self, patterns: list[ModelEntry]) -> None:
        self._patterns = sorted(patterns, key=lambda entry: len(entry.alias), reverse=True)
        self._resolved: dict[str, ModelEntry] = {}

    def __bool__(self) -> bool:
        return bool(self._patterns)

    def resolve(self, name: str) -> ModelEntry | None:
        entry = self._resolved.get(name)
        if entry is not None:
            return entry
        if any(ch.isspace() or ch == "*" for ch in name):
            return None
        for pattern in self._patterns:
            prefix = pattern.alias[:-1]
            if len(name) > len(prefix) and name.startswith(prefix):
                if len(self._resolved) >= CACHE_LIMIT:
                    self._resolved.clear()
                entry = self._resolved[name] = expand(pattern, name)
                return entry
        return None
