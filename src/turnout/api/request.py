"""The `Request` the inference routes get: Starlette's, with headers looked up in a dict.

Starlette's `Headers` answers each `get` and `in` by scanning the raw header list and comparing
encoded bytes; an inference request asks a dozen times (the key, the app attribution, caching,
the body's type and length). `FastHeaders` decodes the list once into a dict (the first value
of a repeated name wins, as in Starlette) and answers from it; everything else, `getlist` and
`raw` included, is Starlette's.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request


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
    @property
    def headers(self) -> Headers:
        headers: Headers | None = getattr(self, "_headers", None)
        if headers is None:
            headers = self._headers = FastHeaders(self.scope)
        return headers
