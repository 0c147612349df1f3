"""Per-request helpers: the attempts' bound, the upstream body's scalars, integral floats, answers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from turnout.api.request import JSONAnswer
from turnout.api.wire import integral
from turnout.core.money.bounds import MAX_ATTEMPT_TEXT, MAX_ATTEMPTS, bounded
from turnout.model.chat import ChatRequest, Message
from turnout.providers.base import Target
from turnout.providers.openai import _SCALARS, QUIRKS, to_openai_body
from turnout.store.base import GenerationRecord


def record(attempts: list[dict[str, Any]]) -> GenerationRecord:
    return GenerationRecord(
        id="gen-1-x", created_at=1.0, key_hash=None, model="a/b", provider="p", upstream_model="m", dialect_in="openai",
        dialect_out="openai", streamed=False, status="ok", finish_reason="stop", native_finish_reason="stop",
        prompt_tokens=1, completion_tokens=1, cached_tokens=0, cache_write_tokens=0, reasoning_tokens=0,
        usage_estimated=False, cost=Decimal(0), latency_ms=1.0, generation_time_ms=1.0, error_code=None,
        error_message=None, app_title=None, app_referer=None, attempts=attempts,
    )


class Text(str):
    pass


SHORT = {"provider": "p", "model": "a/b", "status": 200, "ms": 1.5, "error": None, "adjusted": [{"x": "y" * 900}]}


@pytest.mark.parametrize("long_key", ["error", "reason", "detail", "anything", "upstream_cost"])
def test_any_long_string_of_an_attempt_is_clipped(long_key: str) -> None:
    rec = bounded(record([SHORT, {**SHORT, long_key: "e" * 5000}]))
    assert len(rec.attempts[1][long_key]) == MAX_ATTEMPT_TEXT
    assert rec.attempts[0] == SHORT


def test_a_str_subclass_counts_as_text() -> None:
    rec = bounded(record([{**SHORT, "error": Text("e" * 5000)}]))
    assert len(rec.attempts[0]["error"]) == MAX_ATTEMPT_TEXT


def test_short_attempts_are_kept_as_they_are() -> None:
    """Strings inside nested values are not the attempt's own (`adjusted` holds the translator's notes)."""
    attempts = [SHORT, {**SHORT, "reason": "r" * MAX_ATTEMPT_TEXT}]
    original = record(attempts)
    assert bounded(original) is original
    assert bounded(record([])).attempts == []


def test_too_many_attempts_are_cut() -> None:
    rec = bounded(record([SHORT] * (MAX_ATTEMPTS + 5)))
    assert len(rec.attempts) == MAX_ATTEMPTS


def test_scalars_are_copied_when_set_zero_and_false_included() -> None:
    request = ChatRequest(model="a/b", messages=[Message(role="user", content="x")], temperature=0.0, seed=0,
                          logprobs=False, stop=["\n"], user="u")
    request.extra = {"temperature": 9, "vendor": 1}  # modelled fields win over passed-through ones
    body = to_openai_body(request, Target("p", "P", "openai", "up", "http://127.0.0.1:1/v1", "sk"), QUIRKS["openai"])
    scalars = {name: body[name] for name in _SCALARS if name in body}
    assert scalars == {"temperature": 0.0, "seed": 0, "logprobs": False, "stop": ["\n"], "user": "u"}
    assert body["vendor"] == 1 and body["model"] == "up"


def test_integral_floats_become_ints_only_where_named() -> None:
    body = {"max_tokens": 5.0, "temperature": 1.0, "seed": 3}
    assert integral(body, ("max_tokens", "seed")) == {"max_tokens": 5, "temperature": 1.0, "seed": 3}
    untouched = {"max_tokens": 5, "temperature": 1.0}
    assert integral(untouched, ("max_tokens", "seed")) is untouched
    assert integral({"max_tokens": 5.5}, ("max_tokens",)) == {"max_tokens": 5.5}  # refused later, by type


def test_json_answer_headers() -> None:
    answer = JSONAnswer(b'{"a":1}', {"X-Generation-Id": "gen-1"})
    assert answer.status_code == 200 and answer.body == b'{"a":1}' and answer.background is None
    assert answer.raw_headers == [(b"x-generation-id", b"gen-1"), (b"content-length", b"7"),
                                  (b"content-type", b"application/json")]
    assert JSONAnswer(b"{}").raw_headers == [(b"content-length", b"2"), (b"content-type", b"application/json")]
