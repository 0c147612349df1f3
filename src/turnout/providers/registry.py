"""Which adapter serves which dialect. Built on demand; importing it has no side effects."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from turnout.providers.anthropic import AnthropicAdapter
from turnout.providers.base import Adapter, EmbeddingAdapter, InProcessProvider
from turnout.providers.gemini import GeminiAdapter
from turnout.providers.openai import OpenAIAdapter
from turnout.providers.openai_embeddings import OpenAIEmbeddingsAdapter
from turnout.providers.zai import ZaiAdapter

if TYPE_CHECKING:
    from turnout.settings import Settings


def http_adapters() -> dict[str, Adapter]:
    adapters: list[Adapter] = [OpenAIAdapter(), ZaiAdapter(), AnthropicAdapter(), GeminiAdapter()]
    return {a.dialect: a for a in adapters}


def http_embedders() -> dict[str, EmbeddingAdapter]:
    """The outbound embeddings dialects, by name (OpenAI's `/embeddings`, which most providers speak)."""
    adapters: list[EmbeddingAdapter] = [OpenAIEmbeddingsAdapter()]
    return {a.dialect: a for a in adapters}


def in_process_providers(settings: Settings) -> dict[str, InProcessProvider]:
    """The built-in local model, if its module is present (its runtime may still be missing)."""
    try:
        module = importlib.import_module("turnout.providers.local")
    except ImportError:
        return {}
    factory = getattr(module, "create_provider", None)
    if factory is None:
        return {}
    provider: InProcessProvider = factory(settings)
    return {provider.dialect: provider}
