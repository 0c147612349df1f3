"""Fixtures for the embedded local models: one engine per test session (the load takes ~2 s)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from turnout.local import chat_available, embeddings_available, missing_for_chat, missing_for_embeddings

needs_chat = pytest.mark.skipif(
    not chat_available(), reason=f"the 'local' extra is not installed (missing: {', '.join(missing_for_chat())})"
)
needs_embeddings = pytest.mark.skipif(
    not embeddings_available(),
    reason=f"the 'local-embeddings' extra is not installed (missing: {', '.join(missing_for_embeddings())})",
)


@pytest.fixture(scope="session")
def gguf_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from turnout.local.weights import ensure_gemma_gguf

    return ensure_gemma_gguf(tmp_path_factory.mktemp("turnout-data"))


@pytest.fixture(scope="session")
def engine(gguf_path: Path) -> Iterator[object]:
    from turnout.local.engine import EngineConfig, LocalEngine

    eng = LocalEngine(EngineConfig(model_path=gguf_path, n_ctx=2048, max_queue=2, queue_timeout=20))
    eng.load()
    yield eng
    eng.close()
