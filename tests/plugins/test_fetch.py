"""The URL fetcher: every forbidden address class is refused before a connection, on the first hop
and on each redirect; size and time are capped; through the gateway only when the config allows."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from tests.fakes.server import serve
from tests.plugins.conftest import Plug
from tests.plugins.pdfs import make_pdf
from turnout.model.errors import GatewayError
from turnout.plugins.fetch import Fetcher

PDF = make_pdf(["Fetched from a URL"])
HITS: list[str] = []


def files_app() -> Starlette:
    async def pdf(request: Request) -> Response:
        HITS.append(request.url.path)
        return Response(PDF, media_type="application/pdf")

    async def redirect(request: Request) -> Response:
        HITS.append(request.url.path)
        return RedirectResponse(request.query_params["to"], status_code=302)

    async def big(request: Request) -> Response:
        return Response(b"x" * 300_000, media_type="application/octet-stream")

    async def hang(request: Request) -> Response:
        await asyncio.sleep(10)
        return Response(b"late")

    return Starlette(routes=[Route("/doc.pdf", pdf), Route("/redirect", redirect), Route("/big", big), Route("/hang", hang)])


@pytest.fixture(scope="module")
def files() -> Iterator[str]:
    with serve(files_app()) as url:
        yield url


def fetch(url: str, **kw: Any) -> Any:
    kw.setdefault("max_bytes", 100_000)
    kw.setdefault("timeout", 2.0)
    return asyncio.run(Fetcher(**kw).fetch(url))


@pytest.mark.parametrize(("url", "why"), [
    ("http://127.0.0.1:{port}/doc.pdf", "loopback"),
    ("http://localhost:{port}/doc.pdf", "loopback"),  # a name: checked after DNS resolution
    ("http://[::1]:{port}/doc.pdf", "loopback"),
    ("http://[::ffff:127.0.0.1]:{port}/doc.pdf", "loopback"),  # IPv4-mapped IPv6
    ("http://10.1.2.3/doc.pdf", "private"),
    ("http://172.16.0.1/doc.pdf", "private"),
    ("http://192.168.1.1/doc.pdf", "private"),
    ("http://[fd00::1]/doc.pdf", "private"),
    ("http://100.64.0.1/doc.pdf", "private"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),  # cloud metadata
    ("http://[fe80::1]/doc.pdf", "link-local"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "private"),  # AWS metadata over IPv6
    ("http://0.0.0.0:{port}/doc.pdf", "unspecified"),
    ("http://224.0.0.1/doc.pdf", "multicast"),
])
def test_each_forbidden_address_class_is_refused(files: str, url: str, why: str) -> None:
    port = files.rsplit(":", 1)[1]
    before = len(HITS)
    with pytest.raises(GatewayError) as err:
        fetch(url.format(port=port))
    assert err.value.status == 400 and "refusing" in err.value.message and why in err.value.message
    assert len(HITS) == before  # refused before any connection


def test_an_allowed_network_is_fetched(files: str) -> None:
    got = fetch(f"{files}/doc.pdf", allow=["127.0.0.1/32"])
    assert got.body == PDF and got.content_type == "application/pdf"


@pytest.mark.parametrize("target", ["http://169.254.169.254/latest/meta-data/", "http://127.0.0.2:{port}/doc.pdf",
                                    "http://10.0.0.1/"])
def test_a_redirect_to_a_forbidden_address_is_refused(files: str, target: str) -> None:
    port = files.rsplit(":", 1)[1]
    with pytest.raises(GatewayError) as err:
        fetch(f"{files}/redirect?to={target.format(port=port)}", allow=["127.0.0.1/32"])
    assert "refusing" in err.value.message


def test_a_redirect_within_the_allowed_network_is_followed(files: str) -> None:
    got = fetch(f"{files}/redirect?to=/doc.pdf", allow=["127.0.0.1/32"])
    assert got.body == PDF


def test_size_and_time_are_capped(files: str) -> None:
    with pytest.raises(GatewayError) as err:
        fetch(f"{files}/big", allow=["127.0.0.1/32"], max_bytes=100_000)
    assert "larger than 100000 bytes" in err.value.message
    with pytest.raises(GatewayError) as err:
        fetch(f"{files}/hang", allow=["127.0.0.1/32"], timeout=0.5)
    assert "longer than 0.5 s" in err.value.message


def test_only_http_urls(files: str) -> None:
    for url in ("file:///etc/passwd", "ftp://example.com/x.pdf", "gopher://127.0.0.1/"):
        with pytest.raises(GatewayError):
            fetch(url)


def test_gateway_fetches_a_pdf_url_when_the_config_allows(start_plug: Any, files: str) -> None:
    body = {"model": "test/echo", "messages": [{"role": "user", "content": [
        {"type": "file", "file": {"filename": "doc.pdf", "file_data": f"{files}/doc.pdf"}}]}]}
    own: Plug = start_plug(url_fetch=True, url_fetch_allow=["127.0.0.1/32"])
    r = own.post("/chat/completions", body)
    assert r.status_code == 200, r.text
    assert "Fetched from a URL" in str(own.fakes.upstream.state.requests[-1]["body"])
    own = start_plug(url_fetch=True)  # loopback is not allowed by default
    r = own.post("/chat/completions", body)
    assert r.status_code == 400 and "loopback" in r.json()["error"]["message"]
