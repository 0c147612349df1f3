"""The official `openai` SDK's legacy `completions` and `embeddings` against turnout over a real
socket: completions through the fake chat upstream, embeddings through a fake embeddings upstream."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import httpx
import openai
import pytest

from tests.conftest import COMPLETION_PRICE, PROMPT_PRICE, Gateway, Upstream, create_key, gateway_config
from tests.fakes.openai_embeddings_upstream import EmbeddingsState, dialect_models, fake_vector
from tests.fakes.openai_embeddings_upstream import create_app as create_embeddings_upstream
from tests.fakes.server import serve
from turnout.app import create_app
from turnout.core.upstream.dispatch import MAX_ATTEMPTS
from turnout.settings import load_settings

EMBED_PRICE = Decimal("0.0000001")


@dataclass
class Env:
    gw: Gateway
    embeddings: EmbeddingsState


@pytest.fixture(scope="module")
def env(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    state = EmbeddingsState()
    with serve(create_embeddings_upstream(state)) as embeddings_url:
        config = gateway_config(upstream.url)
        providers, models = dialect_models(upstream.url, embeddings_url)
        # More failing endpoints than the attempt cap allows: each its own provider, one upstream.
        for i in range(MAX_ATTEMPTS + 2):
            providers[f"fake-embed-{i}"] = {**providers["fake-embed"], "name": f"Fake Embed {i}"}
        models["test/embed-all-failing"] = {
            "kind": "embedding", "context_length": 512, "output_modalities": ["embeddings"],
            "endpoints": [{"provider": f"fake-embed-{i}", "model": "error-500",
                           "pricing": {"prompt": "0.0000001", "completion": "0"}} for i in range(MAX_ATTEMPTS + 2)],
        }
        settings = load_settings(
            None, env={}, data_dir=tmp_path_factory.mktemp("legacy-dialects"), keepalive_interval=0.5,
            read_timeout=2.0, providers={**config["providers"], **providers}, models={**config["models"], **models},
        )
        key = create_key(settings, "legacy-sdk")
        with serve(create_app(settings)) as url:
            yield Env(Gateway(url, key, settings, upstream), state)


@pytest.fixture
def client(env: Env) -> openai.OpenAI:
    return openai.OpenAI(base_url=env.gw.api, api_key=env.gw.key, max_retries=0, timeout=20)


def generation(gw: Gateway, gen_id: str) -> dict:
    """The generation record (written by the accounting queue, so polled briefly)."""
    deadline = time.monotonic() + 5
    while True:
        r = httpx.get(f"{gw.api}/generation", params={"id": gen_id}, headers={"authorization": f"Bearer {gw.key}"})
        if r.status_code == 200 or time.monotonic() > deadline:
            assert r.status_code == 200, r.text
            return r.json()["data"]
        time.sleep(0.05)


def test_completion(client: openai.OpenAI, env: Env) -> None:
    r = client.completions.create(model="test/echo", prompt="hello there", max_tokens=20, temperature=0.5, stop=["\n"])
    assert r.object == "text_completion"
    assert r.choices[0].text == "echo: hello there" and r.choices[0].finish_reason == "stop"
    body = env.gw.upstream.state.requests[-1]["body"]
    assert body["messages"] == [{"role": "user", "content": "hello there"}]
    assert body["max_tokens"] == 20 and body["temperature"] == 0.5 and body["stop"] == ["\n"]
    u = r.usage
    assert u is not None
    cost = u.prompt_tokens * Decimal(PROMPT_PRICE) + u.completion_tokens * Decimal(COMPLETION_PRICE)
    assert Decimal(str(u.model_extra["cost"])) == cost
    rec = generation(env.gw, r.id)
    assert rec["dialect_in"] == "completions" and rec["dialect_out"] == "openai"
    assert Decimal(str(rec["total_cost"])) == cost


def test_completion_prompt_array_and_echo(client: openai.OpenAI) -> None:
    r = client.completions.create(model="test/echo", prompt=["one", "two"], echo=True)
    assert [c.text for c in r.choices] == ["oneecho: one", "twoecho: two"]
    assert [c.index for c in r.choices] == [0, 1]


def test_completion_stream(client: openai.OpenAI, env: Env) -> None:
    chunks = list(client.completions.create(model="test/echo", prompt="a b c", stream=True))
    assert all(c.object == "text_completion" for c in chunks)
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text == "echo: a b c"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4
    assert generation(env.gw, chunks[0].id)["streamed"] is True


def test_completion_errors(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as tokens:
        client.completions.create(model="test/echo", prompt=[1, 2, 3])
    assert tokens.value.body["metadata"]["param"] == "prompt"
    with pytest.raises(openai.BadRequestError) as n:
        client.completions.create(model="test/echo", prompt="x", n=2)
    assert n.value.body["metadata"]["param"] == "n"
    with pytest.raises(openai.BadRequestError):
        client.completions.create(model="nobody/nothing", prompt="x")


def test_embeddings_float_and_base64(client: openai.OpenAI, env: Env) -> None:
    texts = ["the quick brown fox", "jumps"]
    default = client.embeddings.create(model="test/embed", input=texts)  # the SDK asks for base64 and decodes
    assert [d.embedding for d in default.data] == [fake_vector(t) for t in texts]
    floats = client.embeddings.create(model="test/embed", input=texts, encoding_format="float")
    assert [d.embedding for d in floats.data] == [fake_vector(t) for t in texts]
    assert [d.index for d in floats.data] == [0, 1]
    sent = env.embeddings.requests[-1]
    assert sent["body"] == {"model": "embed", "input": texts, "encoding_format": "float"}
    assert sent["headers"]["authorization"] == "Bearer sk-embed"
    assert floats.usage.prompt_tokens == 5 and floats.usage.total_tokens == 5
    assert Decimal(str(floats.usage.model_extra["cost"])) == 5 * EMBED_PRICE
    r = httpx.post(f"{env.gw.api}/embeddings", json={"model": "test/embed", "input": "x"},
                   headers={"authorization": f"Bearer {env.gw.key}"})
    rec = generation(env.gw, r.headers["x-generation-id"])
    assert rec["dialect_in"] == "embeddings" and rec["dialect_out"] == "openai"
    assert rec["tokens_prompt"] == 1 and Decimal(str(rec["total_cost"])) == EMBED_PRICE


def test_embeddings_options_and_order(client: openai.OpenAI, env: Env) -> None:
    r = client.embeddings.create(model="test/embed-shuffled", input=["a", "bb", "ccc"], dimensions=2, user="u1",
                                 encoding_format="float")
    assert [d.embedding for d in r.data] == [fake_vector(t, 2) for t in ("a", "bb", "ccc")]
    body = env.embeddings.requests[-1]["body"]
    assert body["dimensions"] == 2 and body["user"] == "u1"
    tokens = client.embeddings.create(model="test/embed", input=[[1, 2, 3]], encoding_format="float")
    assert tokens.data[0].embedding == fake_vector([1, 2, 3])
    long = "word " * 5000  # far past the catalog's context_length: the provider judges input length, not routing
    assert client.embeddings.create(model="test/embed", input=long, encoding_format="float").data[0].embedding == fake_vector(long)


def test_embeddings_without_usage_are_estimated(client: openai.OpenAI, env: Env) -> None:
    r = httpx.post(f"{env.gw.api}/embeddings", json={"model": "test/embed-no-usage", "input": "abcdefgh"},
                   headers={"authorization": f"Bearer {env.gw.key}"})
    assert r.status_code == 200 and r.json()["usage"]["prompt_tokens"] == 2
    assert generation(env.gw, r.headers["x-generation-id"])["usage_estimated"] is True


def test_embeddings_fallback_and_errors(client: openai.OpenAI, env: Env) -> None:
    r = client.embeddings.create(model="test/embed-fallback", input="x", encoding_format="float")
    assert r.data[0].embedding == fake_vector("x")
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model="test/error-400", input="x")
    with pytest.raises(openai.APIStatusError) as short:
        client.embeddings.create(model="test/embed-short", input=["a", "b"])
    assert short.value.status_code == 502
    with pytest.raises(openai.BadRequestError) as chat_model:
        client.embeddings.create(model="test/echo", input="x")
    assert "chat model" in chat_model.value.message
    with pytest.raises(openai.BadRequestError) as empty:
        client.embeddings.create(model="test/embed", input=[])
    assert empty.value.body["metadata"]["param"] == "input"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=env.gw.api, api_key="sk-wrong", max_retries=0).embeddings.create(model="test/embed", input="x")


def test_chat_model_refuses_embeddings_and_embedding_model_refuses_chat(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="test/embed", messages=[{"role": "user", "content": "x"}])
    assert "embedding model" in bad.value.message


def test_local_embeddings_model(client: openai.OpenAI, env: Env) -> None:
    """The built-in in-process model, through the `Embedder` Protocol (skipped when its runtime is absent)."""
    from turnout.local.embeddings import EMBEDDING_DIMENSIONS
    from turnout.providers.local import LocalProvider

    ok, why = LocalProvider(env.gw.settings.data_dir).available("all-minilm-l6-v2")
    if not ok:
        pytest.skip(f"local embeddings unavailable: {why}")
    r = client.embeddings.create(model="sentence-transformers/all-minilm-l6-v2", input=["a cat", "a kitten", "tax law"],
                                 encoding_format="float")
    vectors = [d.embedding for d in r.data]
    assert [len(v) for v in vectors] == [EMBEDDING_DIMENSIONS] * 3
    cosine = [sum(a * b for a, b in zip(vectors[0], v, strict=True)) for v in vectors[1:]]
    assert cosine[0] > cosine[1]  # normalized vectors: a cat is nearer a kitten than tax law
    assert r.usage.prompt_tokens > 0 and Decimal(str(r.usage.model_extra["cost"])) == 0
    rec = generation(env.gw, r.model_extra["id"])
    assert rec["dialect_in"] == "embeddings" and rec["dialect_out"] == "local"


def test_a_key_over_its_limit_is_refused_in_every_dialect(env: Env) -> None:
    broke = create_key(env.gw.settings, "broke", Decimal(0))
    headers = {"authorization": f"Bearer {broke}"}
    deadline = time.monotonic() + 5  # the key cache picks new keys up within a second or so
    while httpx.get(f"{env.gw.api}/key", headers=headers).status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    calls = {
        "embeddings": {"model": "test/embed", "input": "x"},
        "completions": {"model": "test/echo", "prompt": "x"},
        "responses": {"model": "test/echo", "input": "x"},
        "messages": {"model": "test/echo", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
    }
    for path, body in calls.items():
        r = httpx.post(f"{env.gw.api}/{path}", json=body, headers=headers)
        assert r.status_code == 402, (path, r.text)
    assert r.json() == {"type": "error", "error": {"type": "billing_error", "message": r.json()["error"]["message"]}}


def test_embeddings_keep_the_attempt_cap_of_chat(client: openai.OpenAI, env: Env) -> None:
    """Embeddings run in the dispatcher's attempt loop: with more failing endpoints than the cap,
    no more than MAX_ATTEMPTS are tried (they used to try every endpoint, past cap and deadline)."""
    before = len(env.embeddings.requests)
    with pytest.raises(openai.APIStatusError) as failed:
        client.embeddings.create(model="test/embed-all-failing", input="x", encoding_format="float")
    assert failed.value.status_code >= 500
    tried = failed.value.body["metadata"]["previous_errors"]
    assert len(tried) == MAX_ATTEMPTS and len(env.embeddings.requests) - before == MAX_ATTEMPTS
