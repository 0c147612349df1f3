"""How turnout reaches one provider: its proxy, its TLS trust and client certificate, its connection cap.

A `Network` is built once per provider at start-up (catalog load) from the provider's `proxy`, `tls`
and `max_connections` fields; the HTTP client (core/upstream/http.py) keys its connection pools by it, so
two providers on the same host with different certificates never share a connection. Proxies
come from the provider's `proxy:` first, else from the standard environment variables
(`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`, lower-case too), read once when the client starts.
Everything here runs at start-up or once per new pool, never per request.
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import logging
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

log = logging.getLogger("turnout.network")

TLS_FIELDS = {"ca_file": str, "client_cert": str, "client_key": str, "verify": bool}


class NetworkConfigError(ValueError):
    """A provider's `proxy` or `tls` is invalid; the message names the field."""


@dataclass(frozen=True, slots=True)
class TLSConfig:
    """providers.<slug>.tls: extra trust (a private CA), a client certificate, or (written out) no checks."""

    ca_file: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    verify: bool = True

    def context(self) -> ssl.SSLContext:
        return _context(self)


@functools.lru_cache(maxsize=64)
def _context(tls: TLSConfig) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if tls.ca_file:
        ctx.load_verify_locations(cafile=tls.ca_file)
    if tls.client_cert:
        ctx.load_cert_chain(tls.client_cert, tls.client_key)
    if not tls.verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


@dataclass(frozen=True, slots=True)
class Proxy:
    """A forward HTTP proxy: CONNECT tunnels for https upstreams, absolute-form requests for http."""

    host: str
    port: int
    authorization: str | None = field(default=None, repr=False)  # "Basic ..." from the URL's user:password

    @property
    def header(self) -> bytes:
        """The `Proxy-Authorization` line (empty without credentials)."""
        return f"Proxy-Authorization: {self.authorization}\r\n".encode("latin-1") if self.authorization else b""


def parse_proxy(url: str, where: str) -> Proxy:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme != "http" or not parts.hostname:
        raise NetworkConfigError(f"{where} must be an http:// proxy URL (host and port), e.g. http://proxy.corp:3128")
    try:
        port = parts.port or 80
    except ValueError:
        raise NetworkConfigError(f"{where} has an invalid port") from None
    auth = None
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        auth = "Basic " + base64.b64encode(pair.encode()).decode()
    return Proxy(parts.hostname, port, auth)


@dataclass(frozen=True, slots=True)
class Network:
    """One provider's way out. `proxy`: a URL, "" for direct (whatever the environment says), or
    None to follow the environment."""

    proxy: str | None = None
    tls: TLSConfig | None = None
    max_connections: int | None = None  # None: the client's default (upstream_max_connections)


DEFAULT = Network()


def network_of(slug: str, raw: Mapping[str, Any]) -> Network:
    """The provider's `proxy`, `tls` and `max_connections`, checked; `verify: false` warns."""
    where = f"providers.{slug}"
    proxy = raw.get("proxy")
    if proxy is False or (isinstance(proxy, str) and proxy.strip().lower() in ("", "none", "direct")):
        proxy = ""
    elif proxy is not None:
        if not isinstance(proxy, str):
            raise NetworkConfigError(f"{where}.proxy must be a proxy URL, or false for a direct connection")
        parse_proxy(proxy, f"{where}.proxy")
    tls = None
    raw_tls = raw.get("tls")
    if raw_tls is not None:
        if not isinstance(raw_tls, dict):
            raise NetworkConfigError(f"{where}.tls must be a mapping of {', '.join(TLS_FIELDS)}")
        for key, value in raw_tls.items():
            kind = TLS_FIELDS.get(key)
            if kind is None:
                raise NetworkConfigError(f"{where}.tls.{key}: unknown field (known: {', '.join(TLS_FIELDS)})")
            if not isinstance(value, kind):
                raise NetworkConfigError(f"{where}.tls.{key} must be {'a boolean' if kind is bool else 'a file path'}")
        if raw_tls.get("client_key") and not raw_tls.get("client_cert"):
            raise NetworkConfigError(f"{where}.tls.client_key needs tls.client_cert")
        tls = TLSConfig(raw_tls.get("ca_file"), raw_tls.get("client_cert"), raw_tls.get("client_key"),
                        raw_tls.get("verify", True))
        try:
            tls.context()  # files read and checked now, at start-up
        except (OSError, ssl.SSLError) as exc:
            raise NetworkConfigError(f"{where}.tls: cannot load the certificates: {exc}") from None
        if not tls.verify:
            log.warning("%s.tls.verify is false: the certificates of %s are NOT checked (anyone on the path "
                        "can read and change its traffic, keys included)", where, slug)
    limit = raw.get("max_connections")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise NetworkConfigError(f"{where}.max_connections must be a positive integer")
    network = Network(proxy, tls, limit)
    return DEFAULT if network == DEFAULT else network


class ProxyEnvironment:
    """HTTPS_PROXY / HTTP_PROXY / NO_PROXY (upper- or lower-case; lower-case wins, as in curl)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        def get(name: str) -> str:
            return (env.get(name.lower()) or env.get(name.upper()) or "").strip()

        self.proxies: dict[str, Proxy] = {}
        for scheme in ("http", "https"):
            url = get(f"{scheme}_proxy") or get("all_proxy")
            if url:
                try:
                    self.proxies[scheme] = parse_proxy(url, f"{scheme.upper()}_PROXY")
                except NetworkConfigError as exc:
                    log.warning("ignored: %s", exc)
        self.no_proxy = [h.strip().lower() for h in get("no_proxy").split(",") if h.strip()]

    def for_url(self, scheme: str, host: str, port: int) -> Proxy | None:
        proxy = self.proxies.get(scheme)
        if proxy is None or self.bypass(host, port):
            return None
        return proxy

    def bypass(self, host: str, port: int) -> bool:
        host = host.lower().strip("[]")
        for entry in self.no_proxy:
            if entry == "*":
                return True
            name, _, want_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
            if want_port and want_port != str(port):
                continue
            name = name.strip("[]")
            if "/" in name:  # a CIDR block
                try:
                    if ipaddress.ip_address(host) in ipaddress.ip_network(name, strict=False):
                        return True
                except ValueError:
                    pass
                continue
            name = name.lstrip(".").lstrip("*.")
            if host == name or host.endswith("." + name):
                return True
        return False


def resolve_proxy(network: Network, env: ProxyEnvironment, scheme: str, host: str, port: int) -> Proxy | None:
    """The proxy for one origin: the provider's own, else the environment's (NO_PROXY applies to it)."""
    if network.proxy == "":
        return None
    if network.proxy is not None:
        return parse_proxy(network.proxy, "proxy")
    return env.for_url(scheme, host, port)
