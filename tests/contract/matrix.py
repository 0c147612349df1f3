"""The canonical inputs every outbound translator is checked with, against each provider's SDK types.

Each case is one `ChatRequest` as an inbound dialect would build it. A case a provider cannot take
(audio for Anthropic, say) must be refused with a 400 naming the part; the contract modules list
those per dialect, and every other case must build a body the SDK declares field by field.
"""

from __future__ import annotations

from collections.abc import Callable

from turnout.core.catalog.catalog import load_builtin
from turnout.model.chat import (
    AudioPart,
    ChatRequest,
    FilePart,
    ImagePart,
    Message,
    NamedToolChoice,
    Reasoning,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCall,
    VideoPart,
)
from turnout.providers.base import Target
from turnout.providers.rules import RuleBook

PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
PHOTO = "https://upload.example/photo.jpg"
PDF_DATA = "data:application/pdf;base64,JVBERi0xLjQKJcfsj6IKMSAwIG9iago="
PDF_URL = "https://docs.example/report.pdf"
TEXT_DATA = "data:text/plain;base64,aGVsbG8gd29ybGQK"
WEATHER = Tool("get_weather", "Current weather for a city",
               {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]}},
                "required": ["city"]})
BARE_TOOL = Tool("ping")  # no description, no parameters
SCHEMA_TOOL = Tool("plan", "Plan a trip", {
    "type": "object",
    "$defs": {"stop": {"type": "object", "properties": {"city": {"type": "string"}, "nights": {"type": "integer"}},
                       "required": ["city"]}},
    "properties": {
        "stops": {"type": "array", "items": {"$ref": "#/$defs/stop"}},
        "mode": {"oneOf": [{"const": "train"}, {"const": "car"}]},
        "budget": {"type": ["number", "null"], "description": "in EUR"},
        "home": {"$ref": "#/$defs/stop", "description": "where the trip starts"},
    },
    "required": ["stops"],
})
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}, "temperature": {"type": "number"}},
          "required": ["city", "temperature"], "additionalProperties": False}

USER = [Message("user", "What is the weather in Paris?")]
CALL = ToolCall("call_1", "get_weather", '{"city": "Paris"}')


def multi_turn() -> list[Message]:
    return [
        Message("system", "Be brief."),
        *USER,
        Message("assistant", "Let me check.", tool_calls=[CALL, ToolCall("call_2", "get_weather", "")]),
        Message("tool", '{"temp_c": 21}', tool_call_id="call_1", name="get_weather"),
        Message("tool", [TextPart("no data")], tool_call_id="call_2", name="get_weather"),
        Message("user", [TextPart("And tomorrow?"), TextPart("In Celsius.")]),
    ]


def req(**kw: object) -> ChatRequest:
    messages = kw.pop("messages", USER)
    return ChatRequest("m", list(messages), **kw)  # type: ignore[arg-type]


CASES: dict[str, Callable[[], ChatRequest]] = {
    "plain": lambda: req(),
    "system": lambda: req(messages=[Message("system", [TextPart("Be brief.", {"type": "ephemeral"})]),
                                    Message("developer", "Answer in French."), *USER]),
    "multi-turn-tools": lambda: req(messages=multi_turn(), tools=[WEATHER]),
    "tool-call-only": lambda: req(messages=[*USER, Message("assistant", None, tool_calls=[CALL]),
                                            Message("tool", "21C", tool_call_id="call_1")], tools=[WEATHER]),
    "tool-choice-auto": lambda: req(tools=[WEATHER], tool_choice="auto"),
    "tool-choice-none": lambda: req(tools=[WEATHER], tool_choice="none"),
    "tool-choice-required": lambda: req(tools=[WEATHER], tool_choice="required"),
    "tool-choice-named": lambda: req(tools=[WEATHER], tool_choice=NamedToolChoice("get_weather"), parallel_tool_calls=False),
    "bare-tool": lambda: req(tools=[BARE_TOOL]),
    "schema-tool": lambda: req(tools=[SCHEMA_TOOL]),
    "image-data": lambda: req(messages=[Message("user", [TextPart("What is it?"), ImagePart(PNG)])]),
    "image-url": lambda: req(messages=[Message("user", [TextPart("What is it?"), ImagePart(PHOTO)])]),
    "pdf-data": lambda: req(messages=[Message("user", [TextPart("Summarize"), FilePart("report.pdf", PDF_DATA)])]),
    "pdf-url": lambda: req(messages=[Message("user", [TextPart("Summarize"), FilePart("report.pdf", PDF_URL)])]),
    "text-file": lambda: req(messages=[Message("user", [TextPart("Summarize"), FilePart("notes.txt", TEXT_DATA)])]),
    "audio": lambda: req(messages=[Message("user", [AudioPart("UklGRg==", "wav")])]),
    "video": lambda: req(messages=[Message("user", [TextPart("Describe"), VideoPart("https://v.example/a.mp4")])]),
    "reasoning-on": lambda: req(reasoning=Reasoning(enabled=True)),
    "reasoning-off": lambda: req(reasoning=Reasoning(enabled=False)),
    "reasoning-minimal": lambda: req(reasoning=Reasoning(effort="minimal")),
    "reasoning-low": lambda: req(reasoning=Reasoning(effort="low"), max_tokens=4000),
    "reasoning-high": lambda: req(reasoning=Reasoning(effort="high")),
    "reasoning-xhigh": lambda: req(reasoning=Reasoning(effort="xhigh")),
    "reasoning-max": lambda: req(reasoning=Reasoning(effort="max")),
    "reasoning-budget": lambda: req(reasoning=Reasoning(max_tokens=3000), max_tokens=8000),
    "reasoning-tiny-budget": lambda: req(reasoning=Reasoning(max_tokens=100)),
    "reasoning-excluded": lambda: req(reasoning=Reasoning(effort="medium", exclude=True)),
    "include-reasoning-false": lambda: req(reasoning=Reasoning(exclude=True)),
    "reasoning-with-forced-tool": lambda: req(tools=[WEATHER], tool_choice="required", reasoning=Reasoning(effort="high")),
    "structured": lambda: req(response_format=ResponseFormat("json_schema", "weather", SCHEMA, True)),
    "json-object": lambda: req(response_format=ResponseFormat("json_object")),
    "stop": lambda: req(stop=["END", "STOP"]),
    "many-stops": lambda: req(stop=["a", "b", "c", "d", "e", "f"]),
    "sampling": lambda: req(temperature=0.3, top_p=0.5, top_k=40, seed=7, frequency_penalty=0.1, presence_penalty=0.2),
    "greedy": lambda: req(temperature=0.0),
    "out-of-range": lambda: req(temperature=1.7, top_p=0.0),
    "user": lambda: req(user="customer-42"),
    "stream": lambda: req(stream=True),
    "stream-tools": lambda: req(stream=True, tools=[WEATHER], reasoning=Reasoning(effort="low")),
    "everything": lambda: req(messages=multi_turn(), tools=[WEATHER, BARE_TOOL], tool_choice="auto", max_tokens=2000,
                              stop=["END"], reasoning=Reasoning(effort="medium"), user="customer-42", stream=True,
                              response_format=ResponseFormat("json_schema", "weather", SCHEMA, True)),
}

RULEBOOK = RuleBook.parse(load_builtin()["parameter_rules"])


def target(dialect: str, model: str) -> Target:
    return Target("p", "Provider", dialect, model, "http://127.0.0.1:9", "key", rules=RULEBOOK.lookup(dialect, model))
