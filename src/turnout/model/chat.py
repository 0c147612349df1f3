"""The canonical chat request: OpenAI's chat shape plus OpenRouter's extensions, as typed values.

Inbound dialects build a `ChatRequest`; provider adapters read it. Fields that an inbound dialect
received but turnout does not model are kept in `extra` so that OpenAI-dialect upstreams receive
them untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "developer", "user", "assistant", "tool"]
JSON = dict[str, Any]


@dataclass(slots=True)
class TextPart:
    text: str
    cache_control: JSON | None = None


@dataclass(slots=True)
class ImagePart:
    url: str  # http(s) URL or data: URL
    detail: str | None = None
    cache_control: JSON | None = None


@dataclass(slots=True)
class FilePart:
    filename: str | None = None
    file_data: str | None = None  # data: URL or http(s) URL
    file_id: str | None = None


@dataclass(slots=True)
class AudioPart:
    data: str  # base64
    format: str


@dataclass(slots=True)
class VideoPart:
    url: str


ContentPart = TextPart | ImagePart | FilePart | AudioPart | VideoPart


@dataclass(slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, exactly as the model produced it


@dataclass(slots=True)
class Message:
    role: Role
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    reasoning: str | None = None
    reasoning_details: list[JSON] | None = None

    def text(self) -> str:
        """The message's text parts joined; images and other media are left out."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content if isinstance(p, TextPart))


@dataclass(slots=True)
class Tool:
    name: str
    description: str | None = None
    parameters: JSON | None = None
    strict: bool | None = None


@dataclass(slots=True)
class NamedToolChoice:
    name: str


ToolChoice = Literal["auto", "none", "required"] | NamedToolChoice


@dataclass(slots=True)
class Reasoning:
    """OpenRouter's unified reasoning control."""

    effort: str | None = None  # none|minimal|low|medium|high|xhigh|max
    max_tokens: int | None = None
    exclude: bool = False
    enabled: bool | None = None

    @property
    def active(self) -> bool:
        """Whether the caller asked for reasoning to be on (an explicit off wins)."""
        if self.enabled is False or self.effort == "none":
            return False
        return bool(self.enabled or self.effort or self.max_tokens)


@dataclass(slots=True)
class ResponseFormat:
    type: Literal["text", "json_object", "json_schema"]
    name: str | None = None
    schema: JSON | None = None
    strict: bool | None = None


@dataclass(slots=True)
class ChatRequest:
    model: str
    messages: list[Message]
    stream: bool = False
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    top_a: float | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    repetition_penalty: float | None = None
    seed: int | None = None
    stop: list[str] | None = None
    logit_bias: dict[str, float] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    response_format: ResponseFormat | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    reasoning: Reasoning | None = None
    user: str | None = None
    # OpenRouter plugins (e.g. [{"id": "web"}]); native dialects map the ones they can (Z.ai web search).
    plugins: list[JSON] | None = None
    # The generation id (RequestContext.id) once the inbound route sets it; sent as Z.ai request_id.
    generation_id: str | None = None
    # OpenRouter routing extensions, interpreted by core/, never sent upstream.
    models: list[str] | None = None
    provider: JSON | None = None
    cache_ttl: int | None = None  # response caching asked for by a preset (`cache_enabled`), in seconds
    session_id: str | None = None  # the body's `session_id`: the conversation, for sticky routing (core/routing/sticky.py)
    # Fields turnout does not model: passed through to OpenAI-dialect upstreams untouched.
    extra: JSON = field(default_factory=dict)

    def has_images(self) -> bool:
        for m in self.messages:
            if isinstance(m.content, list) and any(isinstance(p, ImagePart) for p in m.content):
                return True
        return False

    def used_parameters(self) -> set[str]:
        """Names of the optional parameters this request sets, for `require_parameters` routing."""
        names = {
            n
            for n in (
                "max_tokens", "temperature", "top_p", "top_k", "min_p", "top_a", "frequency_penalty",
                "presence_penalty", "repetition_penalty", "seed", "stop", "logit_bias", "logprobs",
                "top_logprobs", "response_format", "tools", "tool_choice", "parallel_tool_calls",
                "reasoning",
            )
            if getattr(self, n) is not None
        }
        if self.response_format is not None and self.response_format.type == "json_schema":
            names.add("structured_outputs")
        return names
