"""api/request.py: the inference routes' header lookups answer what Starlette's `Headers` would."""

from __future__ import annotations

import pytest
from starlette.datastructures import Headers

from turnout.api.request import FastHeaders, FastRequest

RAW = [(b"authorization", b"Bearer sk-1"), (b"x-title", b"First"), (b"x-title", b"Second"),
       (b"content-type", b"application/json"), (b"http-referer", b"https://a.example/x?q=\xe9")]


def scope() -> dict[str, object]:
    return {"type": "http", "method": "POST", "path": "/", "headers": list(RAW)}


@pytest.mark.parametrize("name", ["authorization", "Authorization", "X-TITLE", "x-title", "content-type",
                                  "http-referer", "x-missing", "X-Api-Key"])
def test_every_lookup_matches_starlette(name: str) -> None:
    fast, slow = FastHeaders(scope()), Headers(scope=scope())
    assert fast.get(name) == slow.get(name)
    assert (name in fast) == (name in slow)
    assert fast.get(name, "default") == slow.get(name, "default")
    if name in slow:
        assert fast[name] == slow[name]
    else:
        with pytest.raises(KeyError):
            fast[name]


def test_a_repeated_name_answers_its_first_value_and_the_rest_is_starlettes() -> None:
    fast = FastHeaders(scope())
    assert fast["x-title"] == "First"
    assert fast.getlist("x-title") == ["First", "Second"]
    assert fast.raw == RAW
    assert 123 not in fast  # not a name: never found, never an error


def test_the_request_makes_its_headers_once() -> None:
    request = FastRequest(scope())
    assert isinstance(request.headers, FastHeaders) and request.headers is request.headers
    assert request.headers["authorization"] == "Bearer sk-1"
