"""The app's body bounds: the key before the body on every route, per-route size limits, the JSON
value bound, and the per-process budget of bodies being read (real sockets, a gateway in a thread)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from starlette.routing import Route

from tests.conftest import Upstream
from tests.frontdoor.conftest import ADMIN, Served, connect, gateway_in_thread, head, read_answer
from turnout.app import api_routes

BODY_METHODS = {"POST", "PATCH", "DELETE", "PUT"}


@pytest.fixture(scope="module")
def gw(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with gateway_in_thread(upstream, tmp_path_factory.mktemp("body-limits"), max_json_values=20_000) as served:
        yield served


def body_routes() -> list[tuple[str, str]]:
    out = []
    for route in api_routes():
        assert isinstance(route, Route)
        path = re.sub(r"\{[^}]+\}", "x1", route.path)
        for method in sorted((route.methods or set()) & BODY_METHODS):
            out.append((method, path))
    return out


def assert_dialect_envelope(path: str, answer_json: dict, status: int) -> None:
    """Each route answers in its own dialect's error shape."""
    if path.startswith("/messages"):
        assert answer_json["type"] == "error"
        assert answer_json["error"]["type"] == {401: "authentication_error", 403: "permission_error"}[status]
    elif path.startswith("/responses"):
        # OpenAI's error object, plus OpenRouter's `metadata` (its strict SDKs require it) and the HTTP code
        assert set(answer_json["error"]) == {"message", "type", "param", "code", "metadata"}
        assert answer_json["error"]["code"] == status
    else:
        assert answer_json["error"]["code"] == status


def test_the_route_table_has_body_routes() -> None:
    routes = body_routes()
    for expected in [("POST", "/chat/completions"), ("POST", "/messages"), ("POST", "/messages/count_tokens"),
                     ("POST", "/responses"), ("POST", "/completions"), ("POST", "/embeddings"), ("POST", "/keys"),
                     ("PATCH", "/keys/x1"), ("POST", "/credits")]:
        assert expected in routes


@pytest.mark.parametrize(("method", "path"), body_routes())
@pytest.mark.parametrize("prefix", ["/api/v1", "/v1"])
@pytest.mark.parametrize("auth", [None, "Bearer sk-tn-v1-not-a-key-0000000000000000000000000"])
def test_a_keyless_request_is_refused_before_its_body_is_read(gw: Served, method: str, path: str, prefix: str,
                                                            auth: str | None) -> None:
    """The body is announced (5 MB) and never sent: the answer must come from the headers alone."""
    headers = {"Content-Type": "application/json", "Content-Length": "5000000"}
    if auth:
        headers["Authorization"] = auth
    with connect(gw.port, timeout=3) as s:
        s.sendall(head(method, prefix + path, headers) + b'{"model": ')
        answer = read_answer(s)  # a read timeout here: the route waited for the body
    assert answer.status == 401, answer.body
    assert_dialect_envelope(path, answer.json(), 401)


@pytest.mark.parametrize(("method", "path"), [r for r in body_routes() if r[1].startswith(("/keys", "/credits"))])
def test_a_user_key_on_an_admin_route_is_refused_before_its_body_is_read(gw: Served, method: str, path: str) -> None:
    headers = {"Content-Type": "application/json", "Content-Length": "5000000", "Authorization": f"Bearer {gw.key}"}
    with connect(gw.port, timeout=3) as s:
        s.sendall(head(method, "/api/v1" + path, headers))
        answer = read_answer(s)
    assert answer.status == 403, answer.body


def test_management_bodies_have_the_small_limit(gw: Served) -> None:
    admin = {"authorization": f"Bearer {ADMIN}"}
    big = {"name": "padded", "limit": 1, "note": "x" * (70 * 1024)}
    for method, path in [("POST", "/keys"), ("PATCH", "/keys/abc"), ("POST", "/credits")]:
        r = httpx.request(method, f"{gw.url}/api/v1{path}", json=big, headers=admin, timeout=10)
        assert r.status_code == 413, (path, r.text)
        assert f"exceeds {gw.settings.max_small_body_bytes} bytes" in r.json()["error"]["message"]
    # Announced over the limit: refused from the headers, the body never sent.
    with connect(gw.port, timeout=3) as s:
        s.sendall(head("POST", "/api/v1/keys", {"Authorization": f"Bearer {ADMIN}", "Content-Length": "70000"}))
        assert read_answer(s).status == 413
    ok = httpx.post(f"{gw.url}/api/v1/keys", json={"name": "small-body"}, headers=admin, timeout=10)
    assert ok.status_code == 201, ok.text


