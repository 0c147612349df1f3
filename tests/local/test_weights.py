"""Assembling the shipped GGUF chunks into the data dir: once, verified, atomically."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from turnout.local.weights import ensure_gemma_gguf

from .conftest import needs_chat

EXPECTED = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"


@needs_chat
@pytest.mark.slow
def test_assembles_once_then_reuses(tmp_path: Path) -> None:
    path = ensure_gemma_gguf(tmp_path)
    assert path == tmp_path / "models" / "gemma-3-270m-q4_k_m.gguf"
    assert path.stat().st_size == 253_113_024
    assert EXPECTED in (path.parent / (path.name + ".verified.json")).read_text()
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".part")]
    mtime = path.stat().st_mtime_ns
    t0 = time.perf_counter()
    assert ensure_gemma_gguf(tmp_path) == path
    assert time.perf_counter() - t0 < 0.05  # the stamp spares re-hashing 253 MB
    assert path.stat().st_mtime_ns == mtime


@needs_chat
@pytest.mark.slow
def test_corrupt_file_is_rebuilt(tmp_path: Path) -> None:
    path = ensure_gemma_gguf(tmp_path)
    with open(path, "r+b") as fh:
        fh.seek(1000)
        fh.write(b"\x00" * 16)
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1))  # the stamp no longer matches
    again = ensure_gemma_gguf(tmp_path)
    assert again == path
    with open(path, "rb") as fh:
        fh.seek(1000)
        assert fh.read(16) != b"\x00" * 16
