"""The model catalog: client-facing aliases mapped to one or more provider deployments.

An alias's deployments are tried in the order its ``strategy`` gives (the listed order, a
weighted draw, or the least busy first): the first that answers wins, and a retryable
failure of one falls back to the next. An alias ending in ``*`` (``openai/*``) is a
wildcard: it serves every model named with its prefix (see :mod:`.wildcard`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from agentic_platform.errors import ConfigurationError, ModelNotFoundError

ProviderName = Literal["openai", "anthropic", "bedrock", "local", "test", "cohere"]
Capability = Literal["chat", "tools", "vision", "json_schema", "streaming", "embeddings", "rerank"]
ModelKind = Literal["chat", "embedding", "rerank"]
Strategy = Literal["ordered", "weighted", "least-busy"]


class ModelPrice(BaseModel):
    """The price of one upstream model served through a wildcard deployment."""

    model_config = ConfigDict(extra="forbid")

    input_price_per_mtok: float = Field(ge=0, description="USD per 1M input tokens.")
    output_price_per_mtok: float = Field(ge=0, description="USD per 1M output tokens.")


class Deployment(BaseModel):
    """One place a model is served from, with its credentials, limits and price."""

    model_config = ConfigDict(extra="forbid")

    provider: ProviderName = Field(description="Which provider adapter serves this deployment.")
    model: str = Field(description="The model id the upstream expects.")
    api_base: str | None = Field(
        default=None, description="Base URL of an OpenAI-compatible or Anthropic endpoint."
    )
    api_key: SecretStr | None = Field(
        default=None, description="The upstream key; prefer api_key_env in files."
    )
    api_key_env: str | None = Field(
        default=None, description="Name of the environment variable that holds the upstream key."
    )
    region: str | None = Field(default=None, description="AWS region (Bedrock).")
    timeout_seconds: float = Field(default=60.0, gt=0, description="Per-attempt timeout.")
    max_retries: int = Field(default=2, ge=0, le=10, description="Retries before falling back.")
    input_price_per_mtok: float = Field(default=0.0, ge=0, description="USD per 1M input tokens.")
    output_price_per_mtok: float = Field(default=0.0, ge=0, description="USD per 1M output tokens.")
    context_window: int | None = Field(default=None, ge=1, description="Tokens the model reads.")
    weight: float = Field(
        default=1.0,
        ge=0,
        description="Share of the calls under the 'weighted' strategy; 0: only a fallback.",
    )
    prices: dict[str, ModelPrice] = Field(
        default_factory=dict,
        description="Wildcard deployments: prices per upstream model id; a model not listed "
        "is priced at input_price_per_mtok / output_price_per_mtok.",
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="Provider-specific options (see docs/llm-gateway.md)."
    )

    @property
    def name(self) -> str:
        """``provider:model``, as logs and the usage ledger name a deployment."""
        return f"{self.provider}:{self.model}"

    def resolve_api_key(self) -> str | None:
        """The upstream key from the file or the environment; a named but unset variable is a
        configuration error, reported when the provider is built (at start-up)."""
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        if self.api_key_env:
            value = os.environ.get(self.api_key_env)
            if not value:
                raise ConfigurationError(
                    f"deployment {self.name} reads its key from ${self.api_key_env}, "
                    "which is not set: export it or put the key in a secret"
                )
            return value
        return None

    def cost_usd(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (
            prompt_tokens * self.input_price_per_mtok
            + completion_tokens * self.output_price_per_mtok
        ) / 1_000_000


class ModelEntry(BaseModel):
    """A model as clients see it: an alias, what it can do, and where it is served."""

    model_config = ConfigDict(extra="forbid")

    alias: str = Field(min_length=1, description="The name clients pass as `model`.")
    kind: ModelKind = Field(default="chat")
    capabilities: set[Capability] = Field(
        default_factory=lambda: {"chat", "streaming"},  # type: ignore[arg-type]
        description="What the model supports; requests needing more are refused with a 400.",
    )
    strategy: Strategy = Field(
        default="ordered",
        description="Which deployment is tried first: the listed order, a draw by weight, or "
        "the one with the fewest calls in flight; the others follow as fallbacks.",
    )
    deployments: list[Deployment] = Field(min_length=1)
    _route: str | None = PrivateAttr(default=None)

    @field_validator("alias")
    @classmethod
    def _alias_has_no_spaces(cls, value: str) -> str:
        if any(ch.isspace() for ch in value):
            raise ValueError("a model alias must not contain spaces")
        if "*" in value[:-1]:
            raise ValueError("a wildcard alias has one '*', at its end (e.g. 'openai/*')")
        return value

    @model_validator(mode="after")
    def _wildcards_agree(self) -> ModelEntry:
        wildcard = self.alias.endswith("*")
        if wildcard and self.kind != "chat":
            raise ValueError("a wildcard alias serves chat models only")
        for deployment in self.deployments:
            if wildcard != ("*" in deployment.model):
                raise ValueError(
                    "a wildcard alias needs a '*' in each deployment's model (where the "
                    "requested name goes, e.g. model: '*'), and only a wildcard alias may "
                    f"have one (deployment model '{deployment.model}')"
                )
        return self

    @property
    def wildcard(self) -> bool:
        return self.alias.endswith("*")

    @property
    def route(self) -> str:
        """The catalog alias whose providers serve this entry: its own, or for a model
        reached through a wildcard, the wildcard's."""
        return self._route or self.alias

    @route.setter
    def route(self, alias: str) -> None:
        self._route = alias


def default_models() -> list[ModelEntry]:
    """The embedded defaults: the packaged local chat model and embedder."""
    return [
        ModelEntry(
            alias="smollm2-135m",
            kind="chat",
            capabilities={"chat", "streaming", "tools", "json_schema"},
            deployments=[
                Deployment(provider="local", model="smollm2-135m-instruct", context_window=8192)
            ],
        ),
        ModelEntry(
            alias="minilm-l6",
            kind="embedding",
            capabilities={"embeddings"},
            deployments=[Deployment(provider="local", model="all-minilm-l6-v2")],
        ),
    ]


class ModelCatalog:
    """Looks up aliases; built once from settings."""

    def __init__(self, entries: list[ModelEntry]) -> None:
        from agentic_platform.llm_gateway.wildcard import Wildcards

        self._all: dict[str, ModelEntry] = {}
        for entry in entries:
            if entry.alias in self._all:
                raise ConfigurationError(f"model alias '{entry.alias}' is defined twice")
            self._all[entry.alias] = entry
        self._entries = {alias: e for alias, e in self._all.items() if not e.wildcard}
        self._wildcards = Wildcards([e for e in self._all.values() if e.wildcard])

    def __iter__(self) -> Iterator[ModelEntry]:
        """Every entry of the configuration, wildcards included."""
        return iter(self._all.values())

    def __len__(self) -> int:
        return len(self._all)

    def get(self, alias: str, kind: ModelKind) -> ModelEntry:
        entry = self._entries.get(alias)
        if entry is None and self._wildcards:
            entry = self._wildcards.resolve(alias)
        if entry is None:
            known = ", ".join(sorted(self._all)) or "none"
            raise ModelNotFoundError(
                f"The model '{alias}' does not exist. Known models: {known}.", param="model"
            )
        if entry.kind != kind:
            raise ModelNotFoundError(
                f"The model '{alias}' is an {entry.kind} model and cannot serve this endpoint."
                if entry.kind == "embedding"
                else f"The model '{alias}' is a {entry.kind} model and cannot serve this endpoint.",
                param="model",
            )
        return entry
