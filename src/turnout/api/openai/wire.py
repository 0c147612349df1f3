"""The OpenAI chat-completions request body, with OpenRouter's extensions, as msgspec types.

Wire references: https://platform.openai.com/docs/api-reference/chat/create and
https://openrouter.ai/docs/api/reference/parameters. Decoding into `ChatCompletionsBody` checks
every type, range and enum; api/openai/protocol.py turns it into the canonical `ChatRequest`
and keeps the few checks that span fields. Unknown fields are allowed (and passed through to
OpenAI-dialect upstreams from the raw body). OpenRouter's own fields live in
`OpenRouterExtensions`, named as OpenRouter names them.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from turnout.api.wire import (
    MAX_MESSAGES,
    Bias,
    Int64,
    NonEmptyStr,
    NonNegativeInt,
    Object,
    Penalty,
    PositiveInt,
    RepetitionPenalty,
    Temperature,
    TopLogprobs,
    UnitInterval,
)

Role = Literal["system", "developer", "user", "assistant", "tool"]
Effort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]


# -- content parts, told apart by "type" --------------------------------------------------------
class TextPart(Struct, tag_field="type", tag="text"):
    text: str | None = None
    cache_control: Object | None = None


class ImageUrl(Struct):
    url: NonEmptyStr
    detail: Literal["auto", "low", "high"] | None = None


class ImagePart(Struct, tag_field="type", tag="image_url"):
    image_url: str | ImageUrl
    cache_control: Object | None = None


class FileRef(Struct):
    filename: str | None = None
    file_data: str | None = None  # data: URL or http(s) URL
    file_id: str | None = None


class FilePart(Struct, tag_field="type", tag="file"):
    file: FileRef | None = None


class InputAudio(Struct):
    data: NonEmptyStr  # base64
    format: NonEmptyStr


class AudioPart(Struct, tag_field="type", tag="input_audio"):
    input_audio: InputAudio


class VideoUrl(Struct):
    url: NonEmptyStr


class VideoPart(Struct, tag_field="type", tag="video_url"):
    video_url: str | VideoUrl


Part = str | TextPart | ImagePart | FilePart | AudioPart | VideoPart


# -- messages -----------------------------------------------------------------------------------
class FunctionCall(Struct):
    name: NonEmptyStr
    arguments: str = ""  # JSON text, exactly as the model produced it


class ToolCall(Struct):
    id: NonEmptyStr
    function: FunctionCall
    type: Literal["function"] = "function"


class ChatMessage(Struct):
    role: Role
    content: str | list[Part] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    # Reasoning carried back in a conversation (OpenRouter: `reasoning`; DeepSeek & co: `reasoning_content`).
    reasoning: str | None = None
    reasoning_content: str | None = None
    reasoning_details: list[Object] | None = None


# -- tools and output shape ---------------------------------------------------------------------
class FunctionDef(Struct):
    name: NonEmptyStr
    description: str | None = None
    parameters: Object | None = None
    strict: bool | None = None


class ChatTool(Struct):
    function: FunctionDef
    type: Literal["function"] = "function"


class NamedFunction(Struct):
    name: NonEmptyStr


class NamedToolChoice(Struct):
    type: Literal["function"]
    function: NamedFunction


class TextFormat(Struct, tag_field="type", tag="text"):
    pass


class JsonObjectFormat(Struct, tag_field="type", tag="json_object"):
    pass


class JsonSchema(Struct):
    name: str | None = None
    schema: Object | None = None
    strict: bool | None = None
    description: str | None = None


class JsonSchemaFormat(Struct, tag_field="type", tag="json_schema"):
    json_schema: JsonSchema


ResponseFormat = TextFormat | JsonObjectFormat | JsonSchemaFormat


# -- OpenRouter's extensions --------------------------------------------------------------------
class Reasoning(Struct):
    """OpenRouter's unified reasoning control."""

    effort: Effort | None = None
    max_tokens: NonNegativeInt | None = None
    exclude: bool | None = None
    enabled: bool | None = None


