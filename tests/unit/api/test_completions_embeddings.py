"""Legacy completions and embeddings requests -> canonical; the OpenAI embeddings adapter."""

from __future__ import annotations

import base64
import struct
from typing import Any

import orjson
import pytest

from turnout.api.completions import to_chat_requests
from turnout.api.embeddings import encode_vector, to_embedding_request
from turnout.core.money.estimate import PromptEstimate, estimate_embedding
from turnout.model.errors import GatewayError, UpstreamError
from turnout.providers.base import EmbeddingAdapter, Target
from turnout.providers.openai_embeddings import OpenAIEmbeddingsAdapter

TARGET = Target("p", "P", "openai", "up-model", "http://127.0.0.1:1/v1", "sk")


def test_completion_prompts_become_user_messages() -> None:
    chats, echo = to_chat_requests({"model": "a/b", "prompt": ["x", "y"], "max_tokens": 5, "stop": "\n", "echo": True})
    assert [c.messages[0].content for c in chats] == ["x", "y"] and echo
    assert chats[0].max_tokens == 5 and chats[0].stop == ["\n"]


@pytest.mark.parametrize(("body", "param"), [
    ({"model": "a/b"}, "prompt"),
    ({"model": "a/b", "prompt": [[1, 2]]}, "prompt"),
    ({"model": "a/b", "prompt": "x", "n": 3}, "n"),
    ({"model": "a/b", "prompt": "x", "best_of": 2}, "best_of"),
    ({"model": "a/b", "prompt": "x", "suffix": "tail"}, "suffix"),
    ({"model": "a/b", "prompt": "x", "logprobs": 2}, "logprobs"),
    ({"model": "a/b", "prompt": ["x", "y"], "stream": True}, "prompt"),
    ({"model": "a/b", "prompt": "x", "temperature": 9}, "temperature"),
])
def test_completion_errors(body: dict[str, Any], param: str) -> None:
    with pytest.raises(GatewayError) as e:
        to_chat_requests(body)
    assert e.value.param == param


def test_embedding_inputs() -> None:
    assert to_embedding_request({"model": "a/b", "input": "x"})[0].inputs == ["x"]
    assert to_embedding_request({"model": "a/b", "input": [1, 2]})[0].inputs == [[1, 2]]
    request, encoding = to_embedding_request({"model": "a/b", "input": ["aaaa", "bb"], "encoding_format": "base64",
                                              "dimensions": 8, "vendor": 1})
    assert encoding == "base64" and request.dimensions == 8 and request.extra == {"vendor": 1}
    assert estimate_embedding(request) == PromptEstimate(6, 1)  # 6 bytes: at most 6 tokens, likely 1
    for bad, param in (({"input": []}, "input"), ({"input": ["", "x"]}, "input"), ({"input": "x", "encoding_format": "hex"},
                       "encoding_format"), ({"input": "x", "dimensions": 0}, "dimensions"), ({"input": [True]}, "input[0]")):
        with pytest.raises(GatewayError) as e:
            to_embedding_request({"model": "a/b", **bad})
        assert e.value.param == param


def test_base64_is_little_endian_float32() -> None:
    encoded = encode_vector([1.0, -0.5], "base64")
    assert isinstance(encoded, str)
    assert list(struct.unpack("<2f", base64.b64decode(encoded))) == [1.0, -0.5]
    assert encode_vector([1.0], "float") == [1.0]


def test_openai_embeddings_adapter() -> None:
    adapter = OpenAIEmbeddingsAdapter()
    assert isinstance(adapter, EmbeddingAdapter)
    request, _ = to_embedding_request({"model": "a/b", "input": ["x", "y"], "user": "u", "provider": {"order": ["p"]}})
    up = adapter.build_embeddings_request(request, TARGET)
    assert up.url == "http://127.0.0.1:1/v1/embeddings" and up.headers["authorization"] == "Bearer sk"
    assert orjson.loads(up.body) == {"model": "up-model", "input": ["x", "y"], "encoding_format": "float", "user": "u"}
    body = {"data": [{"index": 1, "embedding": [2]}, {"index": 0, "embedding": [1]}], "usage": {"prompt_tokens": 4}}
    result = adapter.parse_embeddings_response(orjson.dumps(body), TARGET)
    assert result.vectors == [[1.0], [2.0]] and result.usage is not None and result.usage.prompt_tokens == 4
    for broken in (b"<html>", b'{"data": "x"}', b'{"data": [{"embedding": "AAAA"}]}'):
        with pytest.raises(UpstreamError):
            adapter.parse_embeddings_response(broken, TARGET)
    err = adapter.parse_error(500, {}, b'{"error": {"message": "boom"}}', TARGET)
    assert err.status >= 500


def test_integral_floats_are_integers_as_before() -> None:
    chats, _ = to_chat_requests({"model": "a/b", "prompt": "x", "max_tokens": 5.0, "n": 1.0, "logprobs": 0.0})
    assert chats[0].max_tokens == 5 and isinstance(chats[0].max_tokens, int)
    with pytest.raises(GatewayError) as e:
        to_chat_requests({"model": "a/b", "prompt": "x", "max_tokens": 5.5})
    assert e.value.param == "max_tokens"


SAMPLING_OUT_OF_RANGE = [("temperature", 2.5), ("top_p", 1.5), ("frequency_penalty", -3), ("presence_penalty", 3),
                         ("seed", 2**63), ("logit_bias", {"50256": 101}), ("stop", 5), ("user", 7)]


@pytest.mark.parametrize(("param", "value"), SAMPLING_OUT_OF_RANGE)
def test_sampling_parameters_are_checked_alike_in_chat_and_completions(param: str, value: Any) -> None:
    """One declaration (api/openai/wire.py `Sampling`) serves both: the same value is refused by
    both, naming the parameter, and an accepted one reaches the canonical request of both."""
    from turnout.api.openai.protocol import to_chat_request

    chat = {"model": "a/b", "messages": [{"role": "user", "content": "x"}], param: value}
    legacy = {"model": "a/b", "prompt": "x", param: value}
    for parse in (to_chat_request, lambda b: to_chat_requests(b)[0][0]):
        body = chat if parse is to_chat_request else legacy
        with pytest.raises(GatewayError) as e:
            parse(body)
        assert e.value.status == 400 and param in e.value.message, e.value.message
    ok_chat = to_chat_request({**chat, "temperature": 0.5, "top_p": 0.9, "seed": 7, param: None})
    ok_legacy = to_chat_requests({**legacy, "temperature": 0.5, "top_p": 0.9, "seed": 7, param: None})[0][0]
    for ok in (ok_chat, ok_legacy):
        assert (ok.temperature, ok.top_p, ok.seed) == (0.5 if param != "temperature" else None,
                                                       0.9 if param != "top_p" else None,
                                                       7 if param != "seed" else None)
