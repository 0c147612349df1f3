"""The gateway's public base URL as a client should see it: for the model pages' code samples
and the absolute `links.details` of `GET /models`.

`public_url` when configured; else the request's own `Host` when it is on `public_hosts` ("host"
for any port, or "host:port"); else this server's own address. Never an arbitrary Host header: a
spoofed one would put an attacker's address into the samples a user copies and the links a
client follows, and would let a caller grow the per-base caches at will.
"""

from __future__ import annotations

import re

from starlette.requests import Request

from turnout.settings import Settings

_PORT = re.compile(r"^[0-9]{1,5}$")


def public_base(request: Request, settings: Settings) -> str:
    """The base URL without a trailing slash (and without `/api/v1`)."""
    if settings.public_url:
        return settings.public_url
    host = request.headers.get("host", "").strip().lower()
    if host.endswith("]"):
        name, port = host, ""
    else:
        name, _, port = host.rpartition(":") if ":" in host else (host, "", "")
    if host and (port == "" or _PORT.match(port)) and (host in settings.public_hosts or name in settings.public_hosts):
        scheme = "https" if request.url.scheme == "https" else "http"
        return f"{scheme}://{host}"
    own = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    own = f"[{own}]" if ":" in own else own
    return f"http://{own}:{settings.port}"
