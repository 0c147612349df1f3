"""Read-only statistics for the web UI, computed from generation records.

Owns every read query the pages need: per-provider performance and uptime buckets, tokens per
day, top apps, and one key's spend, breakdowns and recent generations. `Stats` is the small
Protocol the pages depend on; `SQLiteStats` implements it with its own read-only connection to
the gateway's SQLite file, so it never shares (or locks) the store's writer connection, and
`PostgresStats` reads through the PostgreSQL store's own pool, so every replica's pages show the
same figures from the one shared database. Both answer the same rows (tests/web/test_queries.py
runs one suite against each).

Calls are synchronous and slow by API standards (milliseconds to a second on a big table), so
pages call them through `asyncio.to_thread`; nothing here is ever on the API's request path.
Money is summed exactly: costs are stored as decimal text, and SQLite sums them as integers
of 1e-12 USD (exact for any cost with at most 12 decimal places, i.e. every catalog price).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Protocol

import orjson

from turnout.store.base import GenerationRecord

log = logging.getLogger("turnout.web")

PICO = Decimal(10) ** 12  # costs are summed in units of 1e-12 USD
_COST_SUM = "SUM(CAST(ROUND(CAST(cost AS REAL) * 1e12) AS INTEGER))"
_TOKENS = "prompt_tokens + completion_tokens"
# Tokens per second while generating: completion tokens over the time after the first token.
_THROUGHPUT = (
    "CASE WHEN status = 'ok' AND completion_tokens > 0 AND latency_ms IS NOT NULL"
    " AND generation_time_ms - latency_ms > 0"
    " THEN completion_tokens * 1000.0 / (generation_time_ms - latency_ms) END"
)
# Attempt errors (ErrorKind values) that are the request's fault or a rate limit, not an outage.
NOT_PROVIDER_FAULTS = ("caller_invalid_request", "caller_cancelled", "provider_invalid_request", "provider_rate_limited")
_RECORD_COLUMNS = (
    "id, created_at, key_hash, model, provider, upstream_model, dialect_in, dialect_out, streamed, status,"
    " finish_reason, native_finish_reason, prompt_tokens, completion_tokens, cached_tokens,"
    " cache_write_tokens, reasoning_tokens, usage_estimated, cost, latency_ms, generation_time_ms,"
    " error_code, error_message, app_title, app_referer, attempts"
)


@dataclass(frozen=True, slots=True)
class Bucket:
    """One provider's traffic for one model in one time bucket."""

    provider: str
    start: float  # epoch seconds, a multiple of the bucket width
    requests: int
    ok: int
    latency_ms: float | None  # mean time to first token of successful requests
    throughput: float | None  # mean tokens/s after the first token, successful requests

    @property
    def success_rate(self) -> float:
        return self.ok / self.requests if self.requests else 1.0


@dataclass(frozen=True, slots=True)
class DayUsage:
    day: str  # YYYY-MM-DD, UTC
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost: Decimal

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class Share:
    """Usage attributed to one name: an app, a model or a provider."""

    name: str
    detail: str | None  # unused for apps (public pages show no referer); None otherwise
    requests: int
    tokens: int
    cost: Decimal


@dataclass(frozen=True, slots=True)
class DayShare:
    """One day's usage attributed to one model or provider."""

    day: str  # YYYY-MM-DD, UTC
    name: str
    requests: int
    tokens: int
    cost: Decimal


class Stats(Protocol):
    def provider_buckets(self, model: str, since: float, width: int) -> list[Bucket]:
        """Requests served per provider name: latency and throughput (status from the record)."""
        ...

    def provider_uptime(self, model: str, since: float, width: int) -> list[Bucket]:
        """Attempts per provider slug and whether the provider did its part (no latency figures)."""
        ...

    def daily_usage(self, since: float, *, model: str | None = None, key_hash: str | None = None,
                    category: str | None = None) -> list[DayUsage]: ...

    def top_apps(self, model: str, since: float, limit: int, category: str | None = None) -> list[Share]:
        """Apps that set a title (X-Title), by tokens: public, so no referer and no untitled app."""
        ...

    def usage_by(self, column: Literal["model", "provider"], key_hash: str, since: float) -> list[Share]: ...

    def daily_by(self, column: Literal["model", "provider"], key_hash: str, since: float) -> list[DayShare]: ...

    def recent_generations(self, key_hash: str, limit: int) -> list[GenerationRecord]: ...


def _money(pico: int | None) -> Decimal:
    return Decimal(pico or 0) / PICO


