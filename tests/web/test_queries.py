"""The UI's read queries over a real SQLite file with the gateway's schema."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from turnout.settings import load_settings
from turnout.web.queries import NoStats, SQLiteStats, open_stats

T0 = 1_800_000_000.0  # a fixed "now" far from bucket edges: 2027-01-15 08:00:00 UTC


def ok_attempt(provider: str) -> dict[str, Any]:
    return {"provider": provider, "model": "m", "outcome": "ok", "status": 200, "error": None, "ms": 5.0}


def failed_attempt(provider: str, error: str = "provider_server_error") -> dict[str, Any]:
    return {"provider": provider, "model": "m", "outcome": "error", "status": 500, "error": error, "ms": 5.0}


class Records:
    def __init__(self, path: Path) -> None:
        sql = resources.files("turnout.store").joinpath("migrations/001_init.sql").read_text("utf-8")
        self.db = sqlite3.connect(path)
        self.db.executescript(sql)
        self.n = 0

    def add(self, **fields: Any) -> None:
        self.n += 1
        row: dict[str, Any] = {
            "id": f"gen-{self.n}", "created_at": T0, "key_hash": "k1", "model": "a/m", "provider": "Prov",
            "upstream_model": "m", "dialect_in": "openai", "dialect_out": "openai", "streamed": 1, "status": "ok",
            "finish_reason": "stop", "native_finish_reason": "stop", "prompt_tokens": 10, "completion_tokens": 20,
            "cached_tokens": 0, "cache_write_tokens": 0, "reasoning_tokens": 0, "usage_estimated": 0,
            "cost": "0.00000043", "latency_ms": 100.0, "generation_time_ms": 1100.0, "error_code": None,
            "error_message": None, "app_title": None, "app_referer": None, "attempts": [ok_attempt("prov")],
        }
        row.update(fields)
        row["attempts"] = json.dumps(row["attempts"])
        self.db.execute(
            f"INSERT INTO generations ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})", tuple(row.values())
        )
        self.db.commit()


@pytest.fixture
def records(tmp_path: Path) -> Records:
    return Records(tmp_path / "turnout.db")


@pytest.fixture
def stats(tmp_path: Path, records: Records) -> SQLiteStats:
    return SQLiteStats(tmp_path / "turnout.db")


def test_performance_buckets_average_successes_only(records: Records, stats: SQLiteStats) -> None:
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


def test_uptime_counts_every_attempt_and_not_the_callers_faults(records: Records, stats: SQLiteStats) -> None:
    records.add(attempts=[failed_attempt("cheap"), ok_attempt("good")])  # fallback: cheap failed
    records.add(attempts=[ok_attempt("cheap")])
    records.add(attempts=[ok_attempt("cheap")], status="error")  # cut mid-stream: the provider's fault
    records.add(attempts=[failed_attempt("cheap", "provider_invalid_request")], status="error")  # the request's fault
    records.add(attempts=[failed_attempt("cheap", "provider_rate_limited"), ok_attempt("good")])
    up = {b.provider: b for b in stats.provider_uptime("a/m", T0 - 10, 3600)}
    assert (up["cheap"].requests, up["cheap"].ok) == (3, 1)
    assert (up["good"].requests, up["good"].ok) == (2, 2)
    assert up["good"].success_rate == 1.0 and up["cheap"].success_rate == pytest.approx(1 / 3)


def test_daily_usage_sums_money_exactly(records: Records, stats: SQLiteStats) -> None:
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


def test_top_apps_rank_by_tokens(records: Records, stats: SQLiteStats) -> None:
    records.add(app_title="Small", prompt_tokens=1, completion_tokens=1)
    records.add(app_title="Big", app_referer="https://big.example/", prompt_tokens=500, completion_tokens=500)
    records.add(app_referer="https://anon.example/", prompt_tokens=50, completion_tokens=50)
    records.add()  # no app: not listed
    apps = stats.top_apps("a/m", T0 - 10, 10)
    # public: by title only; an app that sent only a referer is not listed, and no referer is shown
    assert [(a.name, a.tokens) for a in apps] == [("Big", 1000), ("Small", 2)]
    assert all(a.detail is None for a in apps)
    assert len(stats.top_apps("a/m", T0 - 10, 1)) == 1


def test_key_breakdowns_and_recent_generations(records: Records, stats: SQLiteStats) -> None:
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


def test_a_locked_database_reads_as_no_history(records: Records, stats: SQLiteStats, tmp_path: Path) -> None:
    records.add()
    records.db.execute("BEGIN EXCLUSIVE")  # a writer holding the file (rollback journal: no readers)
    try:
        assert SQLiteStats(tmp_path / "turnout.db", timeout=0.1).daily_usage(0) == []
    finally:
        records.db.rollback()
    assert len(stats.daily_usage(0)) == 1
