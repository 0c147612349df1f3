"""Every web UI response carries the security headers, and the pages work under their CSP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tests.web.conftest import Traffic, WebGateway

from turnout.web.headers import CSP

PATHS = ["/", "/models", "/models/z-ai/glm-4.6", "/models/no/such-model", "/chat", "/activity",
         "/ui/api/activity", "/ui/static/turnout.css", "/ui/static/chat.js", "/ui/static/favicon.svg",
         "/models?partial=1&q=glm"]


@pytest.mark.parametrize("path", PATHS)
def test_every_ui_response_has_the_security_headers(web: WebGateway, path: str) -> None:
    r = httpx.get(f"{web.url}{path}", headers={"authorization": f"Bearer {web.key}"}, timeout=10)
    assert r.status_code in (200, 404), r.text
    csp = r.headers["content-security-policy"]
    assert csp == CSP
    assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert "script-src 'self'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["x-frame-options"] == "DENY"


def test_a_refused_key_on_the_ui_api_still_gets_the_headers(web: WebGateway) -> None:
    r = httpx.get(f"{web.url}/ui/api/activity", headers={"authorization": "Bearer sk-tn-v1-nope"}, timeout=10)
    assert r.status_code == 401
    assert r.headers["content-security-policy"] == CSP


@pytest.mark.browser
def test_pages_with_charts_render_under_the_csp(page: Any, web: WebGateway, traffic: Traffic) -> None:
    # the page fixture fails the test on any CSP violation the browser reports
    page.goto("/models/z-ai/glm-4.6")
    assert page.locator("#performance svg.chart").count() > 0
    page.goto("/activity")
    page.locator("#chart-spend svg").first.wait_for()
    swatch = page.locator("#chart-spend .key i").first
    assert swatch.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(99, 102, 241)"  # PALETTE[0], by class
    page.goto("/chat")
    assert page.locator("#prompt").is_visible()
