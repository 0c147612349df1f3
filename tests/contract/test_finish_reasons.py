"""Every finish reason each official SDK declares maps to an OpenAI finish reason, none by default.

The tables are the translators' own (STOP_REASONS, FINISH_REASONS); a reason the SDK adds in a
newer version fails here until it is mapped on purpose (and documented in docs/dialects.md).
"""

from __future__ import annotations

import typing

import pytest
from anthropic.types import StopReason
from google.genai.types import FinishReason

from turnout.model.result import FINISH_REASONS as OPENAI_FINISH
from turnout.providers.anthropic.response import STOP_REASONS, to_finish_reason
from turnout.providers.gemini.response import FINISH_REASONS
from turnout.providers.gemini.response import to_finish_reason as gemini_finish
from turnout.providers.openai import FINISH_REASONS as COMPATIBLE

# Z.ai's spec (ChatCompletionResponse.choices[].finish_reason); zai-sdk types it as a plain string.
ZAI_FINISH = ("stop", "tool_calls", "length", "sensitive", "model_context_window_exceeded", "network_error")


@pytest.mark.parametrize("native", typing.get_args(StopReason))
def test_every_anthropic_stop_reason_is_mapped(native: str) -> None:
    assert native in STOP_REASONS and STOP_REASONS[native] in OPENAI_FINISH


@pytest.mark.parametrize("native", [m.value for m in FinishReason])
def test_every_gemini_finish_reason_is_mapped(native: str) -> None:
    assert native in FINISH_REASONS and FINISH_REASONS[native] in OPENAI_FINISH


@pytest.mark.parametrize("native", ZAI_FINISH)
def test_every_zai_finish_reason_is_mapped(native: str) -> None:
    assert native in COMPATIBLE and COMPATIBLE[native] in OPENAI_FINISH


def test_the_reasons_that_used_to_fall_to_stop() -> None:
    assert [gemini_finish(n, False) for n in ("MALFORMED_FUNCTION_CALL", "TOO_MANY_TOOL_CALLS", "MISSING_THOUGHT_SIGNATURE",
                                              "OTHER", "SOMETHING_NEW")] == ["error"] * 5
    assert [gemini_finish(n, False) for n in ("PROHIBITED_CONTENT", "SPII", "BLOCKLIST", "RECITATION")] == ["content_filter"] * 4
    assert gemini_finish("STOP", True) == "tool_calls" and gemini_finish("CONTINUATION", False) == "length"
    assert [to_finish_reason(n) for n in ("refusal", "model_context_window_exceeded", "pause_turn", "new_reason")] == [
        "content_filter", "length", "length", "error"]
