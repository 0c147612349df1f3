"""The `Request` the inference routes get (Starlette's, with headers looked up in a dict) and their JSON answer.

Starlette's `Headers` answers each `get` and `in` by scanning the raw header list and comparing
encoded bytes; an inference request asks a dozen times (the key, the app attribution, caching,
the body's type and length). `FastHeaders` decodes the list once into a dict (the first value
of a repeated name wins, as in Starlette) and answers from it; everything else, `getlist` and
`raw` included, is Starlette's. `JSONAnswer` is the answer those routes give back.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request, empty_receive, empty_send
from starlette.responses import Response
from starlette.types import Receive, Send


class FastHeaders(Headers):
    def __init__(self, scope: MutableMapping[str, Any]) -> None:
        super().__init__(scope=scope)
        by_name: dict[str, str] = {}
        for name, value in reversed(self._list):
            by_name[name.decode("latin-1")] = value.decode("latin-1")
        self._by_name = by_name  # names arrive lower-cased from the HTTP server

    def __getitem__(self, key: str) -> str:
        return self._by_name[key.lower()]

    def get(self, key: str, default: Any = None) -> Any:
        return self._by_name.get(key.lower(), default)

    def __contains__(self, key: Any) -> bool:
        return isinstance(key, str) and key.lower() in self._by_name


class FastRequest(Request):
    """Its `headers` are a `FastHeaders`, made with the request: a plain attribute, not Starlette's
    property (read several times per request)."""

    headers = None  # type: ignore[assignment]  # shadows HTTPConnection.headers (a property)

    def __init__(self, scope: MutableMapping[str, Any], receive: Receive = empty_receive, send: Send = empty_send) -> None:
        super().__init__(scope, receive, send)
        self.headers = FastHeaders(scope)


class JSONAnswer(Response):
    """A JSON answer, its raw headers made directly: Starlette's `Response.init_headers` is generic
    (it scans for a length and a type among the headers given) and runs on every inference answer."""

    media_type = "application/json"

    def __init__(self, body: bytes, headers: Mapping[str, str] | None = None) -> None:
        self.status_code = 200
        self.background = None
        self.body = body
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()] if headers else []
        raw += ((b"content-length", b"%d" % len(body)), (b"content-type", b"application/json"))
        self.raw_headers = raw
