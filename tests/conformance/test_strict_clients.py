"""OpenRouter's strict official clients against every upstream dialect: the TypeScript SDK and
Vercel's ai provider (tests/js/clients.mjs, case `matrix`) parse chat and Responses answers,
plain and streamed, for models served by OpenAI-compatible, Z.ai, Anthropic and Gemini upstreams
(what reaches the client differs by upstream: reasoning details, cache counts, tool calls)."""

from __future__ import annotations

import json
import os
import subprocess

import httpx
from openrouter import OpenRouter
from tests.conformance.conftest import DIALECTS, ConformanceGateway
from tests.integration.test_js_clients import JS, ensure_node
from tests.integration.test_openrouter_sdk import USER, WEATHER, Recording, check_exchange

SCENARIOS = ("echo", "tools", "reasoning", "cached")
PY_SCENARIOS = SCENARIOS[1:]  # the SDK's parsing is slow; plain answers are covered in tests/integration


def test_typescript_clients_parse_every_upstream_dialect(conf: ConformanceGateway) -> None:
    node = ensure_node()
    models = ",".join(f"conf-{d}/{s}" for d in DIALECTS for s in SCENARIOS)
    out = subprocess.run([node, "clients.mjs", "matrix", conf.api, conf.key], cwd=JS, capture_output=True, text=True,
                         timeout=600, env={**os.environ, "TURNOUT_MODELS": models})
    reports = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert reports and reports[-1]["ok"], reports[-1]["error"] if reports else out.stderr[-4000:]


def test_the_python_sdk_parses_every_upstream_dialect(conf: ConformanceGateway) -> None:
    """The same through OpenRouter's Python SDK, with every answer parsed again strictly (no field
    the SDK silently dropped, see tests/integration/test_openrouter_sdk.py)."""
    recording = Recording()
    with httpx.Client(transport=recording, timeout=30) as http, OpenRouter(
        api_key=conf.key, server_url=conf.api, client=http, retry_config=None,
    ) as client:
        for dialect in DIALECTS:
            for scenario in PY_SCENARIOS:
                model = f"conf-{dialect}/{scenario}"
                extra: dict[str, object] = {}
                if scenario == "tools":
                    extra["tools"] = [WEATHER]
                if scenario == "reasoning":
                    extra["reasoning"] = {"effort": "high"}
                assert client.chat.send(model=model, messages=USER, stream=False, **extra).usage.cost_details
                assert list(client.chat.send(model=model, messages=USER, stream=True, **extra))[-1].usage.cost_details
                r = client.responses.send(model=model, input="hello there",
                                          reasoning=extra.get("reasoning"))  # type: ignore[arg-type]
                assert r.status == "completed" and r.usage.cost_details
                list(client.responses.send(model=model, input="hello there", stream=True))
    assert len(recording.exchanges) == len(DIALECTS) * len(PY_SCENARIOS) * 4
    for ex in recording.exchanges:
        check_exchange(ex)
