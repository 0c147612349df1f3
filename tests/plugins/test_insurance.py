"""Zero-completion insurance in every inbound dialect, streamed and not: an answer with no completion
tokens and no finish reason, or one that finished with `error`, costs nothing; plugin fees stay."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.plugins.conftest import PRICES, Plug

BODIES = {
    "/chat/completions": lambda model: {"model": model, "messages": [{"role": "user", "content": "hello there"}]},
    "/messages": lambda model: {"model": model, "max_tokens": 50, "messages": [{"role": "user", "content": "hello there"}]},
    "/responses": lambda model: {"model": model, "input": "hello there"},
    "/completions": lambda model: {"model": model, "prompt": "hello there"},
}


def gen_id_of(path: str, r: Any, events: list[tuple[str | None, Any]] | None) -> str:
    if events is None:
        return str(r.json()["id"])
    first = events[0][1]
    if path == "/messages":
        return str(first["message"]["id"])
    if path == "/responses":
        return str(first["response"]["id"])
    return str(first["id"])


def insured(plug: Plug, gen_id: str) -> dict[str, Any]:
    rec = plug.record(gen_id)
    steps = [s for s in rec["pipeline"] if s["type"] == "insurance"]
    assert len(steps) == 1, rec["pipeline"]
    return {"record": rec, "step": steps[0]["data"]}


@pytest.mark.parametrize("path", list(BODIES))
@pytest.mark.parametrize("stream", [False, True])
def test_an_empty_answer_costs_nothing(plug: Plug, path: str, stream: bool) -> None:
    body = BODIES[path]("test/empty")
    if stream:
        r, events = plug.stream(path, body)
    else:
        r, events = plug.post(path, body), None
    assert r.status_code == 200, r.text if not stream else events
    got = insured(plug, gen_id_of(path, r, events))
    assert Decimal(str(got["record"]["total_cost"])) == 0
    assert got["record"]["tokens_completion"] == 0 and Decimal(got["step"]["waived"]) > 0


@pytest.mark.parametrize("path", list(BODIES))
def test_an_answer_ending_in_error_costs_nothing(plug: Plug, path: str) -> None:
    r, events = plug.stream(path, BODIES[path]("test/cut"))
    assert r.status_code == 200
    got = insured(plug, gen_id_of(path, r, events))
    assert got["record"]["status"] == "error" and got["record"]["tokens_completion"] > 0
    assert Decimal(str(got["record"]["total_cost"])) == 0 and got["step"]["finish_reason"] == "error"


def test_a_partial_answer_with_finish_reason_error_costs_nothing(plug: Plug) -> None:
    r = plug.post("/chat/completions", BODIES["/chat/completions"]("test/partial-error"))
    assert r.status_code == 200
    assert r.json()["choices"][0]["finish_reason"] == "error"
    assert Decimal(str(r.json()["usage"]["cost"])) == 0
    insured(plug, r.json()["id"])


def test_plugin_fees_are_still_charged(plug: Plug) -> None:
    body = {**BODIES["/chat/completions"]("test/empty"), "plugins": [{"id": "web", "engine": "exa"}]}
    r = plug.post("/chat/completions", body)
    assert r.status_code == 200
    assert Decimal(str(r.json()["usage"]["cost"])) == Decimal(PRICES["exa"])
    got = insured(plug, r.json()["id"])
    assert Decimal(str(got["record"]["total_cost"])) == Decimal(PRICES["exa"])


def test_a_normal_answer_is_charged(plug: Plug) -> None:
    r = plug.post("/chat/completions", BODIES["/chat/completions"]("test/echo"))
    usage = r.json()["usage"]
    assert Decimal(str(usage["cost"])) > 0
    assert not [s for s in plug.record(r.json()["id"])["pipeline"] if s["type"] == "insurance"]
