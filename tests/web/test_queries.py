"""The UI's read queries, one suite against each store: SQLite (its read-only reader of the file) and
PostgreSQL (through the store's pool); records are written by the store's own `write_generations`."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from tests.unit.store.conftest import POSTGRES_URL, reachable

from turnout.settings import load_settings
from turnout.store.base import GenerationRecord, Store
from turnout.store.sqlite import SQLiteStore
from turnout.web.queries import NoStats, PostgresStats, SQLiteStats, Stats, open_stats

T0 = 1_800_000_000.0  # a fixed "now" far from bucket edges: 2027-01-15 08:00:00 UTC


def ok_attempt(provider: str) -> dict[str, Any]:
    return {"provider": provider, "model": "m", "outcome": "ok", "status": 200, "error": None, "ms": 5.0}


def failed_attempt(provider: str, error: str = "provider_server_error") -> dict[str, Any]:
    return {"provider": provider, "model": "m", "outcome": "error", "status": 500, "error": error, "ms": 5.0}


class Records:
    """Generation records written through the store's own `write_generations` (the real path)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.n = 0

    def add(self, **fields: Any) -> None:
        self.n += 1
        row: dict[str, Any] = {
            "id": f"gen-{self.n}", "created_at": T0, "key_hash": "k1", "model": "a/m", "provider": "Prov",
            "upstream_model": "m", "dialect_in": "openai", "dialect_out": "openai", "streamed": True, "status": "ok",
            "finish_reason": "stop", "native_finish_reason": "stop", "prompt_tokens": 10, "completion_tokens": 20,
            "cached_tokens": 0, "cache_write_tokens": 0, "reasoning_tokens": 0, "usage_estimated": False,
            "cost": "0.00000043", "latency_ms": 100.0, "generation_time_ms": 1100.0, "error_code": None,
            "error_message": None, "app_title": None, "app_referer": None, "attempts": [ok_attempt("prov")],
        }
        row.update(fields)
        row["cost"] = Decimal(row["cost"])
        assert self.store.write_generations([GenerationRecord(**row)]) == 1


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, Stats]]:
    """The same suite against each store: SQLite (its read-only reader) and PostgreSQL (its pool)."""
    if request.param == "sqlite":
        store: Any = SQLiteStore(tmp_path / "turnout.db")
        store.migrate()
        yield store, SQLiteStats(tmp_path / "turnout.db")
        store.close()
        return
    if not reachable(5432):
        pytest.skip("no PostgreSQL server at 127.0.0.1:5432")
    postgres = pytest.importorskip("turnout.store.postgres")
    store = postgres.PostgresStore(POSTGRES_URL, schema=f"t_{uuid.uuid4().hex[:12]}")
    store.migrate()
    try:
        yield store, open_stats(load_settings(None, env={}, data_dir=tmp_path, database_url=POSTGRES_URL), store)
    finally:
        store.drop_schema()
        store.close()


@pytest.fixture
def records(backend: tuple[Store, Stats]) -> Records:
    return Records(backend[0])


@pytest.fixture
def stats(backend: tuple[Store, Stats]) -> Stats:
    return backend[1]


def test_performance_buckets_average_successes_only(records: Records, stats: Stats) -> None:
    records.add(latency_ms=100.0, generation_time_ms=1100.0, completion_tokens=20)  # 20 tokens in 1 s
    records.add(latency_ms=300.0, generation_time_ms=800.0, completion_tokens=20)  # 20 tokens in 0.5 s
    records.add(status="error", latency_ms=5000.0, completion_tokens=0)
    records.add(created_at=T0 + 3600, provider="Other")
    buckets = stats.provider_buckets("a/m", T0 - 10, 3600)
    first = [b for b in buckets if b.provider == "Prov"]
    assert len(first) == 1 and first[0].start == T0 // 3600 * 3600
    assert (first[0].requests, first[0].ok) == (3, 2)
    assert first[0].latency_ms == pytest.approx(200.0)
    assert first[0].throughput == pytest.approx(30.0)
    assert [b.provider for b in buckets] == ["Prov", "Other"]
    assert stats.provider_buckets("a/m", T0 + 7200, 3600) == []
    assert stats.provider_buckets("other/model", 0, 3600) == []


def test_uptime_counts_every_attempt_and_not_the_callers_faults(records: Records, stats: Stats) -> None:
    records.add(attempts=[failed_attempt("cheap"), ok_attempt("good")])  # fallback: cheap failed
    records.add(attempts=[ok_attempt("cheap")])
    records.add(attempts=[ok_attempt("cheap")], status="error")  # cut mid-stream: the provider's fault
    records.add(attempts=[failed_attempt("cheap", "provider_invalid_request")], status="error")  # the request's fault
    records.add(attempts=[failed_attempt("cheap", "provider_rate_limited"), ok_attempt("good")])
    up = {b.provider: b for b in stats.provider_uptime("a/m", T0 - 10, 3600)}
    assert (up["cheap"].requests, up["cheap"].ok) == (3, 1)
    assert (up["good"].requests, up["good"].ok) == (2, 2)
    assert up["good"].success_rate == 1.0 and up["cheap"].success_rate == pytest.approx(1 / 3)


