"""Every chat-completions body turnout sends Z.ai is what Z.ai's SDK and API spec declare.

`zai-sdk` types the request's top level only (the keyword arguments of
`zai.api_resource.chat.completions.Completions.create`, which it posts as the body) and leaves
messages and tools as `object`; below that, the contract is Z.ai's own OpenAPI spec for
`POST /paas/v4/chat/completions` (docs.z.ai/api-reference/llm/chat-completion), transcribed here
as TypedDicts: ChatCompletionTextRequest/VisionRequest, VisionMultimodalContentItem,
FunctionToolSchema (name, description and parameters all required), WebSearchToolSchema
(`search_engine: search_pro_jina`), ChatThinking, response_format text|json_object.
"""

from __future__ import annotations

import inspect
from typing import Any, Literal, NotRequired, Required

import orjson
import pytest
from typing_extensions import TypedDict
from zai.api_resource.chat.completions import Completions

from tests.contract.matrix import CASES, target
from tests.contract.sdk_types import assert_declared, undeclared
from turnout.model.errors import GatewayError
from turnout.providers.zai import ZaiAdapter


class Url(TypedDict):
    url: str


class TextItem(TypedDict):
    type: Literal["text"]
    text: str


class ImageItem(TypedDict):
    type: Literal["image_url"]
    image_url: Url


class VideoItem(TypedDict):
    type: Literal["video_url"]
    video_url: Url


class FileItem(TypedDict):
    type: Literal["file_url"]
    file_url: Url


class UserMessage(TypedDict):
    role: Literal["user"]
    content: str | list[TextItem | ImageItem | VideoItem | FileItem]


class SystemMessage(TypedDict):
    role: Literal["system"]
    content: str


class CallFunction(TypedDict):
    name: str
    arguments: str


class ToolCall(TypedDict):
    id: str
    type: Literal["function", "web_search", "retrieval"]
    function: NotRequired[CallFunction]


class AssistantMessage(TypedDict, total=False):
    role: Required[Literal["assistant"]]
    content: str
    tool_calls: list[ToolCall]
    reasoning_content: str  # sent back for preserved thinking (ChatThinking.clear_thinking: false)


class ToolMessage(TypedDict):
    role: Literal["tool"]
    content: str
    tool_call_id: str


class FunctionObject(TypedDict):
    name: str
    description: str
    parameters: dict[str, Any]


class FunctionTool(TypedDict):
    type: Literal["function"]
    function: FunctionObject


class WebSearchObject(TypedDict, total=False):
    enable: bool
    search_engine: Required[Literal["search_pro_jina"]]
    search_query: str
    count: int
    search_domain_filter: str
    search_recency_filter: Literal["oneDay", "oneWeek", "oneMonth", "oneYear", "noLimit"]
    content_size: Literal["medium", "high"]
    result_sequence: Literal["before", "after"]
    search_result: bool
    require_search: bool
    search_prompt: str


class WebSearchTool(TypedDict):
    type: Literal["web_search"]
    web_search: WebSearchObject


class ChatThinking(TypedDict, total=False):
    type: Literal["enabled", "disabled"]
    clear_thinking: bool


class ResponseFormat(TypedDict):
    type: Literal["text", "json_object"]


class ChatCompletionRequest(TypedDict, total=False):
    model: Required[str]
    messages: Required[list[UserMessage | SystemMessage | AssistantMessage | ToolMessage]]
    request_id: str
    do_sample: bool
    stream: bool
    thinking: ChatThinking
    temperature: float
    top_p: float
    max_tokens: int
    tool_stream: bool
    tools: list[FunctionTool | WebSearchTool]
    tool_choice: Literal["auto"]
    stop: list[str]
    response_format: ResponseFormat
    user_id: str
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]  # zai-sdk 0.2.3, GLM-5.2+


SDK_FIELDS = set(inspect.signature(Completions.create).parameters) - {"self", "extra_headers", "extra_body", "timeout"}
MODELS = ["glm-4.6", "glm-4.6v", "glm-5.2"]
REFUSED = {"audio": "messages[0].content[0]", "pdf-data": "messages[0].content[1]", "text-file": "messages[0].content[1]"}


def build(case: str, model: str, **extra: Any) -> dict[str, Any]:
    request = CASES[case]()
    for k, v in extra.items():
        setattr(request, k, v)
    up = ZaiAdapter().build_request(request, target("zai", model))
    assert up.headers["authorization"] == "Bearer key"
    return orjson.loads(up.body)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_body_is_what_the_sdk_and_spec_declare(case: str, model: str) -> None:
    if case in REFUSED:
        with pytest.raises(GatewayError) as err:
            build(case, model)
        assert err.value.status == 400 and err.value.param == REFUSED[case]
        return
    body = build(case, model)
    assert set(body) <= SDK_FIELDS, set(body) - SDK_FIELDS
    assert_declared(body, ChatCompletionRequest, f"the {case!r} body for {model}")
    assert len(body.get("stop", ())) <= 1  # the spec: maxItems 1
    assert 0 <= body.get("temperature", 0) <= 1 and 0.01 <= body.get("top_p", 0.5) <= 1
    assert "reasoning_effort" not in body or target("zai", model).rules.efforts


def test_the_check_refuses_what_the_spec_does_not_know() -> None:
    body = build("everything", "glm-4.6")
    assert undeclared(body, ChatCompletionRequest) == []
    for bad in ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]},
                {"tools": [{"type": "web_search", "web_search": {"enable": True, "search_engine": "search-prime"}}]},
                {"messages": [{"role": "user", "content": [{"type": "file", "file": {"url": "x"}}]}]},
                {"response_format": {"type": "json_schema"}}):
        assert undeclared({**body, **bad}, ChatCompletionRequest), bad


def test_web_search_uses_the_engine_the_spec_lists() -> None:
    body = build("plain", "glm-4.6", plugins=[{"id": "web", "max_results": 80, "include_domains": ["a.example"]}])
    assert body["tools"] == [{"type": "web_search", "web_search": {
        "enable": True, "search_engine": "search_pro_jina", "search_result": True, "count": 50, "search_domain_filter": "a.example"}}]
    assert_declared(body, ChatCompletionRequest, "web search")


def test_text_parts_are_joined_by_a_newline_and_bare_tools_get_the_required_fields() -> None:
    body = build("multi-turn-tools", "glm-4.6")
    assert body["messages"][-1] == {"role": "user", "content": "And tomorrow?\nIn Celsius."}
    body = build("bare-tool", "glm-4.6")
    assert body["tools"] == [{"type": "function", "function": {"name": "ping", "description": "",
                                                               "parameters": {"type": "object", "properties": {}}}}]
