"""Responses requests -> canonical; the stored-response store; the typed stream encoder."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.unit.api.sse_frames import frames
from turnout.api.responses.encode import EventEncoder, output_items, response_json
from turnout.api.responses.errors import error_body
from turnout.api.responses.protocol import to_responses_request
from turnout.api.responses.store import ResponseStore
from turnout.core.context import RequestContext
from turnout.model.chat import ImagePart, Message, NamedToolChoice, ToolCall
from turnout.model.errors import ErrorKind, GatewayError
from turnout.model.result import ChatResult, Usage
from turnout.model.stream import Finish, Heartbeat, ReasoningDelta, StreamFailure, TextDelta, ToolCallDelta, UsageReport


def context() -> RequestContext:
    return RequestContext(accountant=None, key=None, dialect_in="responses", model_id="a/b", streamed=True)  # type: ignore[arg-type]


def test_items_become_canonical_turns() -> None:
    rr = to_responses_request({
        "model": "a/b",
        "instructions": "sys",
        "input": [
            {"role": "developer", "content": "dev"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "q"},
                                                            {"type": "input_image", "image_url": "https://i/x.png"}]},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "thought"}], "encrypted_content": "enc"},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "function_call", "call_id": "c2", "name": "g", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "r1"},
            {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "r2"}]},
            {"role": "assistant", "content": [{"type": "output_text", "text": "done"}]},
        ],
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
        "tool_choice": {"type": "function", "name": "f"},
        "text": {"format": {"type": "json_object"}},
        "reasoning": {"effort": "high", "summary": "auto"},
        "max_output_tokens": 10,
    })
    chat = rr.chat
    assert [m.role for m in chat.messages] == ["system", "developer", "user", "assistant", "tool", "tool", "assistant"]
    assert rr.input_messages == chat.messages[1:] and rr.instructions == "sys"
    user = chat.messages[2].content
    assert isinstance(user, list) and user[1] == ImagePart("https://i/x.png")
    calls = chat.messages[3]
    assert [c.id for c in calls.tool_calls or ()] == ["c1", "c2"]
    assert calls.reasoning == "thought" and calls.reasoning_details is not None
    assert calls.reasoning_details[-1] == {"type": "reasoning.encrypted", "data": "enc", "index": 1}
    assert chat.messages[5].content == "r2" and chat.messages[6].content == "done"
    assert chat.tool_choice == NamedToolChoice("f") and chat.max_tokens == 10
    assert chat.response_format is not None and chat.response_format.type == "json_object"
    assert chat.reasoning is not None and chat.reasoning.effort == "high" and rr.reasoning_summary == "auto"


def test_history_comes_before_the_new_input() -> None:
    history = [Message(role="user", content="a"), Message(role="assistant", content="b")]
    rr = to_responses_request({"model": "a/b", "input": "c", "instructions": "i"}, history)
    assert [m.content for m in rr.chat.messages] == ["i", "a", "b", "c"]


@pytest.mark.parametrize(("body", "param"), [
    ({"model": "a/b"}, "input"),
    ({"model": "a/b", "input": []}, "input"),
    ({"model": "a/b", "input": [{"type": "file_search_call"}]}, "input[0].type"),
    ({"model": "a/b", "input": [{"type": "item_reference", "id": "x"}]}, "input[0].type"),
    ({"model": "a/b", "input": [{"role": "tool", "content": "x"}]}, "input[0].role"),
    ({"model": "a/b", "input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]}, "input[0].content[0].file_id"),
    ({"model": "a/b", "input": "x", "tools": [{"type": "file_search"}]}, "tools[0].type"),
    ({"model": "a/b", "input": "x", "tools": [{"type": "openrouter:image_generation"}]}, "tools[0].type"),
    ({"model": "a/b", "input": "x", "text": {"format": {"type": "json_schema"}}}, "text.format.schema"),
    ({"model": "a/b", "input": "x", "reasoning": {"effort": "lots"}}, "reasoning.effort"),
    ({"model": "a/b", "input": "x", "max_output_tokens": 0}, "max_output_tokens"),
    ({"model": "a/b", "input": "x", "conversation": "conv_1"}, "conversation"),
    ({"model": "a/b", "input": "x", "temperature": 3}, "temperature"),
])
def test_errors_name_the_parameter(body: dict[str, Any], param: str) -> None:
    with pytest.raises(GatewayError) as e:
        to_responses_request(body)
    assert e.value.param == param and e.value.status == 400
    assert error_body(e.value)["error"]["param"] == param


def test_store_ttl_capacity_and_key_scope() -> None:
    now = [0.0]
    store = ResponseStore(ttl=10, capacity=2, clock=lambda: now[0])
    store.put("r1", "k", "m", [Message(role="user", content="a")])
    assert store.get("r1", "k").messages[0].content == "a"
    with pytest.raises(GatewayError) as other:
        store.get("r1", "other-key")
    assert other.value.status == 404 and other.value.param == "previous_response_id"
    store.put("r2", "k", "m", [])
    store.put("r3", "k", "m", [])
    assert len(store) == 2
    with pytest.raises(GatewayError):
        store.get("r1", "k")  # the oldest went first
    now[0] = 10.5
    with pytest.raises(GatewayError):
        store.get("r3", "k")  # expired
    assert len(store) == 0


def request() -> Any:
    return to_responses_request({"model": "a/b", "input": "q", "reasoning": {"effort": "low"}})


def test_non_stream_output_items_and_incomplete_status() -> None:
    rr = request()
    result = ChatResult(content="hi", finish_reason="length", reasoning="r", tool_calls=[ToolCall("c1", "f", "{}")])
    items = output_items(rr, context(), result)
    assert [i["type"] for i in items] == ["reasoning", "message", "function_call"]
    assert items[0]["content"] == [{"type": "reasoning_text", "text": "r"}]
    assert items[2]["call_id"] == "c1" and items[2]["id"] == "fc_c1"
    r = response_json(rr, context(), "completed", items, None, finish="length")
    assert r["status"] == "incomplete" and r["incomplete_details"] == {"reason": "max_output_tokens"}


def test_stream_events_are_typed_and_numbered() -> None:
    done: list[ChatResult] = []
    encoder = EventEncoder(request(), context(), lambda result, _: done.append(result))
    raw = b"".join(encoder.encode(e) for e in [
        ReasoningDelta("r"), TextDelta("a"), TextDelta("b"), Heartbeat(),
        ToolCallDelta(0, "c1", "f", ""), ToolCallDelta(0, None, None, "{}"),
        UsageReport(Usage(prompt_tokens=3, completion_tokens=2), Decimal("0.1")), Finish("tool_calls"),
    ])
    out = frames(raw)
    names = [n for n, _ in out if n]
    assert names == [
        "response.created", "response.in_progress",
        "response.output_item.added", "response.reasoning_text.delta", "response.reasoning_text.done", "response.output_item.done",
        "response.output_item.added", "response.content_part.added", "response.output_text.delta", "response.output_text.delta",
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.done",
        "response.output_item.done", "response.completed",
    ]
    events = [d for n, d in out if n]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert any(n is None for n, _ in out)  # the heartbeat became an SSE comment
    final = events[-1]["response"]
    assert [i["type"] for i in final["output"]] == ["reasoning", "message", "function_call"]
    assert final["output"][1]["content"][0]["text"] == "ab" and final["usage"]["total_tokens"] == 5
    assert done[0].content == "ab" and done[0].tool_calls == [ToolCall("c1", "f", "{}")] and done[0].reasoning == "r"


def test_stream_failure_is_response_failed() -> None:
    encoder = EventEncoder(request(), context(), lambda result, response: None)
    raw = encoder.encode(TextDelta("a")) + encoder.encode(StreamFailure(GatewayError(ErrorKind.PROVIDER_SERVER_ERROR, "cut")))
    name, data = frames(raw)[-1]
    assert name == "response.failed"
    assert data["response"]["status"] == "failed" and data["response"]["error"] == {"code": "server_error", "message": "cut"}


def test_reasoning_after_calls_stays_in_the_assistant_turn() -> None:
    rr = to_responses_request({"model": "a/b", "input": [
        {"role": "user", "content": "q"},
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "t"}]},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "reasoning", "summary": [], "encrypted_content": "sig"},
        {"type": "function_call_output", "call_id": "c1", "output": "r"},
    ]})
    assistant = rr.chat.messages[1]
    assert [m.role for m in rr.chat.messages] == ["user", "assistant", "tool"]
    assert assistant.reasoning == "t" and assistant.reasoning_details is not None
    assert [d["type"] for d in assistant.reasoning_details] == ["reasoning.text", "reasoning.encrypted"]


def test_details_round_trip_through_encrypted_content() -> None:
    gemini = {"type": "reasoning.encrypted", "data": "SIG", "format": "google-gemini-v1", "id": "call_1", "index": 0}
    result = ChatResult(content=None, finish_reason="tool_calls", reasoning_details=[gemini],
                        tool_calls=[ToolCall("call_1", "f", "{}")])
    items = output_items(request(), context(), result)
    assert items[0]["encrypted_content"].startswith("turnout.v1.")
    back = to_responses_request({"model": "a/b", "input": [{"role": "user", "content": "q"}, *items,
                                                           {"type": "function_call_output", "call_id": "call_1", "output": "r"}]})
    assert back.chat.messages[1].reasoning_details == [gemini]


def test_streamed_details_of_every_reasoning_item_are_kept_for_the_store() -> None:
    done: list[ChatResult] = []
    encoder = EventEncoder(request(), context(), lambda result, _: done.append(result))
    for e in (ReasoningDelta("t", [{"type": "reasoning.text", "text": "t"}]), ToolCallDelta(0, "c1", "f", "{}"),
              ReasoningDelta(None, [{"type": "reasoning.encrypted", "data": "s", "id": "c1"}]), Finish("tool_calls")):
        encoder.encode(e)
    assert done[0].reasoning == "t" and done[0].reasoning_details is not None and len(done[0].reasoning_details) == 2


def test_store_byte_budget() -> None:
    store = ResponseStore(max_bytes=1000)
    store.put("big", "k", "m", [Message(role="user", content="x" * 2000)])
    assert len(store) == 0  # larger than the whole budget: not kept
    for i in range(5):
        store.put(f"r{i}", "k", "m", [Message(role="user", content="x" * 300)])
    assert len(store) == 2  # 364 characters each, so two fit in 1000
    assert store.get("r4", "k") and store.get("r3", "k")


def test_one_key_cannot_evict_another_keys_responses() -> None:
    store = ResponseStore(capacity=10, max_bytes=10_000, per_key=3, per_key_bytes=1_000)
    store.put("victim", "alice", "m", [Message(role="user", content="keep me")])
    for i in range(50):  # far more than the whole store holds, in count and in bytes
        store.put(f"flood{i}", "mallory", "m", [Message(role="user", content="x" * 300)])
    assert store.get("victim", "alice").messages[0].content == "keep me"
    count, size = store.held("mallory")
    assert count <= 3 and size <= 1_000
    assert store.get("flood49", "mallory")  # mallory's newest stay, her oldest went first


def test_the_global_bound_takes_from_the_heaviest_key() -> None:
    store = ResponseStore(capacity=4, max_bytes=100_000, per_key=3, per_key_bytes=10_000)
    store.put("a1", "alice", "m", [Message(role="user", content="a")])
    for i in range(3):
        store.put(f"b{i}", "bob", "m", [Message(role="user", content="b" * 100)])
    store.put("c1", "carol", "m", [Message(role="user", content="c")])  # five in a store of four
    assert len(store) == 4
    assert store.get("a1", "alice") and store.get("c1", "carol")
    assert store.held("bob")[0] == 2
