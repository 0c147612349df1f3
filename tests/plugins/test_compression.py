"""Context compression (middle-out): a prompt too long for the model is cut from the middle,
keeping the system prompt, the first and last messages and tool calls with their results; on by
default for small-context models, asked for on larger ones, off when a request says so."""

from __future__ import annotations

from typing import Any

from tests.plugins.conftest import Plug
from turnout.model.chat import ChatRequest, Message, ToolCall
from turnout.plugins.compression import middle_out


def conversation(turns: int, words: int = 40) -> list[dict[str, Any]]:
    msgs: list[dict[str, Any]] = [{"role": "system", "content": "You are terse."}]
    for i in range(turns):
        role = "user" if i % 2 == 0 else "assistant"
        msgs.append({"role": role, "content": f"turn{i} " + " ".join(["word"] * words)})
    msgs.append({"role": "user", "content": "final question"})
    return msgs


def sent_messages(plug: Plug) -> list[dict[str, Any]]:
    return plug.fakes.upstream.state.requests[-1]["body"]["messages"]  # type: ignore[no-any-return]


def step(plug: Plug, gen_id: str) -> dict[str, Any]:
    steps = [s for s in plug.record(gen_id)["pipeline"] if s["type"] == "context_compression"]
    assert len(steps) == 1
    return steps[0]["data"]  # type: ignore[no-any-return]


def test_on_by_default_for_a_small_context_model(plug: Plug) -> None:
    msgs = conversation(30)
    r = plug.post("/chat/completions", {"model": "test/small", "max_tokens": 50, "messages": msgs})
    assert r.status_code == 200, r.text
    sent = sent_messages(plug)
    assert len(sent) < len(msgs)
    assert sent[0]["content"] == "You are terse." and sent[1]["content"].startswith("turn0 ")
    assert sent[-1]["content"] == "final question"
    data = step(plug, r.json()["id"])
    assert data["messages_dropped"] == len(msgs) - len(sent) and data["tokens_after"] <= 600 - 50 < data["tokens_before"]


def test_streamed_and_in_the_anthropic_dialect(plug: Plug) -> None:
    msgs = conversation(30)
    r, events = plug.stream("/chat/completions", {"model": "test/small", "messages": msgs})
    assert r.status_code == 200 and events[-1][1] == "[DONE]"
    assert len(sent_messages(plug)) < len(msgs)
    r = plug.post("/messages", {"model": "test/small", "max_tokens": 50, "system": "You are terse.", "messages": msgs[1:]})
    assert r.status_code == 200, r.text
    assert len(sent_messages(plug)) < len(msgs)


def test_a_request_can_turn_it_off(plug: Plug) -> None:
    r = plug.post("/chat/completions", {"model": "test/small", "messages": conversation(30),
                                        "plugins": [{"id": "context-compression", "enabled": False}]})
    assert r.status_code >= 400 and "context length" in r.json()["error"]["message"]


def test_off_by_default_for_large_contexts_but_can_be_asked_for(plug: Plug) -> None:
    msgs = conversation(120, words=160)  # ~20k tokens: above test/large-echo's 20,000
    r = plug.post("/chat/completions", {"model": "test/large-echo", "messages": msgs})
    assert r.status_code >= 400 and "context length" in r.json()["error"]["message"]
    r = plug.post("/chat/completions", {"model": "test/large-echo", "messages": msgs,
                                        "plugins": [{"id": "context-compression"}]})
    assert r.status_code == 200, r.text
    assert step(plug, r.json()["id"])["tokens_after"] <= 20000


def test_a_prompt_that_fits_is_untouched(plug: Plug) -> None:
    msgs = conversation(2, words=3)
    r = plug.post("/chat/completions", {"model": "test/small", "messages": msgs, "plugins": [{"id": "context-compression"}]})
    assert r.status_code == 200 and len(sent_messages(plug)) == len(msgs)
    assert plug.record(r.json()["id"])["pipeline"] == []


def test_tool_calls_and_their_results_are_dropped_together() -> None:
    filler = " ".join(["word"] * 60)
    messages = [Message("system", "sys"), Message("user", "first " + filler)]
    for i in range(6):
        messages.append(Message("assistant", None, tool_calls=[ToolCall(f"c{i}", "lookup", '{"q": 1}'),
                                                              ToolCall(f"d{i}", "lookup", '{"q": 2}')]))
        messages.append(Message("tool", f"result {i} " + filler, tool_call_id=f"c{i}"))
        messages.append(Message("tool", f"result {i}b " + filler, tool_call_id=f"d{i}"))
    messages.append(Message("user", "last"))
    request = ChatRequest("m", messages)
    done = middle_out(request, 400)
    assert done is not None and done["tokens_after"] <= 400
    kept = request.messages
    assert kept[0].content == "sys" and kept[1].text().startswith("first") and kept[-1].content == "last"
    calls = {c.id for m in kept for c in m.tool_calls or ()}
    results = {m.tool_call_id for m in kept if m.role == "tool"}
    assert calls == results  # no result without its call, no call without its results


def test_a_single_huge_message_is_cut_in_its_middle() -> None:
    request = ChatRequest("m", [Message("user", "START " + "x" * 20_000 + " END")])
    done = middle_out(request, 1000)
    assert done is not None and done["messages_truncated"] == 1
    text = request.messages[0].text()
    assert text.startswith("START ") and text.endswith(" END") and "removed to fit" in text


def test_legacy_transforms_switch_it(plug: Plug) -> None:
    r = plug.post("/chat/completions", {"model": "test/small", "messages": conversation(30), "transforms": []})
    assert r.status_code >= 400 and "context length" in r.json()["error"]["message"]
    r = plug.post("/chat/completions", {"model": "test/large-echo", "messages": conversation(120, words=160),
                                        "transforms": ["middle-out"]})
    assert r.status_code == 200, r.text
    r = plug.post("/chat/completions", {"model": "test/small", "messages": conversation(2), "transforms": ["squash"]})
    assert r.status_code == 400 and "transforms" in r.json()["error"]["message"]


def test_a_fallback_model_that_fits_comes_before_compression(plug: Plug) -> None:
    msgs = conversation(30)
    r = plug.post("/chat/completions", {"model": "test/small", "models": ["test/large-echo"], "messages": msgs})
    assert r.status_code == 200, r.text
    assert r.json()["model"] == "test/large-echo" and len(sent_messages(plug)) == len(msgs)
    r = plug.post("/chat/completions", {"model": "test/small", "models": ["test/large-echo"], "messages": msgs,
                                        "plugins": [{"id": "context-compression"}]})
    assert r.json()["model"] == "test/small" and len(sent_messages(plug)) < len(msgs)  # asked for: compressed
