"""Fixtures for the fleet tests: a private PostgreSQL schema per test, and Redis when it answers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.unit.store.conftest import POSTGRES_URL, reachable


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A database URL whose search_path is a private schema, dropped after the test."""
    if not reachable(5432):
        pytest.skip("no PostgreSQL server at 127.0.0.1:5432")
    pytest.importorskip("asyncpg")
    from turnout.store.postgres import PostgresStore

    schema = f"t_{uuid.uuid4().hex[:12]}"
    maker = PostgresStore(POSTGRES_URL, schema=schema)  # creates the schema
    try:
        yield f"{POSTGRES_URL}?search_path={schema}"
    finally:
        maker.drop_schema()
        maker.close()


@pytest.fixture
def redis_up() -> None:
    if not reachable(6379):
        pytest.skip("no Redis server at 127.0.0.1:6379")
    pytest.importorskip("redis")
