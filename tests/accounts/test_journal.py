"""The write-ahead journal and the ledger arithmetic, without a server."""

from __future__ import annotations

import asyncio
import os
import time
from decimal import Decimal
from pathlib import Path

import pytest

from tests.unit.store.backends import ran
from tests.unit.store.test_store_contract import gen
from turnout.core.catalog.catalog import Endpoint, Provider
from turnout.core.catalog.pricing import Pricing
from turnout.core.money import journal as journal_mod
from turnout.core.money.journal import INTERRUPTED, INTERRUPTED_LATE, Journal, read_dir, recover
from turnout.core.money.keys import KeyCache, KeyState
from turnout.core.money.ledger import Ledger, worst_case
from turnout.model.chat import ChatRequest, Message
from turnout.model.errors import GatewayError
from turnout.store.base import PeriodUsage
from turnout.store.sqlite import SQLiteStore


def die(j: Journal) -> None:
    """What SIGKILL does to a journal: its files stay, its lock goes with the process."""
    os.close(j._fd)
    os.close(j._lock_fd)


def test_recovery_stores_unwritten_records_and_settles_open_reservations(tmp_path: Path) -> None:
    ran("sqlite")
    store = SQLiteStore(tmp_path / "db.sqlite")
    store.migrate()
    store.create_key("k", "k", "l", None, time.time())
    root = tmp_path / "journal"
    j = Journal(root)
    j.open()
    done = gen("g-done", "k", "0.25")
    j.reserve("g-done", {"model": "m/a", "created_at": time.time(), "amount": Decimal("1"), "prompt_cost": Decimal("0.1"),
                         "prompt_tokens": 100, "key_hash": "k"})
    j.settle(done)
    j.reserve("g-open", {"model": "m/a", "created_at": time.time(), "amount": Decimal("1"),
                         "prompt_cost": Decimal("0.0375"), "prompt_tokens": 30, "key_hash": "k", "app_title": "App"})
    j.reserve("g-late", {"model": "m/a", "created_at": time.time(), "amount": "1", "prompt_cost": "0.01",
                         "prompt_tokens": 10, "key_hash": "k", "streamed": True})
    j.usage("g-late", {"provider": "P", "prompt_tokens": 12, "completion_tokens": 34, "estimated": False,
                       "cost": "0.0456"})  # the stream's usage chunk was about to go out
    die(j)
    reservations, records = read_dir(j.dir)
    assert set(reservations) == {"g-done", "g-open", "g-late"} and set(records) == {"g-done"}
    assert records["g-done"] == done  # the record survives byte for byte, Decimal included

    other = Journal(root)
    other.open()  # a live process's journal is never touched by recovery
    assert recover(root, store)[:2] == (1, 2)
    assert not j.dir.exists() and other.dir.exists()
    lost = store.get_generation("g-open")
    assert lost is not None and lost.status == "error" and lost.error_message == INTERRUPTED
    assert lost.cost == Decimal("0.0375") and lost.prompt_tokens == 30 and lost.usage_estimated
    late = store.get_generation("g-late")  # settled from the usage its stream reported, not the estimate
    assert late is not None and late.error_message == INTERRUPTED_LATE and late.cost == Decimal("0.0456")
    assert (late.prompt_tokens, late.completion_tokens, late.usage_estimated, late.provider) == (12, 34, False, "P")
    assert store.get_key("k").usage == Decimal("0.3331")  # type: ignore[union-attr]
    assert recover(root, store)[:2] == (0, 0)  # nothing twice
    asyncio.run(other.close())
    assert not other.dir.exists()
    store.close()


def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    j.open()
    j.settle(gen("g1", None, "0.1"))
    os.write(j._fd, b'{"t":"S","r":{"id":"g2"')  # power cut mid-line
    die(j)
    _, records = read_dir(j.dir)
    assert set(records) == {"g1"}


def test_segments_rotate_and_go_once_committed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal_mod, "ROTATE_SECONDS", 0.0)
    monkeypatch.setattr(journal_mod, "FSYNC_INTERVAL", 0.01)

    async def body() -> None:
        j = Journal(tmp_path)
        j.open()
        j.start()
        j.reserve("open-1", {"model": "m", "created_at": 0.0})
        seg = j.settle(gen("g1", None, "0.1"))
        for _ in range(500):  # rotates: a new segment begins with the open reservation (bounded wait:
            if j._segment > seg:  # the writer thread runs every 10 ms, later on a loaded machine)
                break
            await asyncio.sleep(0.01)
        assert j._segment > seg
        assert (j.dir / f"{seg:08d}.log").exists()  # g1 is not committed yet
        j.committed({seg: 1})
        assert not (j.dir / f"{seg:08d}.log").exists()
        reservations, records = read_dir(j.dir)
        assert set(reservations) == {"open-1"} and not records  # carried forward
        j.settle(gen("open-1", None, "0"))
        await j.close()
        assert j.dir.exists()  # open-1's record is not committed: kept for recovery
        j.committed({j._segment: 1})

    asyncio.run(body())


