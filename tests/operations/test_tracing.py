"""OpenTelemetry: spans exported over OTLP/HTTP to a real receiver, decoded with opentelemetry-proto."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Upstream, create_key
from tests.fakes.otlp_receiver import Received
from tests.fakes.otlp_receiver import create_app as create_receiver
from tests.fakes.server import serve
from tests.operations.conftest import settings_for
from turnout.app import create_app
from turnout.observe.tracing import enabled
from turnout.settings import load_settings

INCOMING_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
INCOMING_SPAN = "00f067aa0ba902b7"
SECRET_PROMPT = "my-secret-prompt-words"


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[str, Received]]:
    received = Received()
    with serve(create_receiver(received)) as url:
        yield url, received


def wait_for(received: Received, trace_id: str, n: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        spans = [s for s in received.spans if s["trace_id"] == trace_id]
        if len(spans) >= n:
            return spans
        time.sleep(0.1)
    raise AssertionError(f"spans of {trace_id}: {[s for s in received.spans if s['trace_id'] == trace_id]}")


def test_off_by_default_and_on_with_the_standard_variables() -> None:
    s = load_settings(None, env={})
    assert not enabled(s, {})
    assert enabled(s, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert enabled(s, {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"})
    assert not enabled(s, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_SDK_DISABLED": "true"})
    assert not enabled(load_settings(None, env={}, tracing=False), {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"})
    assert enabled(load_settings(None, env={"TURNOUT_TRACING": "1"}), {})


def test_request_span_attempt_spans_and_traceparent(upstream: Upstream, receiver: tuple[str, Received],
                                                    tmp_path: Path) -> None:
    url, received = receiver
    settings = settings_for(upstream, tmp_path, tracing=True, tracing_endpoint=f"{url}/v1/traces")
    key = create_key(settings, "traced")
    with serve(create_app(settings)) as gw:
        seen = len(upstream.state.requests)
        r = httpx.post(f"{gw}/api/v1/chat/completions", timeout=30,
                       headers={"authorization": f"Bearer {key}", "traceparent": f"00-{INCOMING_TRACE}-{INCOMING_SPAN}-01"},
                       json={"model": "test/fallback", "messages": [{"role": "user", "content": SECRET_PROMPT}]})
        assert r.status_code == 200, r.text
        spans = wait_for(received, INCOMING_TRACE, 3)
        upstream_headers = [q["headers"] for q in upstream.state.requests[seen:]]
        # a request without a traceparent starts its own trace
        r2 = httpx.post(f"{gw}/api/v1/chat/completions", timeout=30, headers={"authorization": f"Bearer {key}"},
                        json={"model": "test/echo", "stream": True, "messages": [{"role": "user", "content": "x"}]})
        assert r2.status_code == 200
        deadline = time.monotonic() + 15
        while not any(s["attributes"].get("gen_ai.response.id") == r2.headers["x-generation-id"] for s in received.spans):
            assert time.monotonic() < deadline
            time.sleep(0.1)

    (root,) = [s for s in spans if s["parent_span_id"] == INCOMING_SPAN]
    assert root["name"] == "chat test/fallback"
    a = root["attributes"]
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.request.model"] == "test/fallback"
    assert a["gen_ai.response.model"] == "echo"
    assert a["gen_ai.provider.name"] == "fake2"
    assert a["gen_ai.usage.input_tokens"] > 0 and a["gen_ai.usage.output_tokens"] > 0
    assert a["gen_ai.response.id"] == r.headers["x-generation-id"]
    assert a["gen_ai.response.finish_reasons"] == ["stop"]
    attempts = sorted((s for s in spans if s["parent_span_id"] == root["span_id"]), key=lambda s: s["start"])
    assert [s["attributes"]["gen_ai.provider.name"] for s in attempts] == ["fake", "fake2"]
    assert attempts[0]["attributes"]["error.type"] == "provider_server_error"
    assert attempts[0]["attributes"]["http.response.status_code"] == 500
    assert attempts[0]["status"] == 2  # STATUS_CODE_ERROR
    assert attempts[1]["attributes"]["turnout.attempt.outcome"] == "ok"
    assert root["start"] <= attempts[0]["start"] <= attempts[1]["start"] <= root["end"]
    # the upstream got this trace's traceparent, whose parent is the request span
    assert len(upstream_headers) == 2
    for h in upstream_headers:
        assert h["traceparent"] == f"00-{INCOMING_TRACE}-{root['span_id']}-01"
    assert received.resources[0]["service.name"] == "turnout"
    # prompts and completions are not exported
    every = repr(received.spans)
    assert SECRET_PROMPT not in every and "echo: " not in every
    own = [s for s in received.spans if s["attributes"].get("gen_ai.response.id") == r2.headers["x-generation-id"]]
    assert own[0]["trace_id"] != INCOMING_TRACE and own[0]["parent_span_id"] == ""
    assert own[0]["attributes"]["turnout.streamed"] is True


def test_content_is_exported_only_when_asked(upstream: Upstream, receiver: tuple[str, Received], tmp_path: Path) -> None:
    url, received = receiver
    settings = settings_for(upstream, tmp_path, tracing=True, tracing_endpoint=f"{url}/v1/traces",
                            tracing_capture_content=True)
    key = create_key(settings, "traced")
    trace = "0af7651916cd43dd8448eb211c80319c"
    with serve(create_app(settings)) as gw:
        r = httpx.post(f"{gw}/api/v1/chat/completions", timeout=30,
                       headers={"authorization": f"Bearer {key}", "traceparent": f"00-{trace}-b7ad6b7169203331-01"},
                       json={"model": "test/echo", "messages": [{"role": "user", "content": SECRET_PROMPT}]})
        assert r.status_code == 200
        spans = wait_for(received, trace, 2)
    assert any(SECRET_PROMPT in str(s["attributes"].get("gen_ai.input.messages")) for s in spans)
