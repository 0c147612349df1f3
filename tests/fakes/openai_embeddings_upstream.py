"""A fake OpenAI-compatible embeddings upstream on loopback (`POST /v1/embeddings`).

Wire format: https://platform.openai.com/docs/api-reference/embeddings/create — a list object
with one `{"object": "embedding", "index", "embedding"}` per input and `usage.prompt_tokens`.
The upstream model name picks the scenario:
  embed           deterministic 4-float vectors (see `fake_vector`); usage counts words
  embed-shuffled  the same, with `data` in reverse order (clients must sort by `index`)
  embed-no-usage  no usage object
  embed-short     one vector fewer than inputs (a broken upstream)
  error-400 / error-500
  hang            never answers; notes in `state.cancelled` when the caller closes the connection
Every request is recorded in `state.requests` (body and headers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.conftest import FAILING_PRICE
from tests.fakes.openai_upstream import until_closed


@dataclass
class EmbeddingsState:
    requests: list[dict[str, Any]] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)


def fake_vector(item: str | list[int], dimensions: int | None = None) -> list[float]:
    """Exactly representable in float32, so base64 round trips compare equal."""
    text = item if isinstance(item, str) else " ".join(map(str, item))
    vector = [float(len(text)), float(sum(map(ord, text)) % 97), 0.5, -1.25]
    return vector[:dimensions] if dimensions else vector


ERRORS = {
    "error-400": (400, {"error": {"message": "Invalid 'input': too long", "type": "invalid_request_error", "param": "input", "code": None}}),
    "error-500": (500, {"error": {"message": "The server had an error while processing your request.", "type": "server_error"}}),
}


def create_app(state: EmbeddingsState) -> Starlette:
    async def embeddings(request: Request) -> Response:
        body = await request.json()
        state.requests.append({"body": body, "headers": dict(request.headers)})
        scenario = str(body.get("model", ""))
        if scenario == "hang":
            await until_closed(request, 3600)
            state.cancelled.append(scenario)
            return Response(b"", 499)
        if scenario in ERRORS:
            status, payload = ERRORS[scenario]
            return JSONResponse(payload, status)
        inputs = body["input"]
        if isinstance(inputs, str) or (inputs and isinstance(inputs[0], int)):
            inputs = [inputs]
        data = [
            {"object": "embedding", "index": i, "embedding": fake_vector(x, body.get("dimensions"))}
            for i, x in enumerate(inputs)
        ]
        if scenario == "embed-shuffled":
            data.reverse()
        if scenario == "embed-short":
            data = data[:-1]
        out: dict[str, Any] = {"object": "list", "data": data, "model": scenario}
        if scenario != "embed-no-usage":
            words = sum(len(x.split()) if isinstance(x, str) else len(x) for x in inputs)
            out["usage"] = {"prompt_tokens": words, "total_tokens": words}
        return JSONResponse(out)

    return Starlette(routes=[Route("/v1/embeddings", embeddings, methods=["POST"])])


def dialect_models(upstream_url: str, embeddings_url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Catalog entries the dialect tests add to tests/conftest.py's: a vision model and embedding models."""
    pricing = {"prompt": "0.000001", "completion": "0.000002"}
    providers = {
        "fake-embed": {"name": "Fake Embed", "dialect": "openai", "base_url": f"{embeddings_url}/v1", "api_key": "sk-embed"},
    }
    models: dict[str, Any] = {
        "test/vision": {
            "context_length": 8192, "input_modalities": ["text", "image"],
            "supported_parameters": ["max_tokens", "temperature", "tools", "tool_choice"],
            "endpoints": [{"provider": "fake", "model": "echo", "pricing": pricing}],
        },
    }
    for scenario in ("embed", "embed-shuffled", "embed-no-usage", "embed-short", "error-400"):
        models[f"test/{scenario}"] = {
            "kind": "embedding", "context_length": 512, "output_modalities": ["embeddings"],
            "endpoints": [{"provider": "fake-embed", "model": scenario, "pricing": {"prompt": "0.0000001", "completion": "0"}}],
        }
    models["test/embed-fallback"] = {
        "kind": "embedding", "context_length": 512, "output_modalities": ["embeddings"],
        "endpoints": [
            {"provider": "fake-embed", "model": "error-500", "pricing": {"prompt": FAILING_PRICE, "completion": "0"}},
            {"provider": "fake-embed", "model": "embed", "pricing": {"prompt": "0.0000001", "completion": "0"}},
        ],
    }
    return providers, models
