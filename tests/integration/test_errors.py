"""Every failure answers in the OpenAI/OpenRouter envelope with the right status, and is recorded."""

from __future__ import annotations

import time
from decimal import Decimal

import httpx
import openai
import pytest

from tests.conftest import Gateway


def post(gateway: Gateway, body: object, key: str | None = None, **kw: object) -> httpx.Response:
    headers = {"authorization": f"Bearer {key or gateway.key}"}
    return httpx.post(f"{gateway.api}/chat/completions", json=body, headers=headers, timeout=20, **kw)


def assert_envelope(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    err = r.json()["error"]
    assert err["code"] == status and isinstance(err["message"], str) and err["message"]
    assert "Traceback" not in r.text
    return err


def record(gateway: Gateway, gen_id: str) -> dict:
    deadline = time.monotonic() + 3
    while True:
        r = httpx.get(f"{gateway.api}/generation", params={"id": gen_id}, headers={"authorization": f"Bearer {gateway.key}"})
        if r.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert r.status_code == 200, r.text
    return r.json()["data"]


MSG = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "test/echo", "messages": MSG, "temperature": 3}, "temperature"),
        ({"model": "test/echo", "messages": MSG, "temperature": "hot"}, "temperature"),
        ({"model": "test/echo", "messages": MSG, "max_tokens": 0}, "max_tokens"),
        ({"model": "test/echo", "messages": MSG, "top_p": 1.5}, "top_p"),
        ({"model": "test/echo", "messages": MSG, "top_k": 2.5}, "top_k"),
        ({"model": "test/echo", "messages": MSG, "stop": [1]}, "stop[0]"),
        ({"model": "test/echo", "messages": MSG, "logit_bias": {"50256": 200}}, "logit_bias"),
        ({"model": "test/echo", "messages": MSG, "reasoning": {"effort": "extreme"}}, "reasoning.effort"),
        ({"model": "test/echo", "messages": MSG, "response_format": {"type": "yaml"}}, "response_format.type"),
        ({"model": "test/echo", "messages": MSG, "tools": [{"type": "function"}]}, "tools[0].function"),
        ({"model": "test/echo", "messages": MSG, "tool_choice": "sometimes"}, "tool_choice"),
        ({"model": "test/echo", "messages": MSG, "stream": "yes"}, "stream"),
        ({"model": "test/echo", "messages": []}, "messages"),
        ({"model": "test/echo", "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"model": "test/echo", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}, "messages[0].content[0].image_url.url"),
        ({"model": "test/echo", "messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
        ({"messages": MSG}, "model"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(gateway: Gateway, body: dict, param: str) -> None:
    before = len(gateway.upstream.state.requests)
    err = assert_envelope(post(gateway, body), 400)
    assert err["metadata"]["param"] == param
    assert len(gateway.upstream.state.requests) == before  # nothing reached the upstream


def test_unknown_model_is_400(gateway: Gateway) -> None:
    err = assert_envelope(post(gateway, {"model": "acme/fake-1.0", "messages": MSG}), 400)
    assert err["message"] == "acme/fake-1.0 is not a valid model ID"


def test_invalid_json_and_empty_body(gateway: Gateway) -> None:
    headers = {"authorization": f"Bearer {gateway.key}", "content-type": "application/json"}
    assert_envelope(httpx.post(f"{gateway.api}/chat/completions", content=b"{not json", headers=headers), 400)
    assert_envelope(httpx.post(f"{gateway.api}/chat/completions", content=b"", headers=headers), 400)
    assert_envelope(httpx.post(f"{gateway.api}/chat/completions", content=b"[1, 2]", headers=headers), 400)


def test_missing_and_bad_keys_are_401(gateway: Gateway) -> None:
    r = httpx.post(f"{gateway.api}/chat/completions", json={"model": "test/echo", "messages": MSG})
    assert assert_envelope(r, 401)["message"] == "Missing Authentication header"
    assert_envelope(post(gateway, {"model": "test/echo", "messages": MSG}, key="sk-tn-v1-nope"), 401)


def test_key_over_its_limit_is_402(gateway: Gateway) -> None:
    limit = Decimal("0.0002")
    key = gateway.new_key("tiny", limit=limit)
    body = {"model": "test/echo", "messages": [{"role": "user", "content": "spend " * 20}], "max_tokens": 20}
    costs = []
    for _ in range(30):
        r = post(gateway, body, key=key)
        if r.status_code != 200:
            break
        costs.append(Decimal(str(r.json()["usage"]["cost"])))
    assert costs, "the first request fits the limit"
    assert_envelope(r, 402)
    spent = Decimal(str(httpx.get(f"{gateway.api}/key", headers={"authorization": f"Bearer {key}"}).json()["data"]["usage"]))
    assert spent == sum(costs) and spent <= limit + max(costs)


def test_sdk_raises_typed_errors(gateway: Gateway) -> None:
    client = openai.OpenAI(base_url=gateway.api, api_key=gateway.key, max_retries=0)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="acme/none", messages=MSG)
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=gateway.api, api_key="wrong", max_retries=0).chat.completions.create(model="test/echo", messages=MSG)


@pytest.mark.parametrize(
    ("model", "status", "kind"),
    [
        ("test/error-400", 400, "provider_invalid_request"),
        ("test/error-401", 502, "provider_auth_failed"),
        ("test/error-429", 429, "provider_rate_limited"),
        ("test/error-500", 502, "provider_server_error"),
        ("test/error-503", 503, "provider_overloaded"),
        ("test/html-500", 502, "provider_server_error"),
        ("test/empty-500", 502, "provider_server_error"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_upstream_errors_map_to_statuses_and_are_recorded(gateway: Gateway, model: str, status: int, kind: str, stream: bool) -> None:
    r = post(gateway, {"model": model + ("-2" if stream else ""), "messages": MSG, "stream": stream})
    err = assert_envelope(r, status)
    meta = err["metadata"]
    assert meta["provider_name"] == "Fake" and meta["error_type"] == kind
    assert "raw" in meta or model == "test/empty-500"
    if model == "test/error-429":
        assert r.headers["retry-after"] == "7"
    if model == "test/html-500":
        assert "<html>" in meta["raw"]
    rec = record(gateway, r.headers["x-generation-id"]) if "x-generation-id" in r.headers else None
    assert rec is None or rec["status"] == "error"


def test_error_responses_carry_generation_id_and_are_recorded(gateway: Gateway) -> None:
    r = post(gateway, {"model": "test/error-500", "messages": MSG})
    gen_id = r.headers.get("x-generation-id")
    assert gen_id, "failed requests are recorded and their id returned"
    rec = record(gateway, gen_id)
    assert rec["status"] == "error" and rec["error_code"] == 502 and rec["attempts"][0]["outcome"] == "error"


def test_upstream_timeout_is_408(gateway: Gateway) -> None:
    started = time.monotonic()
    err = assert_envelope(post(gateway, {"model": "test/hang", "messages": MSG}), 408)
    assert err["metadata"]["error_type"] == "provider_timeout"
    assert time.monotonic() - started < 10


def test_fallback_to_the_next_endpoint(gateway: Gateway) -> None:
    r = post(gateway, {"model": "test/fallback", "messages": MSG})
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["provider"] == "Fake Two" and data["choices"][0]["message"]["content"] == "echo: hi"
    rec = record(gateway, data["id"])
    assert [a["outcome"] for a in rec["attempts"]] == ["error", "ok"]


def test_no_endpoint_can_take_images_or_tools(gateway: Gateway) -> None:
    image = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}]
    err = assert_envelope(post(gateway, {"model": "test/text-only", "messages": image}), 404)
    assert "image" in err["message"]
    tools = [{"type": "function", "function": {"name": "f"}}]
    err = assert_envelope(post(gateway, {"model": "test/text-only", "messages": MSG, "tools": tools}), 404)
    assert "tool" in err["message"]


def test_provider_without_key_is_503(gateway: Gateway) -> None:
    err = assert_envelope(post(gateway, {"model": "z-ai/glm-4.6", "messages": MSG}), 503)
    assert "ZAI_API_KEY" in err["message"]


def test_unknown_route_is_404_envelope(gateway: Gateway) -> None:
    assert_envelope(httpx.get(f"{gateway.api}/nothing-here"), 404)
