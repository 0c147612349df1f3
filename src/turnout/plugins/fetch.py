"""The one way turnout fetches a URL a caller gave it (a `file` or `image_url` to inline).

Off unless `url_fetch: true`. Every hop (the URL and each redirect, at most `MAX_REDIRECTS`) is
resolved first and refused when any address it resolves to is loopback, private, link-local
(cloud metadata services live there: 169.254.169.254, fd00:ec2::254), multicast, reserved or
unspecified, unless it falls in a network listed in `url_fetch_allow`. The connection then goes
to the address that was checked, never to a second resolution (no DNS rebinding), with TLS still
verified against the host name. The answer is capped in bytes (`url_fetch_max_bytes`) and the
whole fetch in time (`url_fetch_timeout`). Failures are a 400 naming the URL's host and the reason.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httptools

from turnout.model.errors import invalid

MAX_REDIRECTS = 3
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def forbidden(ip: Address) -> str | None:
    """Why an address may not be fetched from, or None."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return forbidden(ip.ipv4_mapped)
    for test, why in ((ip.is_loopback, "loopback"), (ip.is_unspecified, "unspecified"),
                      (ip.is_link_local, "link-local (cloud metadata)"), (ip.is_multicast, "multicast"),
                      (ip.is_private, "private"), (ip.is_reserved, "reserved")):
        if test:
            return why
    if ip in ipaddress.ip_network("100.64.0.0/10"):  # carrier-grade NAT: not public either
        return "private"
    return None


@dataclass(slots=True)
class Fetched:
    url: str
    content_type: str
    body: bytes


@dataclass(slots=True)
class _Answer:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: list[bytes] = field(default_factory=list)
    size: int = 0
    done: bool = False
    too_big: bool = False
    limit: int = 0
    _name: str = ""

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > self.limit:
            self.too_big = True
        else:
            self.body.append(body)

    def on_message_complete(self) -> None:
        self.done = True


class Fetcher:
    def __init__(self, *, max_bytes: int, timeout: float, allow: list[str] | None = None) -> None:
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.allow: list[Network] = [ipaddress.ip_network(n, strict=False) for n in allow or ()]
        self._ssl = ssl.create_default_context()

    def _allowed(self, ip: Address) -> bool:
        return any(ip in net for net in self.allow if ip.version == net.version)

    async def _resolve(self, host: str, port: int) -> Address:
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
            addresses: list[Address] = [literal]
        except ValueError:
            loop = asyncio.get_running_loop()
            try:
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError:
                raise invalid("url", f"cannot resolve {host}") from None
            addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        if not addresses:
            raise invalid("url", f"cannot resolve {host}")
        for ip in addresses:  # every address the name has: an attacker picks which one we would use
            why = forbidden(ip)
            if why is not None and not self._allowed(ip):
                raise invalid("url", f"refusing to fetch from {host}: it resolves to a {why} address")
        return addresses[0]

    async def fetch(self, url: str) -> Fetched:
        try:
            async with asyncio.timeout(self.timeout):
                for _ in range(MAX_REDIRECTS + 1):
                    answer = await self._get(url)
                    location = answer.headers.get("location")
                    if answer.status in (301, 302, 303, 307, 308) and location:
                        url = urljoin(url, location)
                        continue
                    if answer.status >= 400:
                        raise invalid("url", f"fetching {urlsplit(url).hostname} answered HTTP {answer.status}")
                    return Fetched(url, answer.headers.get("content-type", ""), b"".join(answer.body))
                raise invalid("url", f"more than {MAX_REDIRECTS} redirects")
        except TimeoutError:
            raise invalid("url", f"fetching {urlsplit(url).hostname} took longer than {self.timeout:g} s") from None

    async def _get(self, url: str) -> _Answer:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise invalid("url", "only http(s) URLs can be fetched")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        ip = await self._resolve(parts.hostname, port)
        tls = self._ssl if parts.scheme == "https" else None
        try:
            reader, writer = await asyncio.open_connection(
                str(ip), port, ssl=tls, server_hostname=parts.hostname if tls else None)
        except OSError as exc:
            raise invalid("url", f"cannot connect to {parts.hostname}: {exc.strerror or exc}") from None
        answer = _Answer(limit=self.max_bytes)
        parser = httptools.HttpResponseParser(answer)
        try:
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
                         "User-Agent: turnout\r\nAccept: */*\r\n\r\n".encode("latin-1"))
            while not answer.done:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                parser.feed_data(chunk)
                if answer.too_big:
                    raise invalid("url", f"the file at {parts.hostname} is larger than {self.max_bytes} bytes")
                if answer.status == 0:
                    answer.status = parser.get_status_code()
            answer.status = parser.get_status_code()
        except httptools.HttpParserError:
            raise invalid("url", f"{parts.hostname} did not answer HTTP") from None
        finally:
            writer.close()
        return answer