class Plugin(Struct):
    id: NonEmptyStr


class Sampling(Struct, kw_only=True):
    """OpenAI's sampling parameters, the same in chat completions and legacy completions."""

    temperature: Temperature | None = None
    top_p: UnitInterval | None = None
    frequency_penalty: Penalty | None = None
    presence_penalty: Penalty | None = None
    seed: Int64 | None = None
    stop: str | list[str] | None = None
    logit_bias: dict[str, Bias] | None = None
    user: str | None = None


class OpenAIChatFields(Sampling, kw_only=True):
    """The parameters of OpenAI's chat completions API that turnout interprets."""

    model: str | None = None  # required unless OpenRouter's `models` names one
    messages: Annotated[list[ChatMessage], Meta(min_length=1, max_length=MAX_MESSAGES)]
    stream: bool | None = None
    stream_options: Object | None = None
    max_tokens: PositiveInt | None = None
    max_completion_tokens: PositiveInt | None = None
    logprobs: bool | None = None
    top_logprobs: TopLogprobs | None = None
    n: PositiveInt | None = None  # only 1 is served (api/openai/protocol.py)
    response_format: ResponseFormat | None = None
    tools: list[ChatTool] | None = None
    tool_choice: Literal["auto", "none", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None


class ChatCompletionsBody(OpenAIChatFields, kw_only=True):
    """`POST /chat/completions`: OpenAI's parameters plus OpenRouter's extensions (below)."""

    # OpenRouter extensions (https://openrouter.ai/docs/api/reference/parameters)
    models: list[str] | None = None
    provider: Object | None = None
    route: str | None = None
    transforms: list[str] | None = None
    plugins: list[Plugin] | None = None
    reasoning: Reasoning | None = None
    include_reasoning: bool | None = None
    usage: Object | None = None
    structured_outputs: bool | None = None
    top_k: NonNegativeInt | None = None
    min_p: UnitInterval | None = None
    top_a: UnitInterval | None = None
    repetition_penalty: RepetitionPenalty | None = None
    session_id: str | None = None
    preset: str | None = None
    debug: Object | None = None


# Every field declared above: the rest of a body passes through to OpenAI-dialect upstreams.
DECLARED = frozenset(f.encode_name for f in msgspec.structs.fields(ChatCompletionsBody))


# -- legacy completions and embeddings ----------------------------------------------------------
class CompletionsBody(Sampling, kw_only=True):
    """`POST /completions`: OpenAI's legacy prompt API (the sampling parameters of chat apply)."""

    model: NonEmptyStr
    # Token-array prompts are declared (OpenAI accepts them) and refused with a clear 400.
    prompt: str | Annotated[list[str | Int64 | list[Int64]], Meta(min_length=1, max_length=2048)]
    stream: bool | None = None
    stream_options: Object | None = None
    echo: bool | None = None
    max_tokens: PositiveInt | None = None
    logprobs: Int64 | bool | None = None  # only 0 or absent is served
    n: Int64 | None = None  # only 1 is served
    best_of: Int64 | None = None  # only 1 is served
    suffix: str | None = None  # fill-in-the-middle: refused unless empty
    # OpenRouter extensions
    provider: Object | None = None
    plugins: list[Plugin] | None = None
    top_k: NonNegativeInt | None = None
    repetition_penalty: RepetitionPenalty | None = None


class EmbeddingsBody(Struct, kw_only=True):
    """`POST /embeddings`: OpenAI's embeddings API; `provider` is OpenRouter's routing extension."""

    model: NonEmptyStr
    # A text, texts, a token array or token arrays (told apart in api/embeddings.py).
    input: str | Annotated[list[str | Int64 | Annotated[list[Int64], Meta(min_length=1)]], Meta(min_length=1, max_length=2048)]
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: PositiveInt | None = None
    user: str | None = None
    provider: Object | None = None


EMBEDDINGS_DECLARED = frozenset(f.encode_name for f in msgspec.structs.fields(EmbeddingsBody))
