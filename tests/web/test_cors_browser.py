"""CORS in a real browser: a page on another origin calls the gateway with fetch(), as a browser app
calls OpenRouter. Chromium sends the preflight and enforces the answer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from tests.conftest import Gateway
from tests.fakes.server import serve

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def other_origin() -> Iterator[str]:
    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse("<!doctype html><title>app</title><p>an app on another origin</p>")

    with serve(Starlette(routes=[Route("/", page)]), lifespan="off") as url:
        yield url.replace("127.0.0.1", "localhost")  # another host name: another origin


FETCH = """async ([url, key, body]) => {
  try {
    const r = await fetch(url, {method: body ? "POST" : "GET", headers: {
      "Authorization": "Bearer " + key, "Content-Type": "application/json", "X-Title": "Browser App"},
      body: body ? JSON.stringify(body) : undefined});
    return {status: r.status, json: await r.json(), generation: r.headers.get("x-generation-id")};
  } catch (e) { return {error: String(e)}; }
}"""


def test_a_page_on_another_origin_calls_the_api(browser: Any, gateway: Gateway, other_origin: str) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(other_origin + "/")
        body = {"model": "test/echo", "messages": [{"role": "user", "content": "hello from a page"}], "max_tokens": 5}
        done = page.evaluate(FETCH, [f"{gateway.api}/chat/completions", gateway.key, body])
        assert done.get("status") == 200, done
        assert "hello from a page" in done["json"]["choices"][0]["message"]["content"]
        assert done["generation"], "x-generation-id is exposed to the page"
        models = page.evaluate(FETCH, [f"{gateway.api}/models", gateway.key, None])
        assert models.get("status") == 200 and models["json"]["data"], models
        # Key management is closed to pages: the browser refuses to send it.
        refused = page.evaluate(FETCH, [f"{gateway.api}/keys", gateway.key, {"name": "from-a-page"}])
        assert "error" in refused and "Failed to fetch" in refused["error"], refused
    finally:
        context.close()
