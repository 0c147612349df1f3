"""Response healing: golden cases of the ways models really break JSON, then through the gateway in
each dialect that asks for JSON (non-streamed only; a stream goes out untouched)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.plugins.conftest import Plug
from turnout.model.chat import ResponseFormat
from turnout.plugins.healing import heal

PERSON = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
          "required": ["name", "age"], "additionalProperties": False}
OBJECT = ResponseFormat("json_object")
SCHEMA = ResponseFormat("json_schema", "person", PERSON, True)

GOLDEN = [
    # (what the model sent, what the caller gets)
    ('Here is the JSON you asked for:\n```json\n{"name": "Ada", "age": 36}\n```\nLet me know if you need more.',
     {"name": "Ada", "age": 36}),
    ('{"name": "Ada", "age": 36,}', {"name": "Ada", "age": 36}),
    ('{name: "Ada", age: 36}', {"name": "Ada", "age": 36}),
    ("{'name': 'Ada', 'age': 36}", {"name": "Ada", "age": 36}),
    ('{"name": "Ada", "age": 36', {"name": "Ada", "age": 36}),
    ('Sure! {"name": "Ada", "age": 36}', {"name": "Ada", "age": 36}),
    ('```\n{"name": "Ada",\n "age": 36,\n}\n```', {"name": "Ada", "age": 36}),
]


@pytest.mark.parametrize(("broken", "healed"), GOLDEN)
def test_golden_repairs_fit_the_schema(broken: str, healed: dict[str, Any]) -> None:
    text, done = heal(broken, SCHEMA, "stop")
    assert json.loads(text) == healed and done == {"healed": True, "valid": True}


def test_json_object_repairs_lists_and_literals() -> None:
    text, done = heal('{"ok": True, "items": [1, 2, 3,], "none": None}', OBJECT, "stop")
    assert json.loads(text) == {"ok": True, "items": [1, 2, 3], "none": None} and done["healed"]


def test_valid_json_is_left_exactly_as_it_came() -> None:
    raw = '{ "name" : "Ada",   "age": 36 }'
    assert heal(raw, SCHEMA, "stop") == (raw, {"healed": False, "valid": True})


@pytest.mark.parametrize(("broken", "reason"), [
    ("I'm sorry, I can't produce that.", "no JSON"),
    ('{"name": "Ada",}', "does not fit the schema"),  # repaired, but `age` is required
    ('{"name": "Ada", "age": "thirty-six"}', "does not fit the schema"),
])
def test_unrepairable_comes_back_as_it_came_with_the_reason(broken: str, reason: str) -> None:
    text, done = heal(broken, SCHEMA, "stop")
    assert text == broken and done["healed"] is False and reason in done["reason"]


def test_a_reply_cut_by_max_tokens_is_not_guessed_at() -> None:
    text, done = heal('{"name": "Ada", "ag', SCHEMA, "length")
    assert text == '{"name": "Ada", "ag' and done["reason"] == "cut by max_tokens"


BROKEN = 'Here you go:\n```json\n{"name": "Ada", "age": 36,}\n```'


def healing_step(plug: Plug, gen_id: str) -> dict[str, Any]:
    steps = [s for s in plug.record(gen_id)["pipeline"] if s["type"] == "response_healing"]
    assert len(steps) == 1
    return steps[0]["data"]  # type: ignore[no-any-return]


def test_openai_dialect_healed(plug: Plug) -> None:
    r = plug.post("/chat/completions", {"model": "test/json-broken", "plugins": [{"id": "response-healing"}],
                                        "response_format": {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON}},
                                        "messages": [{"role": "user", "content": BROKEN}]})
    assert r.status_code == 200, r.text
    assert json.loads(r.json()["choices"][0]["message"]["content"]) == {"name": "Ada", "age": 36}
    assert healing_step(plug, r.json()["id"]) == {"healed": True, "valid": True}


def test_anthropic_dialect_healed(plug: Plug) -> None:
    r = plug.post("/messages", {"model": "test/json-broken", "max_tokens": 100, "plugins": [{"id": "response-healing"}],
                                "output_config": {"format": {"type": "json_schema", "schema": PERSON}},
                                "messages": [{"role": "user", "content": BROKEN}]})
    assert r.status_code == 200, r.text
    text = next(b["text"] for b in r.json()["content"] if b["type"] == "text")
    assert json.loads(text) == {"name": "Ada", "age": 36}


def test_responses_dialect_healed(plug: Plug) -> None:
    r = plug.post("/responses", {"model": "test/json-broken", "plugins": [{"id": "response-healing"}],
                                 "text": {"format": {"type": "json_object"}}, "input": BROKEN})
    assert r.status_code == 200, r.text
    msg = next(i for i in r.json()["output"] if i["type"] == "message")
    assert json.loads(msg["content"][0]["text"]) == {"name": "Ada", "age": 36}


def test_without_the_plugin_or_when_streamed_the_reply_is_untouched(plug: Plug) -> None:
    body = {"model": "test/json-broken", "response_format": {"type": "json_object"},
            "messages": [{"role": "user", "content": BROKEN}]}
    r = plug.post("/chat/completions", body)
    assert r.json()["choices"][0]["message"]["content"] == BROKEN
    r, events = plug.stream("/chat/completions", {**body, "plugins": [{"id": "response-healing"}]})
    text = "".join(d["choices"][0]["delta"].get("content") or "" for _, d in events if d != "[DONE]" and d.get("choices"))
    assert text == BROKEN


def test_unrepairable_reply_is_flagged_in_the_record(plug: Plug) -> None:
    r = plug.post("/chat/completions", {"model": "test/json-broken", "plugins": [{"id": "response-healing"}],
                                        "response_format": {"type": "json_object"},
                                        "messages": [{"role": "user", "content": "no json here, sorry"}]})
    assert r.json()["choices"][0]["message"]["content"] == "no json here, sorry"
    data = healing_step(plug, r.json()["id"])
    assert data["healed"] is False and data["valid"] is False
