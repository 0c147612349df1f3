"""Responses API chains in the store (api/responses/chains.py): a chain made on one replica
continues on another, and after a restart; the same 404 for another key's response."""

from __future__ import annotations

from pathlib import Path

from tests.accounts.conftest import ADMIN, Acct, settings_for
from tests.conftest import Upstream
from tests.fakes.server import serve
from turnout.app import create_app


def respond(acct: Acct, key: str, text: str, previous: str | None = None) -> dict[str, object]:
    body: dict[str, object] = {"model": "test/echo", "input": text}
    if previous:
        body["previous_response_id"] = previous
    r = acct.call("POST", "/responses", key, json=body)
    assert r.status_code == 200, r.text
    out: dict[str, object] = r.json()
    return out


def test_a_chain_hops_between_replicas_and_survives_a_restart(upstream: Upstream, tmp_path: Path) -> None:
    settings = settings_for(upstream, tmp_path / "shared")
    with serve(create_app(settings)) as a_url, serve(create_app(settings)) as b_url:
        a, b = Acct(a_url, settings), Acct(b_url, settings)
        key = a.call("POST", "/keys", json={"name": "chainer"}, key=ADMIN).json()["key"]
        other = a.call("POST", "/keys", json={"name": "stranger"}, key=ADMIN).json()["key"]
        first = respond(a, key, "my name is Ada")
        second = respond(b, key, "what is my name?", str(first["id"]))
        third = respond(a, key, "and again?", str(second["id"]))
        assert b.call("GET", f"/responses/{first['id']}", other).status_code == 404
        stored = b.call("GET", f"/responses/{second['id']}", key)
        assert stored.status_code == 200 and stored.json()["id"] == second["id"]
    with serve(create_app(settings)) as c_url:  # a restart: nothing in memory
        c = Acct(c_url, settings)
        fourth = respond(c, key, "still there?", str(third["id"]))
        assert fourth["previous_response_id"] == third["id"]
        assert c.call("DELETE", f"/responses/{first['id']}", key).status_code == 200
    with serve(create_app(settings)) as d_url:
        d = Acct(d_url, settings)
        gone = d.call("POST", "/responses", key, json={"model": "test/echo", "input": "x",
                                                       "previous_response_id": first["id"]})
        assert gone.status_code == 404
        assert d.call("GET", f"/responses/{fourth['id']}", key).status_code == 200