def endpoint(prompt: str, completion: str, max_out: int | None = None, context: int = 1000) -> Endpoint:
    provider = Provider(slug="p", name="P", dialect="openai", base_url="http://127.0.0.1:1/v1")
    return Endpoint("m/a", provider, "u", Pricing(prompt=Decimal(prompt), completion=Decimal(completion)),
                    context, max_out, frozenset(), ("text",))


def test_worst_case_takes_the_priciest_endpoint() -> None:
    req = ChatRequest(model="m/a", messages=[Message(role="user", content="x" * 400)], max_tokens=50)
    w = worst_case(req, [endpoint("0.001", "0.002"), endpoint("0.002", "0.001")], 100)
    assert w.amount == Decimal("0.2") + Decimal("0.05")  # 100 x 0.002 + 50 x 0.001 beats 0.1 + 0.1
    assert w.prompt_cost == Decimal("0.2") and w.max_out == 50
    no_max = ChatRequest(model="m/a", messages=[Message(role="user", content="hi")])
    assert worst_case(no_max, [endpoint("0", "0.001", max_out=300)], 10).max_out == 300
    assert worst_case(no_max, [endpoint("0", "0.001", context=1000)], 10).max_out == 990


def test_reservations_are_atomic_and_released(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite")
    store.migrate()
    keys = KeyCache(store, b"s" * 32)
    ledger = Ledger(store, keys, None, require_credits=False)
    key = KeyState("h", "k", "l", Decimal("1"), Decimal("0.5"), False)
    key.set_periods(PeriodUsage(Decimal(0), Decimal(0), Decimal(0)), time.time())
    req = ChatRequest(model="m/a", messages=[Message(role="user", content="hi")], max_tokens=100)
    ep = [endpoint("0", "0.001")]  # worst case 0.1 per request
    held = [ledger.reserve(f"g{i}", key, req, ep, 0, {}) for i in range(5)]
    assert key.reserved == Decimal("0.5")
    with pytest.raises(GatewayError) as err:
        ledger.reserve("g5", key, req, ep, 0, {})
    assert err.value.status == 402 and err.value.metadata["affordable_tokens"] == 0
    ledger.settle(held[0], gen("g0", "h", "0.03"))
    assert key.reserved == Decimal("0.4") and key.usage == Decimal("0.53")
    with pytest.raises(GatewayError) as err:  # 0.07 left: 70 tokens affordable, 100 asked
        ledger.reserve("g6", key, req, ep, 0, {})
    assert "You requested up to 100 tokens, but can only afford 70" in err.value.message
    store.close()


def test_a_failing_disk_does_not_fail_requests(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    j.open()
    os.close(j._fd)
    j._fd = os.open("/dev/full", os.O_WRONLY)  # every write: ENOSPC
    j.reserve("g1", {"model": "m", "created_at": 0.0})
    assert j.settle(gen("g1", None, "0.1")) == j._segment  # logged, not raised
    os.close(j._fd)
    os.close(j._lock_fd)


def test_limit_periods_roll_over_at_utc_midnight() -> None:
    from datetime import UTC, datetime

    tue = datetime(2026, 3, 31, 23, 0, tzinfo=UTC).timestamp()  # a Tuesday, the month's last day
    key = KeyState("h", "k", "l", Decimal("1"), Decimal("5"), False, limit_reset="daily")
    key.set_periods(PeriodUsage(Decimal("0.4"), Decimal("0.6"), Decimal("0.9")), tue)
    key.add_usage(Decimal("0.1"), tue)
    assert key.remaining(tue) == Decimal("0.5")
    wed = tue + 2 * 3600  # April 1st
    assert key.remaining(wed) == Decimal("1")  # a new day
    assert (key.usage_daily, key.usage_weekly, key.usage_monthly) == (0, Decimal("0.7"), 0)
    key.limit_reset = "weekly"
    assert key.limit_usage(wed) == Decimal("0.7")  # same week (Monday to Sunday)
    assert key.limit_usage(wed + 6 * 86400) == 0  # the next Monday has passed
    key.limit_reset = None
    assert key.limit_usage(wed) == Decimal("5.1")  # a lifetime limit never resets
