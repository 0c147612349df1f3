"""The Anthropic Messages request body (and count_tokens'), as msgspec types.

Wire reference: https://docs.anthropic.com/en/api/messages. Decoding into `MessagesBody` checks
types, ranges and enums and names a faulty value by its JSON path; api/anthropic/protocol.py
maps the result to the canonical request and checks what depends on the role or on other
fields. Content blocks are told apart by `type`; which block a turn may hold is the protocol's
check (a user turn holds no `tool_use`). Anthropic-only hints not declared here are accepted and
ignored. `models`, `provider`, `plugins`, `session_id` and `preset` are OpenRouter's extensions,
accepted in this dialect too.
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct

from turnout.api.openai.wire import Plugin
from turnout.api.wire import MAX_MESSAGES, NonEmptyStr, NonNegativeInt, Object, PositiveInt, UnitInterval

ImageType = Literal["image/jpeg", "image/png", "image/gif", "image/webp"]
Effort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]
Display = Literal["summarized", "omitted"]


# -- sources of images and documents ------------------------------------------------------------
class Base64ImageSource(Struct, tag_field="type", tag="base64"):
    media_type: ImageType
    data: NonEmptyStr


class UrlImageSource(Struct, tag_field="type", tag="url"):
    url: NonEmptyStr


class Base64DocumentSource(Struct, tag_field="type", tag="base64"):
    media_type: NonEmptyStr
    data: NonEmptyStr


class UrlDocumentSource(Struct, tag_field="type", tag="url"):
    url: NonEmptyStr


class TextDocumentSource(Struct, tag_field="type", tag="text"):
    data: NonEmptyStr
    media_type: str | None = None


# -- content blocks -----------------------------------------------------------------------------
class TextBlock(Struct, tag_field="type", tag="text"):
    text: str | None = None
    cache_control: Object | None = None


class ImageBlock(Struct, tag_field="type", tag="image"):
    source: Base64ImageSource | UrlImageSource
    cache_control: Object | None = None


class DocumentBlock(Struct, tag_field="type", tag="document"):
    source: Base64DocumentSource | UrlDocumentSource | TextDocumentSource
    title: str | None = None
    cache_control: Object | None = None


class ToolResultBlock(Struct, tag_field="type", tag="tool_result"):
    tool_use_id: NonEmptyStr
    content: str | list[TextBlock | ImageBlock | DocumentBlock] | None = None
    is_error: bool | None = None
    cache_control: Object | None = None


class ToolUseBlock(Struct, tag_field="type", tag="tool_use"):
    id: NonEmptyStr
    name: NonEmptyStr
    input: Object = {}
    cache_control: Object | None = None


class ThinkingBlock(Struct, tag_field="type", tag="thinking"):
    thinking: str | None = None
    signature: str | None = None


class RedactedThinkingBlock(Struct, tag_field="type", tag="redacted_thinking"):
    data: NonEmptyStr


Block = TextBlock | ImageBlock | DocumentBlock | ToolResultBlock | ToolUseBlock | ThinkingBlock | RedactedThinkingBlock


class MessageParam(Struct):
    role: Literal["user", "assistant"]
    content: str | Annotated[list[Block], Meta(min_length=1)]


class SystemText(Struct, tag_field="type", tag="text"):
    text: NonEmptyStr
    cache_control: Object | None = None


# -- tools, thinking, output --------------------------------------------------------------------
class ToolParam(Struct):
    name: NonEmptyStr
    type: str | None = None  # only custom tools ("custom" or absent); server tools are refused by name
    description: str | None = None
    input_schema: Object | None = None  # required of a custom tool (checked after `type`)
    strict: bool | None = None
    cache_control: Object | None = None


class ToolChoiceAuto(Struct, tag_field="type", tag="auto"):
    disable_parallel_tool_use: bool | None = None


class ToolChoiceAny(Struct, tag_field="type", tag="any"):
    disable_parallel_tool_use: bool | None = None


class ToolChoiceNone(Struct, tag_field="type", tag="none"):
    disable_parallel_tool_use: bool | None = None


class ToolChoiceTool(Struct, tag_field="type", tag="tool"):
    name: NonEmptyStr
    disable_parallel_tool_use: bool | None = None


ToolChoice = ToolChoiceAuto | ToolChoiceAny | ToolChoiceNone | ToolChoiceTool


class ThinkingEnabled(Struct, tag_field="type", tag="enabled"):
    budget_tokens: Annotated[int, Meta(ge=1024, le=2**63 - 1)]
    display: Display | None = None


class ThinkingDisabled(Struct, tag_field="type", tag="disabled"):
    pass


class ThinkingAdaptive(Struct, tag_field="type", tag="adaptive"):
    display: Display | None = None


class ThinkingBetweenTools(Struct, tag_field="type", tag="between_tools"):
    display: Display | None = None


Thinking = ThinkingEnabled | ThinkingDisabled | ThinkingAdaptive | ThinkingBetweenTools


class OutputFormat(Struct):
    type: Literal["json_schema"]
    schema: Object


class OutputConfig(Struct):
    effort: Effort | None = None
    format: OutputFormat | None = None


class Metadata(Struct):
    user_id: str | None = None


class CountTokensBody(Struct, kw_only=True):
    """`POST /messages/count_tokens`: a Messages request without `max_tokens`."""

    model: NonEmptyStr
    messages: Annotated[list[MessageParam], Meta(min_length=1, max_length=MAX_MESSAGES)]
    system: str | list[SystemText] | None = None
    tools: list[ToolParam] | None = None
    tool_choice: ToolChoice | None = None
    thinking: Thinking | None = None
    output_config: OutputConfig | None = None


class MessagesBody(CountTokensBody, kw_only=True):
    """`POST /messages`: Anthropic's Messages API."""

    max_tokens: PositiveInt
    stream: bool | None = None
    temperature: UnitInterval | None = None
    top_p: UnitInterval | None = None
    top_k: NonNegativeInt | None = None
    stop_sequences: list[str] | None = None
    metadata: Metadata | None = None
    # OpenRouter's extensions
    models: list[str] | None = None
    provider: Object | None = None
    plugins: list[Plugin] | None = None
    session_id: str | None = None  # at most 256 characters (core/routing/sticky.py)
    preset: str | None = None
