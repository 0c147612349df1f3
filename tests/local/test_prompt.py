"""The base-model transcript: roles, few-shot part, stops; no runtime needed."""

from __future__ import annotations

import pytest

from turnout.local.errors import LocalBadRequestError
from turnout.local.prompt import FEW_SHOT, TRANSCRIPT_STOPS, build_prompt, message_text


def test_transcript_shape_and_stops() -> None:
    p = build_prompt(
        [
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": "Hi there"},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": [{"type": "text", "text": "What is 2+2?"}]},
        ],
        extra_stop=["END"],
    )
    assert p.text.endswith("User: What is 2+2?\nAssistant:")
    assert "Instructions for the Assistant: Be terse." in p.text
    for q, a in FEW_SHOT:
        assert f"User: {q}\nAssistant: {a}" in p.text
    assert "User: Hi there\nAssistant: Hello.\n\nUser: What is 2+2?" in p.text
    assert p.stop[: len(TRANSCRIPT_STOPS)] == TRANSCRIPT_STOPS
    assert p.stop[-1] == "END"


def test_blank_lines_inside_a_turn_are_folded() -> None:
    p = build_prompt([{"role": "user", "content": "line one\n\n\nline two"}])
    assert "User: line one\nline two\nAssistant:" in p.text


def test_tools_and_tool_results_are_rendered() -> None:
    tools = [
        {
            "name": "get_weather",
            "description": "Weather now",
            "parameters": {"properties": {"city": {"type": "string"}}},
        }
    ]
    p = build_prompt(
        [
            {"role": "user", "content": "Weather in Oslo?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                    }
                ],
            },
            {"role": "tool", "name": "get_weather", "content": "-3 C"},
        ],
        tools=tools,
    )
    assert '- get_weather: Weather now Arguments: {"city": string}' in p.text
    assert 'Assistant: {"name": "get_weather", "arguments": {"city": "Oslo"}}' in p.text
    assert "Tool result (get_weather): -3 C" in p.text


def test_non_text_parts_and_bad_roles_are_refused() -> None:
    with pytest.raises(LocalBadRequestError, match="text-only"):
        message_text([{"type": "image_url", "image_url": {"url": "data:,"}}])
    with pytest.raises(LocalBadRequestError):
        build_prompt([{"role": "wizard", "content": "x"}])
    with pytest.raises(LocalBadRequestError):
        build_prompt([])
