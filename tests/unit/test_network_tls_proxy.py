"""Per-provider TLS (a private CA, client certificates, `verify: false`) and forward proxies
(a real tinyproxy: CONNECT tunnels, credentials, the environment variables), on loopback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvloop

from tests.fakes.network import PKI, TINYPROXY, Tinyproxy, make_pki, server_context, tinyproxy
from tests.unit.test_network_client import OK, read_request
from turnout.core.catalog.catalog import CatalogError, build_catalog
from turnout.core.catalog.network import Network, ProxyEnvironment, TLSConfig, network_of
from turnout.core.upstream.http import HTTPClient, ProxyError, TLSError
from turnout.core.upstream.transport import Transport
from turnout.model.errors import ErrorKind, UpstreamError
from turnout.providers.base import Target, UpstreamRequest


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def proxy() -> Iterator[Tinyproxy]:
    if not Path(TINYPROXY).exists():
        pytest.fail("tinyproxy is not installed: run scripts/test.sh (apt-get install tinyproxy)")
    with tinyproxy() as p:
        yield p


class Seen:
    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.peers: list[object] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.peers.append(writer.get_extra_info("peercert"))
        try:
            while True:
                self.requests.append(await read_request(reader))
                writer.write(OK)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            writer.close()


async def tls_server(pki: PKI, seen: Seen, *, mutual: bool = True, wrong_name: bool = False) -> tuple[asyncio.Server, str]:
    server = await asyncio.start_server(
        seen.handle, "127.0.0.1", 0, ssl=server_context(pki, require_client_cert=mutual, wrong_name=wrong_name)
    )
    return server, f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1/chat/completions"


async def plain_server(seen: Seen) -> tuple[asyncio.Server, str]:
    server = await asyncio.start_server(seen.handle, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1/chat/completions"


def target(url: str, network: Network) -> Target:
    return Target(provider="corp", provider_name="Corp", dialect="openai", upstream_model="m",
                  base_url=url.rsplit("/", 2)[0], api_key="sk-corp", network=network)


async def send(transport: Transport, url: str, network: Network) -> int:
    up = UpstreamRequest("POST", url, {"authorization": "Bearer sk-corp"}, b"{}", False)
    status, _, _ = await transport.fetch(up, target(url, network))
    return status


# --- TLS -------------------------------------------------------------------------------------------

def test_a_private_ca_and_a_client_certificate_reach_a_server_that_demands_one(pki: PKI) -> None:
    async def main() -> None:
        seen = Seen()
        server, url = await tls_server(pki, seen)
        transport = Transport(3, 3)
        mtls = Network(tls=TLSConfig(ca_file=str(pki.ca), client_cert=str(pki.client_cert), client_key=str(pki.client_key)))
        try:
            assert await send(transport, url, mtls) == 200
            assert seen.peers[-1] and dict(x[0] for x in seen.peers[-1]["subject"])["commonName"] == "turnout"  # type: ignore[index]

            # The system trust store does not know the private CA: its own error kind, with the reason.
            with pytest.raises(UpstreamError) as untrusted:
                await send(transport, url, Network())
            assert untrusted.value.kind is ErrorKind.PROVIDER_TLS_FAILED and untrusted.value.status == 502
            assert "certificate verification failed" in str(untrusted.value)
            assert "self-signed" in str(untrusted.value) or "issuer" in str(untrusted.value)  # the reason
            assert "127.0.0.1" not in str(untrusted.value) and "127.0.0.1" in (untrusted.value.detail or "")

            # The right CA but no client certificate: the server refuses the handshake.
            with pytest.raises(UpstreamError) as refused:
                await send(transport, url, Network(tls=TLSConfig(ca_file=str(pki.ca))))
            assert refused.value.kind is ErrorKind.PROVIDER_TLS_FAILED, refused.value
            assert "certificate" in str(refused.value).lower() and "127.0.0.1" not in str(refused.value)

            # A client certificate from a CA the server does not trust.
            with pytest.raises(UpstreamError) as stranger:
                await send(transport, url, Network(tls=TLSConfig(ca_file=str(pki.ca), client_cert=str(pki.stranger_cert),
                                                                 client_key=str(pki.stranger_key))))
            assert stranger.value.kind is ErrorKind.PROVIDER_TLS_FAILED
        finally:
            await transport.close()
            server.close()

    asyncio.run(main())


def test_a_certificate_for_another_name_fails_without_naming_the_host(pki: PKI) -> None:
    async def main() -> None:
        seen = Seen()
        server, url = await tls_server(pki, seen, mutual=False, wrong_name=True)
        transport = Transport(3, 3)
        try:
            with pytest.raises(UpstreamError) as mismatch:
                await send(transport, url, Network(tls=TLSConfig(ca_file=str(pki.ca))))
            assert mismatch.value.kind is ErrorKind.PROVIDER_TLS_FAILED
            assert "not valid for the provider's host name" in str(mismatch.value)
            assert "127.0.0.1" not in str(mismatch.value)
            # verify: false, written out, connects anyway (and was warned about at start-up).
            assert await send(transport, url, Network(tls=TLSConfig(verify=False))) == 200
        finally:
            await transport.close()
            server.close()

    asyncio.run(main())


def test_tls_config_is_checked_at_start_up_and_verify_false_warns(pki: PKI, caplog: pytest.LogCaptureFixture) -> None:
    base = {"name": "Corp", "dialect": "openai", "base_url": "https://llm.corp.example/v1", "api_key": "k"}
    with caplog.at_level(logging.WARNING, logger="turnout.network"):
        network = network_of("corp", {**base, "tls": {"ca_file": str(pki.ca)}})
    assert network.tls == TLSConfig(ca_file=str(pki.ca)) and not caplog.records  # verify stays on by default
    with caplog.at_level(logging.WARNING, logger="turnout.network"):
        network_of("corp", {**base, "tls": {"verify": False}})
    assert any("verify is false" in r.getMessage() and "NOT checked" in r.getMessage() for r in caplog.records)
    for bad, says in (
        ({"tls": {"ca_file": "/nonexistent/ca.pem"}}, "cannot load the certificates"),
        ({"tls": {"verify": "no"}}, "tls.verify must be a boolean"),
        ({"tls": {"verify_ssl": False}}, "tls.verify_ssl: unknown field"),
        ({"tls": {"client_key": str(pki.client_key)}}, "client_key needs tls.client_cert"),
        ({"proxy": "socks5://proxy:1080"}, "must be an http:// proxy URL"),
        ({"max_connections": 0}, "max_connections must be a positive integer"),
    ):
        with pytest.raises(CatalogError, match=says):
            build_catalog({"corp": {**base, **bad}}, {}, {})


# --- proxies ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])  # uvicorn serves turnout on uvloop when it is installed
def test_an_https_provider_through_a_per_provider_proxy_uses_a_connect_tunnel(pki: PKI, proxy: Tinyproxy, loop: str) -> None:
    async def main() -> None:
        seen = Seen()
        server, url = await tls_server(pki, seen)
        port = url.split(":")[2].split("/")[0]
        transport = Transport(5, 5, environ={})
        tls = TLSConfig(ca_file=str(pki.ca), client_cert=str(pki.client_cert), client_key=str(pki.client_key))
        try:
            assert await send(transport, url, Network(proxy=proxy.url, tls=tls)) == 200
            assert await send(transport, url, Network(proxy=proxy.url, tls=tls)) == 200  # over the same tunnel
            assert len(seen.peers) == 1
            # The request inside the tunnel is the origin-form one, end to end encrypted.
            assert seen.requests[0].startswith(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:")
            assert b"Proxy-Authorization" not in seen.requests[0]
            log = proxy.log_text()  # the proxy's own log shows the tunnel
            assert f"CONNECT 127.0.0.1:{port} HTTP/1.1" in log and 'Established connection to host "127.0.0.1"' in log, log
            assert "POST" not in log  # what went through the tunnel is not the proxy's to read

            # Wrong credentials: the proxy's 407, as the reason.
            bad = proxy.url.replace(proxy.password, "wrong")
            with pytest.raises(UpstreamError) as refused:
                await send(transport, url, Network(proxy=bad, tls=tls))
            assert refused.value.kind is ErrorKind.PROVIDER_UNREACHABLE
            assert "the proxy refused its credentials (40" in str(refused.value)  # tinyproxy says 401
            assert "wrong" not in str(refused.value) and proxy.password not in (refused.value.detail or "")
        finally:
            await transport.close()
            server.close()

    uvloop.run(main()) if loop == "uvloop" else asyncio.run(main())


def test_the_environment_proxy_carries_plain_http_and_no_proxy_bypasses_it(proxy: Tinyproxy) -> None:
    async def main() -> None:
        seen = Seen()
        server, url = await plain_server(seen)
        port = int(url.split(":")[2].split("/")[0])
        via_env = Transport(5, 5, environ={"http_proxy": proxy.url, "NO_PROXY": "internal.example"})
        bypass = Transport(5, 5, environ={"HTTP_PROXY": proxy.url, "no_proxy": "localhost,127.0.0.0/8"})
        try:
            before = proxy.log_text()
            assert await send(via_env, url, Network()) == 200
            log = proxy.log_text()[len(before):]
            assert f"POST http://127.0.0.1:{port}/v1/chat/completions HTTP/1.1" in log, log  # absolute form
            # The proxy stripped its own credentials; the origin got the request with our key.
            assert b"authorization: Bearer sk-corp" in seen.requests[-1]
            assert b"Proxy-Authorization" not in seen.requests[-1]

            quiet = proxy.log_text()
            assert await send(bypass, url, Network()) == 200
            assert proxy.log_text() == quiet  # NO_PROXY: straight to the upstream
            # A provider's `proxy: false` ignores the environment too.
            assert await send(via_env, url, Network(proxy="")) == 200
            assert proxy.log_text() == quiet
        finally:
            await via_env.close()
            await bypass.close()
            server.close()

    asyncio.run(main())


def test_proxy_environment_rules() -> None:
    env = ProxyEnvironment({"HTTPS_PROXY": "http://u:p%40ss@proxy.corp:3128", "http_proxy": "proxy.corp:8080",
                            "NO_PROXY": ".internal.example, 10.0.0.0/8, localhost:9000, [::1]"})
    secure = env.for_url("https", "api.openai.com", 443)
    assert secure is not None and (secure.host, secure.port) == ("proxy.corp", 3128)
    assert secure.header == b"Proxy-Authorization: Basic dTpwQHNz\r\n"  # u:p@ss
    plain = env.for_url("http", "api.example", 80)
    assert plain is not None and plain.port == 8080 and plain.header == b""
    assert env.for_url("https", "llm.internal.example", 443) is None
    assert env.for_url("https", "internal.example", 443) is None
    assert env.for_url("https", "notinternal.example", 443) is not None
    assert env.for_url("https", "10.1.2.3", 443) is None
    assert env.for_url("http", "localhost", 9000) is None and env.for_url("http", "localhost", 9001) is not None
    assert env.for_url("http", "::1", 8000) is None
    assert ProxyEnvironment({"NO_PROXY": "*", "HTTPS_PROXY": "http://p:1"}).for_url("https", "x", 443) is None
    assert ProxyEnvironment({}).for_url("https", "x", 443) is None


def test_a_proxy_that_refuses_the_tunnel_is_a_clear_error() -> None:
    async def main() -> None:
        async def refusing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(refusing, "127.0.0.1", 0)
        client = HTTPClient(3, 3, environ={})
        try:
            with pytest.raises(ProxyError, match=r"refused the tunnel \(status 403\)"):
                await client.request("POST", "https://api.example/v1/x", {}, b"{}",
                                     network=Network(proxy=f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"))
        finally:
            await client.close()
            server.close()

    asyncio.run(main())


def test_a_tls_error_class_is_a_connect_error() -> None:
    assert issubclass(TLSError, Exception)
