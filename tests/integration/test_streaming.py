"""Streaming edge cases over a real socket: keep-alives, cut upstreams, disconnects, missing usage."""

from __future__ import annotations

import json
import socket
import time

import httpx
import openai
import pytest

from tests.conftest import Gateway


def stream_raw(gateway: Gateway, model: str, content: str = "one two three four") -> tuple[httpx.Response, bytes]:
    with httpx.stream(
        "POST",
        f"{gateway.api}/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": content}], "stream": True},
        headers={"authorization": f"Bearer {gateway.key}"},
        timeout=20,
    ) as r:
        body = r.read()
    return r, body


def data_frames(body: bytes) -> list[str]:
    return [line[6:] for line in body.decode().split("\n") if line.startswith("data: ")]


def record(gateway: Gateway, gen_id: str, status: str | None = None) -> dict:
    deadline = time.monotonic() + 5
    while True:
        r = httpx.get(f"{gateway.api}/generation", params={"id": gen_id}, headers={"authorization": f"Bearer {gateway.key}"})
        if r.status_code == 200 and (status is None or r.json()["data"]["status"] == status):
            return r.json()["data"]
        assert time.monotonic() < deadline, r.text
        time.sleep(0.05)


def test_keepalive_comments_while_upstream_is_silent(gateway: Gateway) -> None:
    # The fake waits 1.2 s before its first chunk; once the stream has started, turnout writes a
    # comment every keep-alive interval (0.5 s in tests) while the upstream says nothing.
    r, body = stream_raw(gateway, "test/echo")
    assert b": TURNOUT PROCESSING" not in body  # a lively upstream gets none
    r, body = stream_raw(gateway, "test/hang-stream")
    assert r.status_code == 200
    assert body.count(b": TURNOUT PROCESSING") >= 2
    frames = data_frames(body)
    last = json.loads(frames[-1])
    assert last["error"]["metadata"]["error_type"] == "provider_timeout"  # silence past read_timeout
    assert last["choices"][0]["finish_reason"] == "error"


def test_cut_stream_ends_with_an_error_chunk_and_is_recorded(gateway: Gateway) -> None:
    r, body = stream_raw(gateway, "test/cut")
    assert r.status_code == 200
    frames = data_frames(body)
    assert "[DONE]" not in frames  # never a silent clean end
    usage_chunk = json.loads(frames[-2])
    assert usage_chunk["usage"]["completion_tokens"] > 0  # what was streamed is still counted
    err = json.loads(frames[-1])
    assert err["error"]["code"] == 502 and err["choices"][0]["finish_reason"] == "error"
    rec = record(gateway, r.headers["x-generation-id"])
    assert rec["status"] == "error" and rec["tokens_completion"] > 0 and rec["usage_estimated"] is True


def test_openai_sdk_raises_on_mid_stream_error(gateway: Gateway) -> None:
    client = openai.OpenAI(base_url=gateway.api, api_key=gateway.key, max_retries=0)
    stream = client.chat.completions.create(model="test/cut", messages=[{"role": "user", "content": "a b c d e"}], stream=True)
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass


def test_missing_upstream_usage_is_estimated(gateway: Gateway) -> None:
    client = openai.OpenAI(base_url=gateway.api, api_key=gateway.key, max_retries=0)
    r = client.chat.completions.create(model="test/no-usage", messages=[{"role": "user", "content": "count me please"}])
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0
    chunks = list(client.chat.completions.create(model="test/no-usage", messages=[{"role": "user", "content": "x"}], stream=True))
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_client_disconnect_cancels_the_upstream_and_is_recorded(gateway: Gateway) -> None:
    state = gateway.upstream.state
    before = state.cancelled.count("hang-stream")
    host, port = gateway.url.removeprefix("http://").split(":")
    body = json.dumps({"model": "test/hang-stream", "messages": [{"role": "user", "content": "a b c"}], "stream": True}).encode()
    sock = socket.create_connection((host, int(port)))
    sock.sendall(
        b"POST /api/v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {gateway.key}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    head = b""
    while b"\r\n\r\n" not in head or b"data: " not in head:
        head += sock.recv(4096)
    gen_id = head.split(b"x-generation-id: ")[1].split(b"\r\n")[0].decode()
    sock.close()  # the client goes away mid-stream
    deadline = time.monotonic() + 5
    while state.cancelled.count("hang-stream") == before:
        assert time.monotonic() < deadline, "the upstream request was not cancelled"
        time.sleep(0.05)
    rec = record(gateway, gen_id, status="cancelled")
    assert rec["error_code"] == 499 and rec["streamed"] is True


def test_u2028_inside_json_survives_streaming(gateway: Gateway) -> None:
    text = "line\u2028separator\u2029para\x85nel"
    client = openai.OpenAI(base_url=gateway.api, api_key=gateway.key, max_retries=0)
    chunks = list(client.chat.completions.create(model="test/echo", messages=[{"role": "user", "content": text}], stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == f"echo: {text}"
