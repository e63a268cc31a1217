"""Builds provider instances for deployments, importing each adapter only when used."""

from __future__ import annotations

import importlib
from types import ModuleType

from agentic_platform.errors import ConfigurationError
from agentic_platform.llm_gateway.catalog import Deployment
from agentic_platform.llm_gateway.providers.base import (
    ChatProvider,
    EmbeddingProvider,
    RerankProvider,
)

_MODULES = {
    "openai": "agentic_platform.llm_gateway.providers.openai",
    "anthropic": "agentic_platform.llm_gateway.providers.anthropic",
    "bedrock": "agentic_platform.llm_gateway.providers.bedrock",
    "local": "agentic_platform.llm_gateway.providers.local",
    "test": "agentic_platform.llm_gateway.providers.scripted",
    "cohere": "agentic_platform.llm_gateway.providers.cohere",
}

# Extras whose absence shows up as an ImportError inside the adapter module.
_EXTRAS = {"bedrock": "bedrock", "local": "local"}


def _adapter(provider: str) -> ModuleType:
    try:
        return importlib.import_module(_MODULES[provider])
    except ImportError as exc:
        extra = _EXTRAS.get(provider)
        if extra is None:
            raise
        raise ConfigurationError(
            f"the '{provider}' provider needs the '{extra}' extra: "
            f"pip install 'agentic-platform[{extra}]' (missing module: {exc.name})"
        ) from exc


def build_chat_provider(deployment: Deployment) -> ChatProvider:
    provider: ChatProvider = _adapter(deployment.provider).chat_provider(deployment)
    return provider


def build_embedding_provider(deployment: Deployment) -> EmbeddingProvider:
    module = _adapter(deployment.provider)
    factory = getattr(module, "embedding_provider", None)
    if factory is None:
        raise ConfigurationError(
            f"deployment {deployment.name}: the '{deployment.provider}' provider "
            "does not serve embeddings"
        )
    provider: EmbeddingProvider = factory(deployment)
    return provider


def build_rerank_provider(deployment: Deployment) -> RerankProvider:
    module = _adapter(deployment.provider)
    factory = getattr(module, "rerank_provider", None)
    if factory is None:
        raise ConfigurationError(
            f"deployment {deployment.name}: the '{deployment.provider}' provider does not rerank"
        )
    provider: RerankProvider = factory(deployment)
    return provider
