"""all-MiniLM-L6-v2 sentence embeddings with NumPy alone (no torch).

The model is a 6-layer BERT (hidden 384, 12 heads). This module reads its
``model.safetensors`` directly (the format is an 8-byte header length, a JSON header and
raw little-endian arrays, so no ``safetensors`` package is needed), tokenizes with the
Rust ``tokenizers`` package and the model's own ``tokenizer.json``, and runs the same
forward pass as ``transformers``' ``BertModel`` in float32, followed by what the model's
sentence-transformers config asks for: mean pooling over the attention mask, then L2
normalisation. Inputs are truncated to the model's ``max_seq_length`` (256 tokens).

Measured against sentence-transformers (CPU torch 2.13.0) on the same weights, the vectors
agree within 2e-7 per component; see ``tests/local/data/minilm_reference.json``.
"""

from __future__ import annotations

import asyncio
import json
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import LOCAL_EMBEDDINGS_INSTALL_HINT, LocalBadRequestError, LocalNotInstalledError, LocalWeightsError
from .weights import locate_minilm

__all__ = ["EMBEDDING_DIMENSIONS", "EmbeddingResult", "MiniLMEmbedder", "load_safetensors"]

EMBEDDING_DIMENSIONS = 384
_DTYPES = {"F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4"}


def _numpy() -> Any:
    try:
        import numpy as np
    except ImportError as exc:
        raise LocalNotInstalledError("numpy", LOCAL_EMBEDDINGS_INSTALL_HINT, "the local embeddings model") from exc
    return np


def load_safetensors(path: Path) -> dict[str, Any]:
    """Read every tensor of a ``.safetensors`` file into NumPy arrays (a read-only memory map)."""
    np = _numpy()
    with open(path, "rb") as fh:
        (header_len,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(header_len))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + header_len)
    out: dict[str, Any] = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(spec["dtype"])
        if dtype is None:
            raise LocalWeightsError(f"unsupported tensor dtype {spec['dtype']} for {name} in {path}")
        start, end = spec["data_offsets"]
        out[name] = np.frombuffer(data[start:end], dtype=dtype).reshape(spec["shape"])
    return out


@dataclass(frozen=True)
class EmbeddingResult:
    """Unit-length vectors (``list[list[float]]``) and the real number of input tokens."""

    vectors: list[list[float]]
    prompt_tokens: int


def _erf(np: Any, x: Any) -> Any:
    # Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), computed in float64.
    x = x.astype(np.float64)
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


