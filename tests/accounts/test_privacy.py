"""App attribution stays with its tenant: another key, and the public model pages, see an app only
by the title it set; its referer (kept as an origin only) is shown to its own key and to admins."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.accounts.conftest import ADMIN, Acct, wait_until


def test_apps_and_model_pages_do_not_leak_other_tenants_referers(start_gateway: Callable[..., Acct]) -> None:
    acct = start_gateway()
    alice = acct.call("POST", "/keys", json={"name": "alice"}).json()["key"]
    bob = acct.call("POST", "/keys", json={"name": "bob"}).json()["key"]
    titled = {"http-referer": "https://alice.example/private/path?token=s3cret", "x-title": "Alice App"}
    untitled = {"http-referer": "https://hidden.example/internal?user=42"}
    for headers in (titled, titled, untitled):
        assert acct.chat(alice, headers=headers).status_code == 200
    assert acct.chat(bob, headers={"x-title": "Bob App"}).status_code == 200

    def apps(key: str) -> list[dict]:  # type: ignore[type-arg]
        r = acct.call("GET", "/apps?model=test/echo", key)
        assert r.status_code == 200, r.text
        return r.json()["data"]

    wait_until(lambda: len(apps(ADMIN)) == 3)
    # the admin sees every app, referers cut to their origin
    assert {(a["app"], a["referer"]) for a in apps(ADMIN)} == {
        ("https://alice.example", "https://alice.example"), ("https://hidden.example", "https://hidden.example"),
        ("Bob App", None)}
    # alice sees her own apps in full, bob's by title
    assert {(a["app"], a["title"], a["referer"]) for a in apps(alice)} == {
        ("https://alice.example", "Alice App", "https://alice.example"),
        ("https://hidden.example", None, "https://hidden.example"), ("Bob App", "Bob App", None)}
    # bob sees alice's titled app by its title only, and her untitled app not at all
    seen_by_bob = apps(bob)
    assert {(a["app"], a["title"], a["referer"]) for a in seen_by_bob} == {
        ("Alice App", "Alice App", None), ("Bob App", "Bob App", None)}
    assert "alice.example" not in str(seen_by_bob) and "hidden" not in str(seen_by_bob)
    # the public model page: titles only
    page = httpx.get(f"{acct.url}/models/test/echo", timeout=10).text
    assert "Alice App" in page and "Bob App" in page
    for leaked in ("alice.example", "hidden.example", "s3cret", "token=", "user=42"):
        assert leaked not in page
    # bob's activity holds only bob's requests
    activity = acct.call("GET", "/activity", bob).json()["data"]
    assert sum(row["requests"] for row in activity) == 1
