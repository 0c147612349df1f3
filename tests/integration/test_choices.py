"""`n`: turnout answers with one choice per request, so any other `n` is refused with a 400 naming
`n` before an upstream is asked, never answered with fewer choices than asked for."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from tests.conftest import Gateway

USER = [{"role": "user", "content": "hello"}]


def post(gateway: Gateway, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{gateway.api}{path}", json=body, headers={"authorization": f"Bearer {gateway.key}"}, timeout=30)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("n", [2, 5, 0, -1, 1.5, "2", True])
def test_n_other_than_one_is_refused_naming_n(gateway: Gateway, n: Any, stream: bool) -> None:
    asked = len(gateway.upstream.state.requests)
    r = post(gateway, "/chat/completions", {"model": "test/echo", "messages": USER, "n": n, "stream": stream})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == 400 and error["metadata"]["param"] == "n" and "'n'" in error["message"]
    assert len(gateway.upstream.state.requests) == asked  # refused before any upstream call


def test_n_of_one_is_served_and_not_forwarded(gateway: Gateway) -> None:
    for n in (1, 1.0, None):
        r = post(gateway, "/chat/completions", {"model": "test/echo", "messages": USER, "n": n})
        assert r.status_code == 200 and len(r.json()["choices"]) == 1
        assert "n" not in gateway.upstream.state.requests[-1]["body"]


def test_the_openai_sdk_sees_a_bad_request_naming_n(gateway: Gateway) -> None:
    client = openai.OpenAI(base_url=gateway.api, api_key=gateway.key, max_retries=0)
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="test/echo", messages=USER, n=3)  # type: ignore[arg-type]
    assert err.value.body["metadata"]["param"] == "n"  # type: ignore[index]


def test_legacy_completions_refuse_n_too(gateway: Gateway) -> None:
    r = post(gateway, "/completions", {"model": "test/echo", "prompt": "hi", "n": 2})
    assert r.status_code == 400 and r.json()["error"]["metadata"]["param"] == "n"