class MiniLMEmbedder:
    """Embeds texts with all-MiniLM-L6-v2. Load is lazy (~0.3 s); the instance is thread-safe."""

    model_id = "sentence-transformers/all-minilm-l6-v2"
    dimensions = EMBEDDING_DIMENSIONS

    def __init__(self, model_dir: Path | None = None, *, batch_size: int = 32) -> None:
        self._model_dir = model_dir
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._weights: dict[str, Any] | None = None
        self._tokenizer: Any = None
        self.max_seq_length = 256
        self._n_layers = 6
        self._n_heads = 12
        self._eps = 1e-12

    @property
    def loaded(self) -> bool:
        """True once weights and tokenizer are in memory."""
        return self._weights is not None

    def load(self) -> None:
        """Read the weights and the tokenizer (idempotent)."""
        if self._weights is not None:
            return
        with self._lock:
            if self._weights is not None:
                return
            try:
                from tokenizers import Tokenizer
            except ImportError as exc:
                raise LocalNotInstalledError(
                    "tokenizers", LOCAL_EMBEDDINGS_INSTALL_HINT, "the local embeddings model"
                ) from exc
            folder = self._model_dir or locate_minilm()
            config = json.loads((folder / "config.json").read_text())
            self._n_layers = int(config["num_hidden_layers"])
            self._n_heads = int(config["num_attention_heads"])
            self._eps = float(config.get("layer_norm_eps", 1e-12))
            st_config = folder / "sentence_bert_config.json"
            if st_config.is_file():
                self.max_seq_length = int(json.loads(st_config.read_text()).get("max_seq_length", 256))
            tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
            tok.enable_truncation(max_length=self.max_seq_length)
            tok.no_padding()
            weights = load_safetensors(folder / "model.safetensors")
            # Own, aligned float32 copies (the file's offsets need not be aligned, and BLAS
            # falls back to slow loops on unaligned data); linear layers pre-transposed once,
            # since torch stores them as [out, in].
            np = _numpy()
            for name, arr in list(weights.items()):
                if name.endswith(".weight") and arr.ndim == 2 and not name.startswith("embeddings."):
                    arr = arr.T
                weights[name] = np.ascontiguousarray(arr, dtype=arr.dtype).copy()
            self._tokenizer = tok
            self._weights = weights

    def _layer_norm(self, x: Any, prefix: str) -> Any:
        np = _numpy()
        w = self._weights
        assert w is not None
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return ((x - mean) / np.sqrt(var + self._eps)) * w[prefix + ".weight"] + w[prefix + ".bias"]

    def _forward(self, ids: Any, mask: Any) -> Any:
        np = _numpy()
        w = self._weights
        assert w is not None
        batch, seq = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][np.arange(seq)][None, :, :]
            + w["embeddings.token_type_embeddings.weight"][0][None, None, :]
        )
        x = self._layer_norm(x, "embeddings.LayerNorm")
        heads = self._n_heads
        dim = x.shape[-1] // heads
        bias = ((1.0 - mask[:, None, None, :].astype(np.float32)) * np.finfo(np.float32).min).astype(np.float32)
        for i in range(self._n_layers):
            p = f"encoder.layer.{i}."

            def lin(t: Any, name: str, p: str = p) -> Any:
                # 2-D matmuls: one BLAS call instead of one per batch row.
                flat = t.reshape(-1, t.shape[-1]) @ w[p + name + ".weight"] + w[p + name + ".bias"]
                return flat.reshape(batch, seq, -1)

            def split(t: Any) -> Any:
                return t.reshape(batch, seq, heads, dim).transpose(0, 2, 1, 3)

            q = split(lin(x, "attention.self.query"))
            k = split(lin(x, "attention.self.key"))
            v = split(lin(x, "attention.self.value"))
            scores = (q @ k.transpose(0, 1, 3, 2)) / np.float32(np.sqrt(dim)) + bias
            scores = scores - scores.max(-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(-1, keepdims=True)
            ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, seq, heads * dim)
            x = self._layer_norm(lin(ctx, "attention.output.dense") + x, p + "attention.output.LayerNorm")
            h = lin(x, "intermediate.dense")
            h = (0.5 * h * (1.0 + _erf(np, h / np.sqrt(2.0)))).astype(np.float32)
            x = self._layer_norm(lin(h, "output.dense") + x, p + "output.LayerNorm")
        m = mask[:, :, None].astype(np.float32)
        pooled = (x * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.clip(norms, 1e-12, None)

    def embed(self, texts: Sequence[str]) -> EmbeddingResult:
        """Embed ``texts`` (blocking; run it in a worker thread from async code)."""
        if isinstance(texts, str):
            texts = [texts]
        if not texts:
            raise LocalBadRequestError("input must not be empty")
        if not all(isinstance(t, str) for t in texts):
            raise LocalBadRequestError("input must be a string or a list of strings")
        self.load()
        np = _numpy()
        encodings = self._tokenizer.encode_batch(list(texts))
        vectors: list[Any] = [None] * len(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        total = 0
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            seq = max(len(encodings[i].ids) for i in idx)
            ids = np.zeros((len(idx), seq), dtype=np.int64)
            mask = np.zeros((len(idx), seq), dtype=np.int64)
            for row, i in enumerate(idx):
                e = encodings[i].ids
                ids[row, : len(e)] = e
                mask[row, : len(e)] = 1
                total += len(e)
            out = self._forward(ids, mask)
            for row, i in enumerate(idx):
                vectors[i] = out[row]
        return EmbeddingResult(vectors=[v.astype(float).tolist() for v in vectors], prompt_tokens=total)

    async def aembed(self, texts: Sequence[str]) -> EmbeddingResult:
        """:meth:`embed` in a worker thread, so the event loop keeps serving."""
        return await asyncio.to_thread(self.embed, texts)
