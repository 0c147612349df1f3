"""The official TypeScript clients against turnout over real sockets: OpenRouter's `@openrouter/sdk`
(which validates every answer, streamed or not, with its zod schemas) and Vercel's `ai` with
`@openrouter/ai-sdk-provider`. The cases live in tests/js/clients.mjs; the node project is pinned
by tests/js/package-lock.json and installed by scripts/test.sh (or here, on first use, with npm ci).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.conftest import Upstream, create_key, gateway_config
from tests.fakes.openai_embeddings_upstream import EmbeddingsState, dialect_models
from tests.fakes.openai_embeddings_upstream import create_app as create_embeddings_upstream
from tests.fakes.server import serve
from turnout.app import create_app
from turnout.settings import load_settings

JS = Path(__file__).resolve().parents[1] / "js"
ADMIN = "sk-tn-admin-v1-js-clients-0123456789abcdef"
CASES = (
    "sdk-chat", "sdk-chat-stream", "sdk-tools", "sdk-reasoning", "sdk-errors",
    "sdk-responses", "sdk-responses-tools-reasoning", "sdk-responses-errors",
    "sdk-embeddings", "sdk-account", "sdk-admin", "ai-generate", "ai-stream", "ai-tools", "ai-reasoning", "ai-errors", "ai-embed", "ai-completion",
)


def ensure_node() -> str:
    """The node executable, with tests/js's pinned packages installed (npm ci, once)."""
    exe = shutil.which("node")
    if exe is None:
        pytest.fail("node is not installed: run scripts/test.sh, which installs it")
    if not (JS / "node_modules" / "@openrouter" / "sdk").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is not installed: run scripts/test.sh, which installs it")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=JS, check=True,
                       capture_output=True, timeout=300)
    return exe


@pytest.fixture(scope="module")
def node() -> str:
    return ensure_node()


def run_cases(node: str, cases: str, base_url: str, key: str) -> tuple[dict[str, dict[str, Any]], str]:
    env = {**os.environ, "TURNOUT_ADMIN_KEY": ADMIN}
    out = subprocess.run([node, "clients.mjs", cases, base_url, key], cwd=JS, capture_output=True, text=True,
                         timeout=600, env=env)
    reports = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    return {r["case"]: r for r in reports}, out.stderr


@pytest.fixture(scope="module")
def reports(node: str, upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, dict[str, Any]], str]:
    """Every case against a gateway with chat and embedding models, in one node process (each
    start costs more CPU than a case)."""
    with serve(create_embeddings_upstream(EmbeddingsState())) as embeddings_url:
        config = gateway_config(upstream.url)
        providers, models = dialect_models(upstream.url, embeddings_url)
        settings = load_settings(
            None, env={}, data_dir=tmp_path_factory.mktemp("js-clients"), keepalive_interval=0.5, read_timeout=2.0,
            providers={**config["providers"], **providers}, models={**config["models"], **models}, admin_key=ADMIN,
        )
        key = create_key(settings, "js-clients")
        with serve(create_app(settings)) as url:
            return run_cases(node, "all", f"{url}/api/v1", key)


@pytest.mark.parametrize("case", CASES)
def test_official_js_client(reports: tuple[dict[str, dict[str, Any]], str], case: str) -> None:
    found, stderr = reports
    assert case in found, f"{case}: no report\n{stderr[-4000:]}"
    report = found[case]
    assert report["ok"], f"{case}: {report}\n{stderr[-4000:]}"
    if case == "sdk-errors":
        seen = report["seen"]
        assert seen["midStream"]["code"] == 502 and seen["midStream"]["errorType"] == "provider_bad_response"
        assert seen["unknownModel"]["status"] == 400 and seen["badKey"]["status"] == 401
        assert "bad role" in seen["upstream"]["message"]


# ---- the clients are strict: an answer missing a required field fails them

INCOMPLETE_USAGE = {  # what turnout used to send: no per-side cost in cost_details
    "prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5, "cost": 0.5, "is_byok": False,
    "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0},
    "cost_details": {"upstream_inference_cost": None},
}


@pytest.fixture(scope="module")
def lax_server() -> Iterator[str]:
    async def chat(request: Request) -> Response:
        if (await request.json()).get("stream"):
            # what turnout used to stream: a null system_fingerprint in every chunk
            head = {"id": "gen-1", "object": "chat.completion.chunk", "created": 1, "model": "test/echo",
                    "system_fingerprint": None}
            chunk = {**head, "choices": [{"index": 0, "delta": {"content": "echo: hello there"}, "finish_reason": "stop"}]}
            body = f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n"
            return Response(body, media_type="text/event-stream")
        return JSONResponse({
            "id": "gen-1", "object": "chat.completion", "created": 1, "model": "test/echo", "system_fingerprint": None,
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "echo: hello there"}}],
            "usage": INCOMPLETE_USAGE,
        })

    with serve(Starlette(routes=[Route("/api/v1/chat/completions", chat, methods=["POST"])])) as url:
        yield f"{url}/api/v1"


def test_the_typescript_sdk_refuses_what_turnout_used_to_send(node: str, lax_server: str) -> None:
    found, stderr = run_cases(node, "sdk-chat", lax_server, "sk-any")
    assert not found["sdk-chat"]["ok"]
    assert found["sdk-chat"]["name"] == "ResponseValidationError", found
    assert "upstream_inference_prompt_cost" in stderr
    found, stderr = run_cases(node, "sdk-chat-stream", lax_server, "sk-any")
    assert not found["sdk-chat-stream"]["ok"] and "system_fingerprint" in found["sdk-chat-stream"]["error"]