def test_daily_usage_sums_money_exactly(records: Records, stats: Stats) -> None:
    for _ in range(3):
        records.add(cost="0.00000043")
    records.add(cost="0.1", key_hash="k2")
    records.add(cost="1.00000001", created_at=T0 + 86400)
    days = stats.daily_usage(T0 - 86400)
    assert [d.day for d in days] == ["2027-01-15", "2027-01-16"]
    assert days[0].cost == Decimal("0.10000129") and days[0].requests == 4
    assert days[0].tokens == 4 * 30
    assert days[1].cost == Decimal("1.00000001")
    mine = stats.daily_usage(T0 - 86400, key_hash="k1", model="a/m")
    assert mine[0].cost == Decimal("0.00000129") and mine[0].requests == 3


def test_top_apps_rank_by_tokens(records: Records, stats: Stats) -> None:
    records.add(app_title="Small", prompt_tokens=1, completion_tokens=1)
    records.add(app_title="Big", app_referer="https://big.example/", prompt_tokens=500, completion_tokens=500)
    records.add(app_referer="https://anon.example/", prompt_tokens=50, completion_tokens=50)
    records.add()  # no app: not listed
    apps = stats.top_apps("a/m", T0 - 10, 10)
    # public: by title only; an app that sent only a referer is not listed, and no referer is shown
    assert [(a.name, a.tokens) for a in apps] == [("Big", 1000), ("Small", 2)]
    assert all(a.detail is None for a in apps)
    assert len(stats.top_apps("a/m", T0 - 10, 1)) == 1


def test_key_breakdowns_and_recent_generations(records: Records, stats: Stats) -> None:
    records.add(model="a/one", provider="P1", cost="0.5")
    records.add(model="a/two", provider="P1", cost="0.25", created_at=T0 + 1)
    records.add(model="a/two", provider=None, status="error", cost="0", created_at=T0 + 2,
                attempts=[failed_attempt("p1")])
    records.add(model="a/one", key_hash="someone-else", cost="9")
    by_model = {s.name: s for s in stats.usage_by("model", "k1", T0 - 10)}
    assert by_model["a/one"].cost == Decimal("0.5") and by_model["a/two"].requests == 2
    by_provider = {s.name: s.cost for s in stats.usage_by("provider", "k1", T0 - 10)}
    assert by_provider == {"P1": Decimal("0.75"), "(none)": Decimal(0)}
    per_day = stats.daily_by("model", "k1", T0 - 10)
    assert [(d.day, d.name, d.requests, d.cost) for d in per_day] == [
        ("2027-01-15", "a/one", 1, Decimal("0.5")), ("2027-01-15", "a/two", 2, Decimal("0.25"))]
    assert {d.name for d in stats.daily_by("provider", "k1", T0 - 10)} == {"P1", "(none)"}
    recent = stats.recent_generations("k1", 2)
    assert [r.id for r in recent] == ["gen-3", "gen-2"]
    assert recent[0].attempts[0]["error"] == "provider_server_error" and recent[0].streamed is True
    assert recent[1].cost == Decimal("0.25")


def test_a_missing_database_reads_as_no_traffic(tmp_path: Path) -> None:
    stats = SQLiteStats(tmp_path / "never-created.db")
    assert stats.provider_buckets("a/m", 0, 60) == []
    assert stats.daily_usage(0) == []
    assert not (tmp_path / "never-created.db").exists()  # read-only: it does not create the file
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    assert SQLiteStats(empty).recent_generations("k", 5) == []


def test_records_outside_sqlite_render_without_history(tmp_path: Path) -> None:
    assert isinstance(open_stats(load_settings(None, env={}, data_dir=tmp_path)), SQLiteStats)
    other = open_stats(load_settings(None, env={}, data_dir=tmp_path, database_url="postgresql://db/turnout"))
    assert isinstance(other, NoStats) and other.top_apps("a/m", 0, 5) == []


@pytest.mark.postgres
def test_postgresql_records_are_read_through_the_store(backend: tuple[Store, Stats]) -> None:
    store, stats = backend
    assert isinstance(stats, PostgresStats if hasattr(store, "read") else SQLiteStats)


def test_a_locked_database_reads_as_no_history(tmp_path: Path) -> None:
    sql = resources.files("turnout.store").joinpath("migrations/001_init.sql").read_text("utf-8")
    db = sqlite3.connect(tmp_path / "turnout.db")
    db.executescript(sql)
    db.execute("INSERT INTO generations (id, created_at, model, dialect_in, streamed, status, prompt_tokens,"
               " completion_tokens, cached_tokens, cache_write_tokens, reasoning_tokens, usage_estimated, cost,"
               " generation_time_ms, attempts) VALUES ('g', 1, 'm', 'openai', 0, 'ok', 1, 1, 0, 0, 0, 0, '0', 1, '[]')")
    db.commit()
    db.execute("BEGIN EXCLUSIVE")  # a writer holding the file (rollback journal: no readers)
    try:
        assert SQLiteStats(tmp_path / "turnout.db", timeout=0.1).daily_usage(0) == []
    finally:
        db.rollback()
    assert len(SQLiteStats(tmp_path / "turnout.db").daily_usage(0)) == 1
