"""Anthropic Messages requests -> canonical `ChatRequest`: mapping and validation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from turnout.api.anthropic.protocol import to_chat_request
from turnout.model.chat import FilePart, ImagePart, NamedToolChoice, TextPart
from turnout.model.errors import GatewayError


def body(**kw: Any) -> dict[str, Any]:
    return {"model": "a/b", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}], **kw}


def error_of(raw: Any) -> GatewayError:
    with pytest.raises(GatewayError) as e:
        to_chat_request(raw)
    assert e.value.status == 400
    return e.value


def test_minimal_request() -> None:
    chat = to_chat_request(body())
    assert chat.model == "a/b" and chat.max_tokens == 100 and not chat.stream
    assert [(m.role, m.content) for m in chat.messages] == [("user", "hi")]


def test_system_string_and_blocks_with_cache_control() -> None:
    assert to_chat_request(body(system="S")).messages[0].content == "S"
    cached = to_chat_request(body(system=[{"type": "text", "text": "S", "cache_control": {"type": "ephemeral"}}]))
    (part,) = cached.messages[0].content  # type: ignore[misc]
    assert isinstance(part, TextPart) and part.cache_control == {"type": "ephemeral"}


def test_tool_results_become_tool_messages_before_the_rest_of_the_turn() -> None:
    chat = to_chat_request(body(messages=[
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [{"type": "text", "text": "let me"},
                                          {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "r1"}]},
            {"type": "tool_result", "tool_use_id": "t2", "content": "boom", "is_error": True},
            {"type": "text", "text": "go on"},
        ]},
    ]))
    roles = [m.role for m in chat.messages]
    assert roles == ["user", "assistant", "tool", "tool", "user"]
    assistant = chat.messages[1]
    assert assistant.content == "let me" and assistant.tool_calls is not None
    assert json.loads(assistant.tool_calls[0].arguments) == {"a": 1}
    assert (chat.messages[2].tool_call_id, chat.messages[2].content) == ("t1", "r1")
    assert chat.messages[3].content == "Error: boom"


def test_thinking_blocks_keep_their_signatures() -> None:
    chat = to_chat_request(body(messages=[
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "a", "signature": "s1"},
            {"type": "redacted_thinking", "data": "xyz"},
            {"type": "text", "text": "done"},
        ]},
    ]))
    m = chat.messages[1]
    assert m.reasoning == "a"
    assert m.reasoning_details == [
        {"type": "reasoning.text", "text": "a", "format": "anthropic-claude-v1", "index": 0, "signature": "s1"},
        {"type": "reasoning.encrypted", "data": "xyz", "format": "anthropic-claude-v1", "index": 1},
    ]


def test_images_and_documents() -> None:
    chat = to_chat_request(body(messages=[{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAA"}},
        {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "PDF"}, "title": "a.pdf"},
    ]}]))
    parts = chat.messages[0].content
    assert isinstance(parts, list)
    assert parts[0] == ImagePart("data:image/png;base64,AAA")
    assert parts[1] == ImagePart("https://x/y.png")
    assert parts[2] == FilePart("a.pdf", "data:application/pdf;base64,PDF")


def test_tools_choice_thinking_and_parameters() -> None:
    chat = to_chat_request(body(
        tools=[{"name": "f", "description": "d", "input_schema": {"type": "object"}}],
        tool_choice={"type": "tool", "name": "f", "disable_parallel_tool_use": True},
        thinking={"type": "enabled", "budget_tokens": 2048}, max_tokens=4096,
        stop_sequences=["X"], metadata={"user_id": "u"}, temperature=1, top_p=0.5, top_k=3, stream=True,
    ))
    assert chat.tools is not None and chat.tools[0].name == "f" and chat.tools[0].parameters == {"type": "object"}
    assert chat.tool_choice == NamedToolChoice("f") and chat.parallel_tool_calls is False
    assert chat.reasoning is not None and chat.reasoning.max_tokens == 2048 and chat.reasoning.active
    assert chat.stop == ["X"] and chat.user == "u" and chat.stream
    assert (chat.temperature, chat.top_p, chat.top_k) == (1, 0.5, 3)
    for wire, canonical in (("auto", "auto"), ("any", "required"), ("none", "none")):
        assert to_chat_request(body(tool_choice={"type": wire})).tool_choice == canonical
    off = to_chat_request(body(thinking={"type": "disabled"})).reasoning
    assert off is not None and not off.active


@pytest.mark.parametrize(("raw", "param"), [
    ({"model": "a/b", "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
    (body(max_tokens=0), "max_tokens"),
    (body(model=""), "model"),
    (body(messages=[]), "messages"),
    (body(messages=[{"role": "system", "content": "x"}]), "messages[0].role"),
    (body(messages=[{"role": "user", "content": 5}]), "messages[0].content"),
    (body(messages=[{"role": "user", "content": []}]), "messages[0].content"),
    (body(messages=[{"role": "user", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]}]),
     "messages[0].content[0].type"),
    (body(messages=[{"role": "user", "content": [{"type": "image", "source": {"type": "file"}}]}]),
     "messages[0].content[0].source.type"),
    (body(temperature=1.5), "temperature"),
    (body(top_k=1.5), "top_k"),
    (body(stop_sequences="X"), "stop_sequences"),
    (body(tools=[{"name": "f"}]), "tools[0].input_schema"),
    (body(tools=[{"type": "bash_20250124", "name": "bash"}]), "tools[0].type"),
    (body(tool_choice={"type": "sometimes"}), "tool_choice.type"),
    (body(thinking={"type": "enabled", "budget_tokens": 10}), "thinking.budget_tokens"),
    (body(thinking={"type": "enabled", "budget_tokens": 4096}), "thinking.budget_tokens"),
    (body(output_config={"effort": "extreme"}), "output_config.effort"),
    (body(system=[{"type": "image"}]), "system[0].type"),
    (body(mcp_servers=[{"type": "url", "url": "https://mcp.example", "name": "x"}]), "mcp_servers"),
    ([], "body"),
])
def test_errors_name_the_parameter(raw: Any, param: str) -> None:
    err = error_of(raw)
    assert err.param == param and param in err.message


def test_other_providers_details_come_back_whole() -> None:
    from turnout.api.anthropic.encode import message_json
    from turnout.core.context import RequestContext
    from turnout.model.chat import ToolCall
    from turnout.model.result import ChatResult, Usage

    gemini = {"type": "reasoning.encrypted", "data": "SIG", "format": "google-gemini-v1", "id": "call_1", "index": 0}
    native = {"type": "reasoning.text", "text": "hm", "signature": "anth-sig", "format": "anthropic-claude-v1", "index": 1}
    ctx = RequestContext(accountant=None, key=None, dialect_in="anthropic", model_id="a/b", streamed=False)  # type: ignore[arg-type]
    result = ChatResult(content=None, finish_reason="tool_calls", reasoning_details=[gemini, native],
                        tool_calls=[ToolCall("call_1", "f", "{}")])
    content = message_json(ctx, result, Usage())["content"]
    assert content[0]["type"] == "redacted_thinking" and content[0]["data"].startswith("turnout.v1.")
    assert content[1] == {"type": "thinking", "thinking": "hm", "signature": "anth-sig"}  # Anthropic's own, untouched
    chat = to_chat_request(body(messages=[{"role": "user", "content": "q"}, {"role": "assistant", "content": content}]))
    details = chat.messages[1].reasoning_details
    assert details is not None and details[0] == gemini
    assert details[1]["signature"] == "anth-sig" and details[1]["text"] == "hm"