# A generation of an app that gave itself the category (X-OpenRouter-Categories); an app is its
# referer's origin, else its title, as in the store's app roll-ups.
IN_CATEGORY = "COALESCE(app_referer, app_title) IN (SELECT app FROM app_categories WHERE category = ?)"


class SQLiteStats:
    """`Stats` over the gateway's SQLite file, read-only; a missing file reads as no traffic."""

    def __init__(self, path: Path, timeout: float = 5.0) -> None:
        self._uri = path.resolve().as_uri() + "?mode=ro"
        self._timeout = timeout  # seconds to wait for a writer's lock before giving up

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection | None]:
        try:
            db = sqlite3.connect(self._uri, uri=True, timeout=self._timeout, check_same_thread=False)
        except sqlite3.OperationalError:  # no database yet: nothing recorded
            yield None
            return
        try:
            yield db
        finally:
            db.close()

    def _rows(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._read() as db:
            if db is None:
                return []
            try:
                return db.execute(sql, args).fetchall()
            except sqlite3.OperationalError as exc:
                # No table yet (the gateway has not migrated) or locked past the timeout: a page
                # without history beats an error page; the API is not affected either way.
                if "no such table" not in str(exc):
                    log.warning("web statistics query failed: %s", exc)
                return []

    def provider_buckets(self, model: str, since: float, width: int) -> list[Bucket]:
        rows = self._rows(
            f"""SELECT COALESCE(provider, '(none)'), CAST(created_at / ? AS INTEGER) * ?, COUNT(*),
                       SUM(status = 'ok'), AVG(CASE WHEN status = 'ok' THEN latency_ms END), AVG({_THROUGHPUT})
                FROM generations WHERE model = ? AND created_at >= ?
                GROUP BY 1, 2 ORDER BY 2, 1""",
            (width, width, model, since),
        )
        return [Bucket(p, float(t), n, int(ok or 0), lat, tps) for p, t, n, ok, lat, tps in rows]

    def provider_uptime(self, model: str, since: float, width: int) -> list[Bucket]:
        # Every attempt counts, fallbacks included: an attempt succeeded when it answered and the
        # request did not then fail mid-stream. Faults of the request (a 400 the upstream blamed on
        # it) and 429s say nothing about the provider's health, so they are left out.
        rows = self._rows(
            f"""SELECT json_extract(a.value, '$.provider'), CAST(g.created_at / ? AS INTEGER) * ?, COUNT(*),
                       SUM(json_extract(a.value, '$.outcome') = 'ok' AND g.status != 'error')
                FROM generations AS g, json_each(g.attempts) AS a
                WHERE g.model = ? AND g.created_at >= ?
                  AND COALESCE(json_extract(a.value, '$.error'), '') NOT IN ({", ".join("?" for _ in NOT_PROVIDER_FAULTS)})
                GROUP BY 1, 2 ORDER BY 2, 1""",
            (width, width, model, since, *NOT_PROVIDER_FAULTS),
        )
        return [Bucket(str(p), float(t), n, int(ok or 0), None, None) for p, t, n, ok in rows if p is not None]

    def daily_usage(self, since: float, *, model: str | None = None, key_hash: str | None = None,
                    category: str | None = None) -> list[DayUsage]:
        where: list[str] = ["created_at >= ?"]
        args: list[object] = [since]
        if category is not None:
            where.append(IN_CATEGORY)
            args.append(category)
        if model is not None:
            where.append("model = ?")
            args.append(model)
        if key_hash is not None:
            where.append("key_hash = ?")
            args.append(key_hash)
        rows = self._rows(
            f"""SELECT date(created_at, 'unixepoch'), COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), {_COST_SUM}
                FROM generations WHERE {" AND ".join(where)} GROUP BY 1 ORDER BY 1""",
            tuple(args),
        )
        return [DayUsage(d, n, int(p or 0), int(c or 0), _money(cost)) for d, n, p, c, cost in rows]

    def top_apps(self, model: str, since: float, limit: int, category: str | None = None) -> list[Share]:
        # A public page: apps by the title they chose to show, never by another tenant's referer.
        rows = self._rows(
            f"""SELECT app_title, COUNT(*), SUM({_TOKENS}), {_COST_SUM}
                FROM generations
                WHERE model = ? AND created_at >= ? AND app_title IS NOT NULL{" AND " + IN_CATEGORY if category else ""}
                GROUP BY 1 ORDER BY 3 DESC, 2 DESC LIMIT ?""",
            (model, since, *((category,) if category else ()), limit),
        )
        return [Share(name, None, n, int(tok or 0), _money(cost)) for name, n, tok, cost in rows]

    def usage_by(self, column: Literal["model", "provider"], key_hash: str, since: float) -> list[Share]:
        assert column in ("model", "provider")  # a column name, never caller input
        rows = self._rows(
            f"""SELECT COALESCE({column}, '(none)'), COUNT(*), SUM({_TOKENS}), {_COST_SUM}
                FROM generations WHERE key_hash = ? AND created_at >= ?
                GROUP BY 1 ORDER BY 4 DESC, 3 DESC""",
            (key_hash, since),
        )
        return [Share(name, None, n, int(tok or 0), _money(cost)) for name, n, tok, cost in rows]

    def daily_by(self, column: Literal["model", "provider"], key_hash: str, since: float) -> list[DayShare]:
        assert column in ("model", "provider")  # a column name, never caller input
        rows = self._rows(
            f"""SELECT date(created_at, 'unixepoch'), COALESCE({column}, '(none)'), COUNT(*), SUM({_TOKENS}), {_COST_SUM}
                FROM generations WHERE key_hash = ? AND created_at >= ?
                GROUP BY 1, 2 ORDER BY 1, 2""",
            (key_hash, since),
        )
        return [DayShare(d, name, n, int(tok or 0), _money(cost)) for d, name, n, tok, cost in rows]

    def recent_generations(self, key_hash: str, limit: int) -> list[GenerationRecord]:
        rows = self._rows(
            f"SELECT {_RECORD_COLUMNS} FROM generations WHERE key_hash = ? ORDER BY created_at DESC LIMIT ?",
            (key_hash, limit),
        )
        return [to_record(row) for row in rows]


def to_record(row: tuple[Any, ...]) -> GenerationRecord:
    (id_, created_at, key_hash, model, provider, upstream_model, dialect_in, dialect_out, streamed, status,
     finish, native_finish, prompt, completion, cached, cache_write, reasoning, estimated, cost, latency,
     gen_time, error_code, error_message, app_title, app_referer, attempts) = row
    return GenerationRecord(
        id=id_, created_at=created_at, key_hash=key_hash, model=model, provider=provider,
        upstream_model=upstream_model, dialect_in=dialect_in, dialect_out=dialect_out, streamed=bool(streamed),
        status=status, finish_reason=finish, native_finish_reason=native_finish, prompt_tokens=prompt,
        completion_tokens=completion, cached_tokens=cached, cache_write_tokens=cache_write,
        reasoning_tokens=reasoning, usage_estimated=bool(estimated), cost=Decimal(cost), latency_ms=latency,
        generation_time_ms=gen_time, error_code=error_code, error_message=error_message, app_title=app_title,
        app_referer=app_referer, attempts=orjson.loads(attempts) if attempts else [],
    )


class NoStats:
    """`Stats` for a gateway whose records are not in SQLite: every page renders, without history."""

    def provider_buckets(self, model: str, since: float, width: int) -> list[Bucket]:
        return []

    def provider_uptime(self, model: str, since: float, width: int) -> list[Bucket]:
        return []

    def daily_usage(self, since: float, *, model: str | None = None, key_hash: str | None = None,
                    category: str | None = None) -> list[DayUsage]:
        return []

    def top_apps(self, model: str, since: float, limit: int, category: str | None = None) -> list[Share]:
        return []

    def usage_by(self, column: Literal["model", "provider"], key_hash: str, since: float) -> list[Share]:
        return []

    def daily_by(self, column: Literal["model", "provider"], key_hash: str, since: float) -> list[DayShare]:
        return []

    def recent_generations(self, key_hash: str, limit: int) -> list[GenerationRecord]:
        return []


def _pg_in_category(n: int) -> str:
    """IN_CATEGORY with PostgreSQL's numbered parameter `$n`."""
    return IN_CATEGORY.replace("?", f"${n}")


class PostgresStats:
    """`Stats` read through a `PostgresStore` (store/postgres.py `read`): the same rows as SQLiteStats.
    Text is ordered byte-wise (COLLATE "C") as SQLite orders it; money is NUMERIC, summed exactly."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def _rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        try:
            return [tuple(r) for r in self._store.read(sql, *args)]
        except Exception as exc:  # a page without history beats an error page while the database is away
            log.warning("web statistics query failed: %s", type(exc).__name__)
            return []

    def provider_buckets(self, model: str, since: float, width: int) -> list[Bucket]:
        rows = self._rows(
            f"""SELECT COALESCE(provider, '(none)') COLLATE "C", FLOOR(created_at / $1) * $1, COUNT(*),
                       SUM((status = 'ok')::int), AVG(CASE WHEN status = 'ok' THEN latency_ms END), AVG({_THROUGHPUT})
                FROM generations WHERE model = $2 AND created_at >= $3
                GROUP BY 1, 2 ORDER BY 2, 1""",
            float(width), model, since)
        return [Bucket(p, float(t), int(n), int(ok or 0), _float(lat), _float(tps)) for p, t, n, ok, lat, tps in rows]

    def provider_uptime(self, model: str, since: float, width: int) -> list[Bucket]:
        rows = self._rows(
            """SELECT (a.value ->> 'provider') COLLATE "C", FLOOR(g.created_at / $1) * $1, COUNT(*),
                      SUM(((a.value ->> 'outcome') = 'ok' AND g.status <> 'error')::int)
               FROM generations AS g, jsonb_array_elements(g.attempts::jsonb) AS a
               WHERE g.model = $2 AND g.created_at >= $3 AND COALESCE(a.value ->> 'error', '') <> ALL($4::text[])
               GROUP BY 1, 2 ORDER BY 2, 1""",
            float(width), model, since, list(NOT_PROVIDER_FAULTS))
        return [Bucket(str(p), float(t), int(n), int(ok or 0), None, None) for p, t, n, ok in rows if p is not None]

    def daily_usage(self, since: float, *, model: str | None = None, key_hash: str | None = None,
                    category: str | None = None) -> list[DayUsage]:
        where: list[str] = ["created_at >= $1"]
        args: list[Any] = [since]
        for column, value in (("model", model), ("key_hash", key_hash)):
            if value is not None:
                args.append(value)
                where.append(f"{column} = ${len(args)}")
        if category is not None:
            args.append(category)
            where.append(_pg_in_category(len(args)))
        rows = self._rows(
            f"""SELECT {_PG_DAY}, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(cost)
                FROM generations WHERE {" AND ".join(where)} GROUP BY 1 ORDER BY 1""", *args)
        return [DayUsage(d, int(n), int(p or 0), int(c or 0), _decimal(cost)) for d, n, p, c, cost in rows]

    def top_apps(self, model: str, since: float, limit: int, category: str | None = None) -> list[Share]:
        in_category = f" AND {_pg_in_category(4)}" if category else ""
        rows = self._rows(
            f"""SELECT app_title, COUNT(*), SUM({_TOKENS}), SUM(cost)
                FROM generations WHERE model = $1 AND created_at >= $2 AND app_title IS NOT NULL{in_category}
                GROUP BY 1 ORDER BY 3 DESC, 2 DESC LIMIT $3""", model, since, limit, *((category,) if category else ()))
        return [Share(name, None, int(n), int(tok or 0), _decimal(cost)) for name, n, tok, cost in rows]

    def usage_by(self, column: Literal["model", "provider"], key_hash: str, since: float) -> list[Share]:
        assert column in ("model", "provider")  # a column name, never caller input
        rows = self._rows(
            f"""SELECT COALESCE({column}, '(none)'), COUNT(*), SUM({_TOKENS}), SUM(cost)
                FROM generations WHERE key_hash = $1 AND created_at >= $2
                GROUP BY 1 ORDER BY 4 DESC, 3 DESC""", key_hash, since)
        return [Share(name, None, int(n), int(tok or 0), _decimal(cost)) for name, n, tok, cost in rows]

    def daily_by(self, column: Literal["model", "provider"], key_hash: str, since: float) -> list[DayShare]:
        assert column in ("model", "provider")  # a column name, never caller input
        rows = self._rows(
            f"""SELECT {_PG_DAY}, COALESCE({column}, '(none)') COLLATE "C", COUNT(*), SUM({_TOKENS}), SUM(cost)
                FROM generations WHERE key_hash = $1 AND created_at >= $2
                GROUP BY 1, 2 ORDER BY 1, 2""", key_hash, since)
        return [DayShare(d, name, int(n), int(tok or 0), _decimal(cost)) for d, name, n, tok, cost in rows]

    def recent_generations(self, key_hash: str, limit: int) -> list[GenerationRecord]:
        rows = self._rows(f"SELECT {_RECORD_COLUMNS} FROM generations WHERE key_hash = $1"
                          " ORDER BY created_at DESC LIMIT $2", key_hash, limit)
        return [to_record(row) for row in rows]


_PG_DAY = "to_char(to_timestamp(created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _decimal(value: Any) -> Decimal:
    return Decimal(0) if value is None else Decimal(value)


def open_stats(settings: Any, store: Any = None) -> Stats:
    """The stats source for these settings: SQLite's file when the records live there, the
    PostgreSQL store's pool when they live there, else none."""
    if store is not None and callable(getattr(store, "read", None)):
        return PostgresStats(store)
    try:
        path = settings.sqlite_path
    except ValueError:  # ConfigError: another database with no reader here
        return NoStats()
    return SQLiteStats(path)