def test_inference_bodies_keep_the_large_limit(gw: Served) -> None:
    """A 1 MB prompt (an image's worth) still passes on chat and count_tokens."""
    text = "word " * (1024 * 1024 // 5)
    auth = {"authorization": f"Bearer {gw.key}"}
    r = httpx.post(f"{gw.url}/api/v1/chat/completions", headers=auth, timeout=30,
                   json={"model": "test/echo", "messages": [{"role": "user", "content": text}], "max_tokens": 5})
    # The body is read and parsed; the 8K-context test model's context check may then refuse it.
    assert (r.status_code != 413 and "context length" in r.text) or r.status_code == 200, r.text
    r = httpx.post(f"{gw.url}/api/v1/messages/count_tokens", headers=auth, timeout=30,
                   json={"model": "test/echo", "messages": [{"role": "user", "content": text}]})
    assert r.status_code == 200, r.text


def values_body(n_messages: int) -> bytes:
    messages = b",".join([b'{"role":"user","content":"a"}'] * n_messages)
    return b'{"model":"test/echo","max_tokens":5,"messages":[' + messages + b"]}"


def test_a_body_of_too_many_json_values_is_refused_before_it_is_parsed(gw: Served) -> None:
    auth = {"authorization": f"Bearer {gw.key}", "content-type": "application/json"}
    # 10,000 messages of 3 values each (30,000 > the 20,000 configured), 300 kB: refused with 413.
    r = httpx.post(f"{gw.url}/api/v1/chat/completions", headers=auth, content=values_body(10_000), timeout=30)
    assert r.status_code == 413, r.text
    assert "more than 20000 JSON values" in r.json()["error"]["message"]
    # Anthropic's route refuses it in its own envelope.
    r = httpx.post(f"{gw.url}/api/v1/messages", headers=auth, content=values_body(10_000), timeout=30)
    assert r.status_code == 413 and r.json()["error"]["type"] == "request_too_large"
    # 4 MB of empty objects: refused once the count passes, without waiting for the rest to parse.
    tiny = b'{"model":"test/echo","messages":[' + b"{}," * (4 * 1024 * 1024 // 3) + b"{}]}"
    r = httpx.post(f"{gw.url}/api/v1/chat/completions", headers=auth, content=tiny, timeout=30)
    assert r.status_code == 413, r.text
    # Under the bound (5,000 messages, 15,000 values, larger than the counting threshold): parsed.
    body = values_body(5_000)
    assert len(body) > 16 * 1024
    r = httpx.post(f"{gw.url}/api/v1/messages/count_tokens", headers=auth, content=body, timeout=30)
    assert r.status_code == 200, r.text


def test_the_body_budget_bounds_bodies_read_at_once(upstream: Upstream, tmp_path: Path) -> None:
    """A 1 MiB budget: while one upload holds 900 kB, a second waits (body_timeout) then gets 503;
    once the first is parsed, the budget is whole again."""
    with gateway_in_thread(upstream, tmp_path, body_budget_bytes=1024 * 1024, body_timeout=1.0) as gw:
        text = "a" * (960 * 1024)
        body = orjson.dumps({"model": "test/echo", "max_tokens": 5, "messages": [{"role": "user", "content": text}]})
        headers = {"Authorization": f"Bearer {gw.key}", "Content-Type": "application/json",
                   "Content-Length": str(len(body))}
        with connect(gw.port, timeout=10) as first:
            first.sendall(head("POST", "/api/v1/messages/count_tokens", headers) + body[:900 * 1024])
            time.sleep(0.3)  # the app has taken what arrived
            started = time.monotonic()
            second = httpx.post(f"{gw.url}/api/v1/messages/count_tokens", content=body, timeout=10,
                                headers={"Authorization": f"Bearer {gw.key}", "Content-Type": "application/json"})
            waited = time.monotonic() - started
            assert second.status_code == 503, second.text
            assert second.json()["error"]["type"] == "overloaded_error"
            assert second.headers["retry-after"] == "1"
            assert 0.8 < waited < 5
            first.sendall(body[900 * 1024:])
            answer = read_answer(first)
            assert answer.status == 200, answer.body
        # Everything was given back: three at once, one after another in the budget, all served.
        results: list[int] = []

        def post() -> None:
            r = httpx.post(f"{gw.url}/api/v1/messages/count_tokens", content=body, timeout=10,
                           headers={"Authorization": f"Bearer {gw.key}", "Content-Type": "application/json"})
            results.append(r.status_code)

        threads = [threading.Thread(target=post) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(15)
        assert results == [200, 200, 200]


def wait_until(check: Callable[[], bool], seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_every_answer_gives_its_budget_back(gw: Served) -> None:
    """Whatever the route and however the answer ends, the budget returns to zero."""
    auth = {"authorization": f"Bearer {gw.key}"}
    chat = {"model": "test/echo", "messages": [{"role": "user", "content": "hi " * 1000}], "max_tokens": 5}
    url = f"{gw.url}/api/v1"
    assert httpx.post(f"{url}/chat/completions", json=chat, headers=auth, timeout=10).status_code == 200
    with httpx.stream("POST", f"{url}/chat/completions", json={**chat, "stream": True}, headers=auth, timeout=10) as r:
        assert r.status_code == 200 and b"[DONE]" in r.read()
    assert httpx.post(f"{url}/chat/completions", json={**chat, "model": "nope/none"}, headers=auth,
                      timeout=10).status_code == 400
    assert httpx.post(f"{url}/messages/count_tokens", json=chat, headers=auth, timeout=10).status_code == 200
    assert httpx.post(f"{url}/responses", json={"model": "test/echo", "input": "hi"}, headers=auth,
                      timeout=10).status_code == 200
    assert httpx.post(f"{url}/keys", json={"name": "budget-check"}, headers={"authorization": f"Bearer {ADMIN}"},
                      timeout=10).status_code == 201
    # A client that leaves in the middle of a stream.
    with httpx.stream("POST", f"{url}/chat/completions", headers=auth, timeout=10,
                      json={**chat, "model": "test/hang-stream", "stream": True}) as r:
        assert r.status_code == 200
        next(r.iter_bytes())
    assert wait_until(lambda: gw.budget_used() == 0), gw.budget_used()


def test_a_parsed_body_holds_the_budget_until_its_answer_ends(upstream: Upstream, tmp_path: Path) -> None:
    """A 512 KiB budget: a 12 kB chat waiting on its upstream holds ~390 kB (its worst-case parsed
    size) until it is answered, so a 1 MiB body meanwhile waits, then gets 503; afterwards it passes."""
    with gateway_in_thread(upstream, tmp_path, body_budget_bytes=512 * 1024, body_timeout=0.5,
                           read_timeout=2.0) as gw:
        auth = {"authorization": f"Bearer {gw.key}"}
        waiting = {"model": "test/hang", "messages": [{"role": "user", "content": "a " * 6_000}], "max_tokens": 5}
        big = {"model": "test/echo", "messages": [{"role": "user", "content": "b" * (1024 * 1024)}]}
        answers: list[int] = []
        first = threading.Thread(target=lambda: answers.append(httpx.post(
            f"{gw.url}/api/v1/chat/completions", json=waiting, headers=auth, timeout=10).status_code))
        first.start()
        assert wait_until(lambda: gw.budget_used() > 350_000)
        r = httpx.post(f"{gw.url}/api/v1/messages/count_tokens", json=big, headers=auth, timeout=10)
        assert r.status_code == 503, r.text
        first.join(10)
        assert answers == [408]
        assert gw.budget_used() == 0
        r = httpx.post(f"{gw.url}/api/v1/messages/count_tokens", json=big, headers=auth, timeout=10)
        assert r.status_code == 200, r.text
        assert wait_until(lambda: gw.budget_used() == 0)
