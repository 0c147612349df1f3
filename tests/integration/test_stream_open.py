"""Streams that open at once (issue 17), and an upstream on IPv6, through a live gateway.

The upstream (tests/fakes/late_upstream.py) says nothing for a second before it answers; the
gateway's `stream_open_grace` is 0.3 s here and its keep-alive interval 0.25 s.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import create_key
from tests.fakes.late_upstream import LATE
from tests.fakes.late_upstream import create_app as create_late
from tests.fakes.server import serve
from turnout.app import create_app
from turnout.settings import load_settings

PRICING = {"prompt": "0.000001", "completion": "0.000002"}
GRACE = 0.3


def model(*endpoints: tuple[str, str]) -> dict[str, Any]:
    return {"context_length": 8192, "endpoints": [{"provider": p, "model": m, "pricing": PRICING} for p, m in endpoints]}


class Live:
    def __init__(self, url: str, key: str) -> None:
        self.api = f"{url}/api/v1"
        self.key = key

    def stream(self, path: str, body: dict[str, Any]) -> tuple[httpx.Response, list[tuple[float, bytes]]]:
        """POST a streamed request; every piece of the body with the time it arrived."""
        pieces: list[tuple[float, bytes]] = []
        t0 = time.monotonic()
        headers = {"authorization": f"Bearer {self.key}", "x-api-key": self.key, "anthropic-version": "2023-06-01"}
        with httpx.stream("POST", f"{self.api}{path}", json={**body, "stream": True}, headers=headers, timeout=20) as r:
            for piece in r.iter_raw():
                pieces.append((time.monotonic() - t0, piece))
        return r, pieces


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with serve(create_late()) as upstream, serve(create_late(), host="::1") as upstream6:
        assert upstream6.startswith("http://[::1]:")
        providers = {
            "late": {"name": "Late", "dialect": "openai", "base_url": f"{upstream}/v1", "api_key": "sk-late"},
            "late2": {"name": "Late Two", "dialect": "openai", "base_url": f"{upstream}/v1", "api_key": "sk-late"},
            "six": {"name": "Six", "dialect": "openai", "base_url": f"{upstream6}/v1", "api_key": "sk-six"},
        }
        models = {
            "test/late-ok": model(("late", "late-ok")),
            "test/late-500": model(("late", "late-500")),
            "test/quick-500": model(("late", "quick-500")),
            "test/quick-ok": model(("late", "quick-ok")),
            "test/late-fallback": model(("late", "late-500"), ("late2", "late-ok")),
            "test/ipv6": model(("six", "quick-ok")),
        }
        data_dir: Path = tmp_path_factory.mktemp("stream-open")
        settings = load_settings(None, env={}, data_dir=data_dir, catalog_dataset=False, keepalive_interval=0.25,
                                 read_timeout=5.0, stream_open_grace=GRACE, providers=providers, models=models)
        key = create_key(settings, "test")
        with serve(create_app(settings)) as url:
            yield Live(url, key)


CHAT = {"messages": [{"role": "user", "content": "hi"}]}


def data_frames(pieces: list[tuple[float, bytes]]) -> list[str]:
    body = b"".join(p for _, p in pieces).decode()
    return [line[6:] for line in body.split("\n") if line.startswith("data: ")]


def test_a_slow_upstream_stream_opens_within_the_grace_with_processing_comments(live: Live) -> None:
    r, pieces = live.stream("/chat/completions", {**CHAT, "model": "test/late-ok"})
    assert r.status_code == 200
    first_at, first = pieces[0]
    assert first.startswith(b": TURNOUT PROCESSING\n\n") and first_at < LATE - 0.2, pieces[:3]
    body = b"".join(p for _, p in pieces)
    before_content = body.split(b"data: ")[0]
    assert before_content.count(b": TURNOUT PROCESSING") >= 3  # one at once, then one every keep-alive interval
    frames = data_frames(pieces)
    text = "".join(json.loads(f)["choices"][0]["delta"].get("content") or "" for f in frames[:-1] if json.loads(f)["choices"])
    assert text == "Hello world" and frames[-1] == "[DONE]"
    assert all(json.loads(f).get("provider") == "Late" for f in frames[:-1])  # known once it answered


def test_the_openai_sdk_reads_a_stream_that_opened_early(live: Live) -> None:
    client = openai.OpenAI(base_url=live.api, api_key=live.key, max_retries=0)
    stream = client.chat.completions.create(model="test/late-ok", messages=[{"role": "user", "content": "hi"}], stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "Hello world"


def test_fallback_after_the_stream_opened_is_silent(live: Live) -> None:
    r, pieces = live.stream("/chat/completions", {**CHAT, "model": "test/late-fallback"})
    assert r.status_code == 200 and pieces[0][1].startswith(b": TURNOUT PROCESSING")
    frames = data_frames(pieces)
    assert not any("error" in json.loads(f) for f in frames if f != "[DONE]")
    assert frames[-1] == "[DONE]"
    assert {json.loads(f)["provider"] for f in frames[:-1]} == {"Late Two"}


def test_an_upstream_error_after_the_stream_opened_arrives_in_band_in_each_dialect(live: Live) -> None:
    r, pieces = live.stream("/chat/completions", {**CHAT, "model": "test/late-500"})
    assert r.status_code == 200 and pieces[0][1].startswith(b": TURNOUT PROCESSING")
    last = json.loads(data_frames(pieces)[-1])  # OpenRouter's mid-stream error shape
    assert last["error"]["code"] == 502 and "exploded" in last["error"]["message"]
    assert last["choices"][0]["finish_reason"] == "error"

    r, pieces = live.stream("/messages", {**CHAT, "model": "test/late-500", "max_tokens": 20})
    body = b"".join(p for _, p in pieces).decode()
    assert r.status_code == 200 and body.startswith(": TURNOUT PROCESSING")
    assert "event: error\n" in body and '"type":"error"' in body.replace(" ", "")

    r, pieces = live.stream("/responses", {"model": "test/late-500", "input": "hi"})
    body = b"".join(p for _, p in pieces).decode()
    assert r.status_code == 200 and body.startswith(": TURNOUT PROCESSING")
    failed = [json.loads(line[6:]) for line in body.split("\n") if line.startswith("data: ") and "response.failed" in line]
    assert failed and failed[-1]["response"]["status"] == "failed" and failed[-1]["response"]["error"]["message"]


def test_an_upstream_that_answers_within_the_grace_behaves_as_before(live: Live) -> None:
    r, pieces = live.stream("/chat/completions", {**CHAT, "model": "test/quick-500"})
    assert r.status_code == 502  # an error before the stream opened is a normal HTTP error
    assert json.loads(b"".join(p for _, p in pieces))["error"]["code"] == 502
    r, pieces = live.stream("/chat/completions", {**CHAT, "model": "test/quick-ok"})
    assert r.status_code == 200 and b"TURNOUT PROCESSING" not in b"".join(p for _, p in pieces)


def test_an_upstream_on_ipv6_loopback(live: Live) -> None:
    client = openai.OpenAI(base_url=live.api, api_key=live.key, max_retries=0)
    answer = client.chat.completions.create(model="test/ipv6", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "Hello world"
    stream = client.chat.completions.create(model="test/ipv6", messages=[{"role": "user", "content": "hi"}], stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "Hello world"


def test_a_client_that_leaves_before_the_stream_opened_is_recorded_as_cancelled(live: Live) -> None:
    headers = {"authorization": f"Bearer {live.key}"}
    with httpx.stream("POST", f"{live.api}/chat/completions", json={**CHAT, "model": "test/late-ok", "stream": True},
                      headers=headers, timeout=20) as r:
        gen_id = r.headers["x-generation-id"]
        first = next(r.iter_raw())
        assert first.startswith(b": TURNOUT PROCESSING")
    # The connection is closed mid-wait: the open attempt is cancelled and the request recorded so.
    deadline = time.monotonic() + 5
    while True:
        got = httpx.get(f"{live.api}/generation", params={"id": gen_id}, headers=headers)
        if got.status_code == 200 and got.json()["data"]["status"] == "cancelled":
            break
        assert time.monotonic() < deadline, got.text
        time.sleep(0.05)


def test_a_legacy_completion_stream_opens_early_and_names_its_provider(live: Live) -> None:
    r, pieces = live.stream("/completions", {"model": "test/late-ok", "prompt": "hi"})
    assert r.status_code == 200 and pieces[0][1].startswith(b": TURNOUT PROCESSING")
    frames = [json.loads(f) for f in data_frames(pieces) if f != "[DONE]"]
    assert "".join(c["text"] for f in frames for c in f["choices"]) == "Hello world"
    assert {f["provider"] for f in frames} == {"Late"}
