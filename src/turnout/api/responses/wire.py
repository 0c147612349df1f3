"""The OpenAI Responses request body (the stateless subset turnout serves), as msgspec types.

Wire reference: https://platform.openai.com/docs/api-reference/responses/create. Decoding into
`ResponsesBody` checks types, ranges and enums and names a faulty value by its JSON path;
api/responses/protocol.py maps the result to the canonical request and refuses, by name, what
this gateway does not serve (file ids, item references, built-in tools). Input items and content
parts are told apart by `type`; an input item without one is a message, as OpenAI reads it
(`with_message_type` fills it in before decoding).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import Meta, Struct

from turnout.api.openai.wire import Plugin
from turnout.api.wire import MAX_MESSAGES, NonEmptyStr, Object, PositiveInt, Temperature, TopLogprobs, UnitInterval

Effort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]
Summary = Literal["auto", "concise", "detailed"]


# -- content parts ------------------------------------------------------------------------------
class InputText(Struct, tag_field="type", tag="input_text"):
    text: str | None = None


class OutputText(Struct, tag_field="type", tag="output_text"):
    text: str | None = None


class PlainText(Struct, tag_field="type", tag="text"):
    text: str | None = None


class Refusal(Struct, tag_field="type", tag="refusal"):
    refusal: str | None = None


class InputImage(Struct, tag_field="type", tag="input_image"):
    image_url: str | None = None  # an http(s) or data: URL; required (file ids are refused by name)
    file_id: str | None = None
    detail: Literal["auto", "low", "high"] | None = None


class InputFile(Struct, tag_field="type", tag="input_file"):
    file_data: str | None = None
    file_url: str | None = None
    filename: str | None = None
    file_id: str | None = None


Part = InputText | OutputText | PlainText | Refusal | InputImage | InputFile
Content = str | list[Part]


# -- input items --------------------------------------------------------------------------------
class MessageItem(Struct, tag_field="type", tag="message"):
    role: Literal["user", "assistant", "system", "developer"]
    content: Content


class FunctionCallItem(Struct, tag_field="type", tag="function_call"):
    call_id: NonEmptyStr
    name: NonEmptyStr
    arguments: str | None = None


class FunctionCallOutputItem(Struct, tag_field="type", tag="function_call_output"):
    call_id: NonEmptyStr
    output: Content


class ReasoningText(Struct):
    text: str | None = None


class ReasoningItem(Struct, tag_field="type", tag="reasoning"):
    summary: list[ReasoningText] | None = None
    content: list[ReasoningText] | None = None
    encrypted_content: str | None = None


class ItemReference(Struct, tag_field="type", tag="item_reference"):
    id: str | None = None


Item = MessageItem | FunctionCallItem | FunctionCallOutputItem | ReasoningItem | ItemReference


# -- tools and output shape ---------------------------------------------------------------------
class FunctionTool(Struct):
    type: str  # only "function" is served; built-in tools are refused by name
    name: str | None = None  # required of a function tool
    description: str | None = None
    parameters: Object | None = None
    strict: bool | None = None


class NamedFunctionChoice(Struct):
    type: Literal["function"]
    name: NonEmptyStr


class TextFormatText(Struct, tag_field="type", tag="text"):
    pass


class TextFormatJsonObject(Struct, tag_field="type", tag="json_object"):
    pass


class TextFormatJsonSchema(Struct, tag_field="type", tag="json_schema"):
    schema: Object
    name: str | None = None
    strict: bool | None = None
    description: str | None = None


class TextConfig(Struct):
    format: TextFormatText | TextFormatJsonObject | TextFormatJsonSchema | None = None
    verbosity: Literal["low", "medium", "high"] | None = None


class ReasoningConfig(Struct):
    effort: Effort | None = None
    summary: Summary | None = None
    generate_summary: Summary | None = None  # the older spelling of `summary`


# Up to 16 string pairs, keys up to 64 characters, values up to 512 (as OpenAI documents).
Metadata = Annotated[dict[Annotated[str, Meta(max_length=64)], Annotated[str, Meta(max_length=512)]],
                     Meta(max_length=16)]


class ResponsesBody(Struct, kw_only=True):
    """`POST /responses`: OpenAI's Responses API, stateless but for `previous_response_id`."""

    model: NonEmptyStr
    input: str | Annotated[list[Item], Meta(min_length=1, max_length=MAX_MESSAGES)]
    instructions: str | None = None
    previous_response_id: str | None = None
    store: bool | None = None
    stream: bool | None = None
    max_output_tokens: PositiveInt | None = None
    temperature: Temperature | None = None
    top_p: UnitInterval | None = None
    top_logprobs: TopLogprobs | None = None
    text: TextConfig | None = None
    tools: list[FunctionTool] | None = None
    tool_choice: Literal["auto", "none", "required"] | NamedFunctionChoice | None = None
    parallel_tool_calls: bool | None = None
    reasoning: ReasoningConfig | None = None
    metadata: Metadata | None = None
    user: str | None = None
    safety_identifier: str | None = None
    # OpenRouter's extensions
    provider: Object | None = None
    plugins: list[Plugin] | None = None
    preset: str | None = None


def with_message_type(body: dict[str, Any]) -> dict[str, Any]:
    """The body with `type: "message"` on every input item that has no type (a shallow copy)."""
    items = body.get("input")
    if not isinstance(items, list) or all(not isinstance(i, dict) or "type" in i for i in items):
        return body
    return {**body, "input": [{**i, "type": "message"} if isinstance(i, dict) and "type" not in i else i
                              for i in items]}
