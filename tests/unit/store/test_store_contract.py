"""The `Store` contract, run against every backend (SQLite always; PostgreSQL when it answers)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from turnout.store.base import ByokRecord, GenerationRecord, KeyExists, Store, next_reset, period_starts


def gen(id: str, key_hash: str | None, cost: str, *, model: str = "m/a", provider: str | None = "p",
        created_at: float | None = None, app: tuple[str | None, str | None] = (None, None),
        prompt: int = 10, completion: int = 5) -> GenerationRecord:
    return GenerationRecord(
        id=id, created_at=created_at or time.time(), key_hash=key_hash, model=model, provider=provider,
        upstream_model="u", dialect_in="openai", dialect_out="openai", streamed=False, status="ok",
        finish_reason="stop", native_finish_reason="stop", prompt_tokens=prompt, completion_tokens=completion,
        cached_tokens=0, cache_write_tokens=0, reasoning_tokens=1, usage_estimated=False, cost=Decimal(cost),
        latency_ms=1.5, generation_time_ms=2.5, error_code=None, error_message=None, app_title=app[0],
        app_referer=app[1], attempts=[{"provider": "p", "outcome": "ok"}],
    )


def test_migrate_is_idempotent(store: Store) -> None:
    store.migrate()
    store.migrate()
    assert store.get_account("default") is not None


def test_keys_create_list_update_delete(store: Store) -> None:
    now = time.time()
    rec = store.create_key("h1", "alpha", "sk-tn-v1-abc...xyz", Decimal("5.5"), now, limit_reset="daily",
                           rate_limit_rpm=10)
    assert (rec.name, rec.limit, rec.limit_reset, rec.rate_limit_rpm, rec.usage) == ("alpha", Decimal("5.5"), "daily", 10, 0)
    with pytest.raises(KeyExists):
        store.create_key("h2", "alpha", "l", None, now)
    store.create_key("h2", "beta", "l2", None, now + 1, account_id="team")
    assert [k.name for k in store.list_keys()] == ["alpha", "beta"]
    assert store.get_key("h2").account_id == "team"  # type: ignore[union-attr]
    assert store.get_account("team") is not None  # made on first use
    changed = store.update_key("h1", {"limit": None, "disabled": True, "name": "alpha2"}, now + 2)
    assert changed is not None and changed.limit is None and changed.disabled and changed.name == "alpha2"
    with pytest.raises(KeyExists):
        store.update_key("h1", {"name": "beta"}, now + 3)
    assert store.update_key("nope", {"disabled": True}, now) is None
    assert [k.hash for k in store.keys_changed_since(now + 1.5)] == ["h1"]
    assert store.set_key_disabled("beta", True, now + 4) and not store.set_key_disabled("nobody", True, now)
    assert store.delete_key("h1", now + 5) and not store.delete_key("h1", now + 6)
    assert store.get_key("h1") is None and [k.hash for k in store.list_keys()] == ["h2"]
    gone = [k for k in store.keys_changed_since(now + 4.5) if k.hash == "h1"]
    assert gone and gone[0].deleted  # caches learn of the deletion
    store.create_key("h3", "alpha2", "l3", None, now + 7)  # a deleted key's name is free again


def test_write_generations_charges_ledger_once(store: Store) -> None:
    now = time.time()
    store.create_key("k", "k", "l", None, now, account_id="acme")
    store.add_credits("acme", "grant", Decimal("10"), "welcome", now)
    store.add_credits("acme", "purchase", Decimal("2.50"), None, now)
    records = [gen("g1", "k", "0.000123"), gen("g2", "k", "0.5"), gen("g3", None, "0.25")]
    assert store.write_generations(records) == 3
    assert store.write_generations([*records, gen("g4", "k", "1")]) == 1  # replays are ignored
    key = store.get_key("k")
    assert key is not None and key.usage == Decimal("1.500123")
    acme = store.get_account("acme")
    assert acme is not None and acme.credits == Decimal("12.50") and acme.usage == Decimal("1.500123")
    assert acme.balance == Decimal("10.999877")
    assert store.ledger_sums("acme") == (Decimal("12.50"), Decimal("1.500123"))
    assert store.ledger_sums("default") == (Decimal(0), Decimal("0.25"))  # keyless requests debit the default
    kinds = [e.kind for e in store.ledger_entries("acme")]
    assert kinds.count("usage") == 3 and {"grant", "purchase"} <= set(kinds)
    got = store.get_generation("g2")
    assert got is not None and got.cost == Decimal("0.5") and got.attempts == [{"provider": "p", "outcome": "ok"}]
    assert got == records[1]


def test_adjustments_and_changed_accounts(store: Store) -> None:
    t0 = time.time()
    entry = store.add_credits("x", "adjustment", Decimal("-1.25"), "refund correction", t0)
    assert entry.amount == Decimal("-1.25") and entry.kind == "adjustment"
    assert [a.id for a in store.accounts_changed_since(t0 - 1)] == ["x"]
    assert store.get_account("x").credits == Decimal("-1.25")  # type: ignore[union-attr]


def test_rollups_activity_periods_and_apps(store: Store) -> None:
    now = time.time()
    store.create_key("k1", "one", "l", None, now)
    store.create_key("k2", "two", "l", None, now)
    old = now - 40 * 86400
    store.write_generations([
        gen("a", "k1", "0.1", app=("Cool App", "https://cool.example")),
        gen("b", "k1", "0.2", provider="q", app=("Cool App", "https://cool.example"), prompt=100),
        gen("c", "k2", "0.3", model="m/b", app=("Other", None)),
        gen("d", "k2", "0.4", created_at=old),
    ])
    since = (datetime.now(UTC).date() - timedelta(days=30)).isoformat()
    rows = store.activity(since)
    assert {(r.key_hash, r.model, r.provider, r.requests) for r in rows} == {
        ("k1", "m/a", "p", 1), ("k1", "m/a", "q", 1), ("k2", "m/b", "p", 1)}
    mine = store.activity(since, "k1")
    assert sum((r.cost for r in mine), Decimal(0)) == Decimal("0.3") and sum(r.prompt_tokens for r in mine) == 110
    periods = store.period_usage(now)
    assert periods["k1"].daily == Decimal("0.3") and periods["k1"].monthly == Decimal("0.3")
    assert periods["k2"].daily == Decimal("0.3")  # the 40-day-old request is in no current period
    apps = store.top_apps("m/a", since, admin=True)
    assert [(a.app, a.title, a.referer, a.requests, a.tokens) for a in apps] == [
        ("https://cool.example", "Cool App", "https://cool.example", 2, 120)]
    assert [a.app for a in store.top_apps(None, since, admin=True)] == ["https://cool.example", "Other"]
    # k1 sees its own app in full; k2 and the public see it by its title, without its referer
    assert [(a.app, a.referer) for a in store.top_apps("m/a", since, viewer="k1")] == [
        ("https://cool.example", "https://cool.example")]
    for viewer in ("k2", None):
        assert [(a.app, a.title, a.referer, a.requests) for a in store.top_apps("m/a", since, viewer=viewer)] == [
            ("Cool App", "Cool App", None, 2)]


def test_apps_without_a_title_are_shown_to_their_own_key_only(store: Store) -> None:
    now = time.time()
    store.create_key("k1", "one", "l", None, now)
    store.write_generations([gen("a", "k1", "0.1", app=(None, "https://private.example"))])
    since = (datetime.now(UTC).date() - timedelta(days=30)).isoformat()
    assert [a.app for a in store.top_apps("m/a", since, viewer="k1")] == ["https://private.example"]
    assert store.top_apps("m/a", since, viewer="k2") == []
    assert store.top_apps("m/a", since) == []
    assert [a.referer for a in store.top_apps("m/a", since, admin=True)] == ["https://private.example"]


def test_period_boundaries_are_utc_midnights() -> None:
    ts = datetime(2026, 3, 4, 15, 30, tzinfo=UTC).timestamp()  # a Wednesday
    day, week, month = period_starts(ts)
    assert (day.isoformat(), week.isoformat(), month.isoformat()) == ("2026-03-04", "2026-03-02", "2026-03-01")
    assert next_reset(ts, "daily") == datetime(2026, 3, 5, tzinfo=UTC).timestamp()
    assert next_reset(ts, "weekly") == datetime(2026, 3, 9, tzinfo=UTC).timestamp()
    assert next_reset(ts, "monthly") == datetime(2026, 4, 1, tzinfo=UTC).timestamp()
    assert next_reset(datetime(2026, 12, 31, tzinfo=UTC).timestamp(), "monthly") == datetime(2027, 1, 1, tzinfo=UTC).timestamp()
    assert next_reset(ts, None) is None


def test_presets_are_versioned_archived_and_changed_since(store: Store) -> None:
    first = store.save_preset("p", "P", "openai", {"model": "a/b", "temperature": 0.2}, "Be kind.", 10.0)
    second = store.save_preset("p", "P", "openai", {"model": "a/b", "temperature": 0.5}, None, 20.0)
    assert (first.version, second.version) == (1, 2) and second.created_at == 10.0
    versions = store.preset_versions("p")
    assert [v.version for v in versions] == [2, 1] and versions[1].config == {"model": "a/b", "temperature": 0.2}
    assert versions[1].system_prompt == "Be kind."
    changed = store.presets_changed_since(15.0)
    assert [(r.slug, r.version, r.archived) for r in changed] == [("p", 2, False)]
    assert store.presets_changed_since(25.0) == []
    assert store.archive_preset("p", 30.0) and not store.archive_preset("p", 31.0)
    assert [(r.slug, r.archived) for r in store.presets_changed_since(25.0)] == [("p", True)]
    again = store.save_preset("p", "P", "anthropic", {"max_tokens": 5}, None, 40.0)
    assert again.version == 3 and not store.preset_versions("p")[0].archived


def test_a_model_keeps_the_time_it_was_first_seen(store: Store) -> None:
    assert store.models_first_seen(["acme/a", "acme/b"], 1000.0) == {"acme/a": 1000.0, "acme/b": 1000.0}
    # A restart a day later with one more model: the old ones keep their time, the new one gets now.
    later = store.models_first_seen(["acme/a", "acme/c"], 87400.0)
    assert later == {"acme/a": 1000.0, "acme/c": 87400.0}
    assert store.models_first_seen([], 1.0) == {}


def test_byok_keys_are_saved_listed_changed_since_and_wiped_on_delete(store: Store) -> None:
    a = ByokRecord("b1", "team", "openai", "main", "...wxyz", "ct1", allowed_models=["openai/gpt-4o"],
                   created_at=10.0, updated_at=10.0)
    b = ByokRecord("b2", "team", "anthropic", None, "...abcd", "ct2", is_fallback=True, allowed_keys=["h1"],
                   sort_order=1, created_at=11.0, updated_at=11.0)
    c = ByokRecord("b3", "other", "openai", None, "...zzzz", "ct3", is_required=True, created_at=12.0, updated_at=12.0)
    for r in (a, b, c):
        store.save_byok(r)
    assert [r.id for r in store.list_byok("team")] == ["b2", "b1"]  # by provider
    assert [r.id for r in store.list_byok()] == ["b3", "b2", "b1"]
    got = store.get_byok("b2")
    assert got == b and got.allowed_keys == ["h1"] and got.allowed_models is None and got.is_fallback
    assert store.get_byok("nope") is None
    a.disabled, a.updated_at, a.allowed_models = True, 20.0, None
    store.save_byok(a)
    assert store.get_byok("b1") == a
    assert [r.id for r in store.byok_changed_since(11.5)] == ["b3", "b1"]
    assert store.delete_byok("b1", 30.0) and not store.delete_byok("b1", 31.0)
    gone = store.byok_changed_since(25.0)
    assert [(r.id, r.deleted, r.secret) for r in gone] == [("b1", True, "")]
    assert store.get_byok("b1") is None and [r.id for r in store.list_byok("team")] == ["b2"]
    store.set_byok_settings("team", True, 40.0)
    store.set_byok_settings("team", False, 41.0)
    store.set_byok_settings("other", True, 42.0)
    assert sorted(store.byok_settings_changed_since(40.5)) == [("other", True, 42.0), ("team", False, 41.0)]
