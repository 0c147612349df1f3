"""Through the whole gateway (the shared session `gateway` fixture): catalog, chat, stream, embeddings."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from tests.conftest import Gateway

from .conftest import needs_chat, needs_embeddings


def call(gw: Gateway, path: str, body: dict[str, Any] | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(
        f"{gw.api}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {gw.key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_catalog_lists_the_local_models(gateway: Gateway) -> None:
    status, body = call(gateway, "/models")
    assert status == 200
    assert "google/gemma-3-270m" in {m["id"] for m in json.loads(body)["data"]}
    # Embedding models are listed on request, as OpenRouter does (its default is text output).
    status, body = call(gateway, "/models?output_modalities=embeddings")
    assert status == 200 and "sentence-transformers/all-minilm-l6-v2" in {m["id"] for m in json.loads(body)["data"]}


@needs_chat
@pytest.mark.slow
def test_chat_and_stream_through_the_gateway(gateway: Gateway) -> None:
    body = {
        "model": "google/gemma-3-270m",
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "temperature": 0,
        "max_tokens": 16,
    }
    status, raw = call(gateway, "/chat/completions", body)
    assert status == 200, raw
    data = json.loads(raw)
    choice = data["choices"][0]
    assert choice["message"]["content"] and choice["finish_reason"] in ("stop", "length")
    assert data["usage"]["prompt_tokens"] > 0 and data["usage"]["completion_tokens"] > 0

    status, raw = call(gateway, "/chat/completions", dict(body, stream=True, max_tokens=4))
    assert status == 200
    events = [json.loads(line[6:]) for line in raw.decode().splitlines() if line.startswith("data: {")]
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e.get("choices"))
    finishes = [
        e["choices"][0]["finish_reason"] for e in events if e.get("choices") and e["choices"][0]["finish_reason"]
    ]
    usage = [e["usage"] for e in events if e.get("usage")]
    assert text and finishes == ["length"] and usage[-1]["completion_tokens"] == 4
    assert raw.decode().rstrip().endswith("data: [DONE]")


@needs_chat
@pytest.mark.slow
def test_bad_schema_is_a_400(gateway: Gateway) -> None:
    body = {
        "model": "google/gemma-3-270m",
        "messages": [{"role": "user", "content": "hi"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "bogus"}}},
    }
    status, raw = call(gateway, "/chat/completions", body)
    assert status == 400 and "bogus" in json.loads(raw)["error"]["message"]


@needs_embeddings
def test_embeddings_through_the_gateway(gateway: Gateway) -> None:
    body = {"model": "sentence-transformers/all-minilm-l6-v2", "input": ["hello world", "second text"]}
    status, raw = call(gateway, "/embeddings", body)
    assert status == 200, raw
    data = json.loads(raw)
    assert [len(d["embedding"]) for d in data["data"]] == [384, 384]
    assert data["usage"]["prompt_tokens"] > 0
