"""Store fixtures: the same contract runs against every `Store` and every `Counters` backend.

SQLite and in-memory counters always run. PostgreSQL (127.0.0.1:5432, database `test`) and Redis
(127.0.0.1:6379) run when their servers answer, and are skipped with the reason otherwise; the
session ends with a line naming the backends that ran.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.unit.store.backends import ran, terminal_summary
from turnout.store.base import Counters, Store
from turnout.store.memory import MemoryCounters
from turnout.store.sqlite import SQLiteStore

POSTGRES_URL = os.environ.get("TURNOUT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TURNOUT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminal_summary(terminalreporter)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s: Store
    if request.param == "sqlite":
        s = SQLiteStore(tmp_path / "t.db")
    else:
        if not reachable(5432):
            pytest.skip("no PostgreSQL server at 127.0.0.1:5432")
        pytest.importorskip("asyncpg", reason="the asyncpg package is not installed: pip install '.[postgres]'")
        PostgresStore = pytest.importorskip("turnout.store.postgres").PostgresStore

        schema = f"t_{uuid.uuid4().hex[:12]}"
        s = PostgresStore(POSTGRES_URL, schema=schema)
    s.migrate()
    ran(request.param)
    try:
        yield s
    finally:
        if request.param == "postgres":
            s.drop_schema()  # type: ignore[attr-defined]
        s.close()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def make_counters(request: pytest.FixtureRequest) -> Callable[[], Counters]:
    """A factory: the Redis client must be made inside the event loop that uses it."""
    if request.param == "memory":
        ran("memory")
        return MemoryCounters
    if not reachable(6379):
        pytest.skip("no Redis server at 127.0.0.1:6379")
    pytest.importorskip("redis", reason="the redis package is not installed: pip install '.[redis]'")
    from turnout.store.redis import RedisCounters

    prefix = f"turnout-test:{uuid.uuid4().hex[:8]}:"
    ran("redis")
    return lambda: RedisCounters(REDIS_URL, prefix=prefix)
