"""Bodies that must be refused cleanly: a 400, 408, 413 or 415 in the route's own dialect
envelope, quickly, without buffering what was not sent, and the server unharmed afterwards.

Each dialect's inference route gets every hostile body over a real socket (raw where an HTTP
client would refuse to send it: a 1 GB Content-Length, a chunked body that never ends)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from tests.conftest import Gateway, Upstream, create_key, gateway_config
from tests.fakes.server import serve
from turnout.app import create_app
from turnout.protocol import GuardedProtocol
from turnout.settings import load_settings

ROUTES = {"/chat/completions": "openai", "/completions": "openai", "/embeddings": "openai",
          "/messages": "anthropic", "/responses": "responses"}
BODY_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def gw(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    config = gateway_config(upstream.url)
    settings = load_settings(None, env={}, data_dir=tmp_path_factory.mktemp("hostile"), read_timeout=2.0,
                             body_timeout=BODY_TIMEOUT, providers=config["providers"], models=config["models"])
    key = create_key(settings, "hostile")
    with serve(create_app(settings), http=GuardedProtocol) as url:  # turnout's own protocol: the body deadline
        yield Gateway(url, key, settings, upstream)


def assert_envelope(dialect: str, status: int, raw: bytes, expected: set[int]) -> dict[str, Any]:
    assert status in expected, raw[:300]
    body = orjson.loads(raw)
    if dialect == "anthropic":
        assert body["type"] == "error" and body["error"]["type"] and body["error"]["message"]
    else:
        assert body["error"]["code"] == status and body["error"]["message"]
        if dialect == "responses":
            assert body["error"]["type"]
    return body


def post(gw: Gateway, path: str, content: bytes, content_type: str = "application/json") -> httpx.Response:
    return httpx.post(f"{gw.api}{path}", content=content, timeout=10,
                      headers={"authorization": f"Bearer {gw.key}", "content-type": content_type})


def deep(n: int) -> bytes:
    return b'{"model": "test/echo", "messages": [{"role": "user", "content": "x"}], "metadata": ' + b"[" * n + b"]" * n + b"}"


HOSTILE: dict[str, bytes] = {
    "invalid utf-8": b'{"model": "test/echo", "messages": [{"role": "user", "content": "\xff\xfe"}], "input": "\xc3"}',
    "lone surrogate": b'{"model": "test/echo", "messages": [{"role": "user", "content": "\\ud800"}], "input": "\\udfff"}',
    "NaN": b'{"model": "test/echo", "messages": [{"role": "user", "content": "x"}], "temperature": NaN}',
    "Infinity": b'{"model": "test/echo", "max_tokens": Infinity, "messages": [], "input": "x"}',
    "nested 100,000 deep": deep(100_000),
    "bare nesting": b"[" * 100_000 + b"]" * 100_000,
    "empty": b"",
    "not an object": b'"hello"',
    "truncated": b'{"model": "test/echo", "messages": [',
}


@pytest.mark.parametrize("path", list(ROUTES))
@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_bodies_are_400s_in_the_dialect_envelope(gw: Gateway, path: str, name: str) -> None:
    r = post(gw, path, HOSTILE[name])
    assert_envelope(ROUTES[path], r.status_code, r.content, {400})


@pytest.mark.parametrize("path", list(ROUTES))
def test_a_hundred_thousand_messages_are_refused_by_count(gw: Gateway, path: str) -> None:
    one = {"role": "user", "content": "x"}
    # Only the route's own list: all three together pass the JSON value cap (max_json_values), a 413
    # before the count is ever checked.
    field = {"/responses": "input", "/embeddings": "input", "/completions": "prompt"}.get(path, "messages")
    body = {"model": "test/echo", "max_tokens": 5, field: ["x"] * 100_000 if path == "/completions" else [one] * 100_000}
    started = time.monotonic()
    r = post(gw, path, orjson.dumps(body))
    assert_envelope(ROUTES[path], r.status_code, r.content, {400})
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("path", list(ROUTES))
def test_wrong_content_type_is_415(gw: Gateway, path: str) -> None:
    r = post(gw, path, b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--x--", "multipart/form-data; boundary=x")
    assert_envelope(ROUTES[path], r.status_code, r.content, {415})


def raw_request(gw: Gateway, path: str, head: dict[str, str], first: bytes, wait: float) -> tuple[int, bytes, float]:
    """Send the request line, headers and `first` bytes of a body, then nothing; read the answer."""
    url = urlsplit(gw.api)
    started = time.monotonic()
    with socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout=wait) as s:
        lines = [f"POST {url.path}{path} HTTP/1.1", f"Host: {url.netloc}", f"Authorization: Bearer {gw.key}",
                 "Content-Type: application/json", *(f"{k}: {v}" for k, v in head.items())]
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + first)
        data = b""
        while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 4 + _length(data):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head_bytes, _, body = data.partition(b"\r\n\r\n")
    return int(head_bytes.split(b" ", 2)[1]), body, time.monotonic() - started


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


@pytest.mark.parametrize("path", list(ROUTES))
def test_a_declared_gigabyte_is_413_before_the_body_is_sent(gw: Gateway, path: str) -> None:
    status, body, took = raw_request(gw, path, {"Content-Length": str(1 << 30)}, b'{"model": ', wait=5)
    assert_envelope(ROUTES[path], status, body, {413})
    assert took < 3


@pytest.mark.parametrize("path", list(ROUTES))
def test_a_chunked_body_that_never_ends_is_cut(gw: Gateway, path: str) -> None:
    status, body, took = raw_request(gw, path, {"Transfer-Encoding": "chunked"}, b'a\r\n{"model": \r\n',
                                     wait=BODY_TIMEOUT + 5)
    # The HTTP protocol cuts it (protocol.py) before any route knows its dialect: OpenRouter's envelope.
    assert_envelope("openai", status, body, {408})
    assert BODY_TIMEOUT * 0.9 <= took < BODY_TIMEOUT + 3


def test_the_server_is_unharmed(gw: Gateway) -> None:
    for name in HOSTILE:
        post(gw, "/chat/completions", HOSTILE[name])
    r = post(gw, "/chat/completions", orjson.dumps({"model": "test/echo", "messages": [{"role": "user", "content": "hi"}]}))
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "echo: hi"
