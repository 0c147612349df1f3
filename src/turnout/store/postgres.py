"""The PostgreSQL store (the `postgres` extra: asyncpg), for replicas sharing one database.

The `Store` contract is synchronous (core/ calls it from worker threads), and asyncpg is async:
the store runs its own event loop in a daemon thread, holds a connection pool there, and each
method submits a coroutine to it and waits. Money is NUMERIC, so sums are exact in SQL. Generation
inserts use ON CONFLICT DO NOTHING, so replaying a crash journal never counts twice.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Coroutine, Sequence
from decimal import Decimal
from typing import Any, TypeVar

import orjson

from turnout.store.base import (
    DEFAULT_ACCOUNT,
    AccountRecord,
    ActivityRow,
    AppRow,
    ByokRecord,
    GenerationRecord,
    KeyExists,
    KeyRecord,
    LedgerEntry,
    PeriodUsage,
    PresetRecord,
    ResponseQuota,
    ResponseRow,
    SchemaTooNew,
    period_starts,
)
from turnout.store.responses import past_quota, past_total
from turnout.store.rollup import rollup
from turnout.store.sqlite import (
    ACCOUNT_COLUMNS,
    BYOK_COLUMNS,
    GEN_COLUMNS,
    KEY_COLUMNS,
    KEY_FIELDS,
    LEDGER_COLUMNS,
    PRESET_COLUMNS,
    _byok,
    _byok_row,
    _preset,
    migrations,
    statements,
)

T = TypeVar("T")
MIGRATE_LOCK = 7_361_552_001  # pg_advisory_xact_lock key: one migrator at a time


class PostgresStore:
    def __init__(self, url: str, *, schema: str | None = None, pool_size: int = 4) -> None:
        try:
            import asyncpg  # type: ignore[import-untyped]
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError("database_url is PostgreSQL but asyncpg is missing: pip install 'turnout[postgres]'") from exc
        self._asyncpg = asyncpg
        self.url = url
        self.schema = schema
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="turnout-postgres", daemon=True)
        self._thread.start()
        self._pool: Any = self._run(self._connect(pool_size))

    async def _connect(self, size: int) -> Any:
        settings = {"search_path": self.schema} if self.schema else {}
        if self.schema:
            conn = await self._asyncpg.connect(self.url)
            try:
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            finally:
                await conn.close()
        return await self._asyncpg.create_pool(self.url, min_size=1, max_size=size, server_settings=settings)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def _fetch(self, sql: str, *args: Any) -> list[Any]:
        async def go() -> list[Any]:
            async with self._pool.acquire() as conn:
                return list(await conn.fetch(sql, *args))
        return self._run(go())

    def read(self, sql: str, *args: Any) -> list[Any]:
        """Read-only queries beside the contract (the web UI's statistics, web/queries.py)."""
        return self._fetch(sql, *args)

    def _tx(self, body: Any) -> Any:
        """Run `await body(conn)` in one transaction."""
        async def go() -> Any:
            async with self._pool.acquire() as conn, conn.transaction():
                return await body(conn)
        return self._run(go())

    def migrate(self) -> list[int]:
        async def body(conn: Any) -> list[int]:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATE_LOCK)
            await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            current = await conn.fetchval("SELECT MAX(version) FROM schema_version") or 0
            known = migrations("postgres")
            if known and current > known[-1][0]:
                raise SchemaTooNew(current, known[-1][0])
            applied = []
            for version, sql in known:
                if version > current:
                    for statement in statements(sql):
                        await conn.execute(statement)
                    await conn.execute("INSERT INTO schema_version VALUES ($1)", version)
                    applied.append(version)
            return applied
        return list(self._tx(body))

    def schema_version(self) -> int:
        rows = self._fetch("SELECT to_regclass('schema_version') IS NOT NULL")
        if not rows or not rows[0][0]:
            return 0
        return int(self._fetch("SELECT COALESCE(MAX(version), 0) FROM schema_version")[0][0])

    # keys

    def create_key(
        self, hash: str, name: str, label: str, limit: Decimal | None, now: float, *,
        account_id: str = DEFAULT_ACCOUNT, limit_reset: str | None = None,
        rate_limit_rpm: int | None = None, rate_limit_tpm: int | None = None,
    ) -> KeyRecord:
        async def body(conn: Any) -> Any:
            if await conn.fetchval("SELECT 1 FROM api_keys WHERE name = $1 AND NOT deleted", name):
                raise KeyExists(f"a key named {name!r} already exists")
            await _ensure_account(conn, account_id, now)
            await conn.execute(
                f"INSERT INTO api_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, 0, FALSE, $5, $5, $6, $7, $8, $9, FALSE)",
                hash, name, label, limit, now, account_id, limit_reset, rate_limit_rpm, rate_limit_tpm)
            return await conn.fetchrow(f"SELECT {KEY_COLUMNS} FROM api_keys WHERE hash = $1", hash)
        return _key(self._tx(body))

    def list_keys(self, include_deleted: bool = False) -> list[KeyRecord]:
        where = "" if include_deleted else "WHERE NOT deleted"
        return [_key(r) for r in self._fetch(f"SELECT {KEY_COLUMNS} FROM api_keys {where} ORDER BY created_at")]

    def get_key(self, hash: str) -> KeyRecord | None:
        rows = self._fetch(f"SELECT {KEY_COLUMNS} FROM api_keys WHERE hash = $1 AND NOT deleted", hash)
        return _key(rows[0]) if rows else None

    def keys_changed_since(self, since: float) -> list[KeyRecord]:
        return [_key(r) for r in self._fetch(f"SELECT {KEY_COLUMNS} FROM api_keys WHERE updated_at > $1", since)]

    def set_key_disabled(self, name: str, disabled: bool, now: float) -> bool:
        async def body(conn: Any) -> str:
            return str(await conn.execute(
                "UPDATE api_keys SET disabled = $1, updated_at = $2 WHERE name = $3 AND NOT deleted", disabled, now, name))
        return not self._tx(body).endswith(" 0")

    def key_usages(self) -> dict[str, Decimal]:
        return {r[0]: Decimal(r[1]) for r in self._fetch("SELECT hash, usage_usd FROM api_keys WHERE NOT deleted")}

    def update_key(self, hash: str, changes: dict[str, Any], now: float) -> KeyRecord | None:
        sets = [f"{KEY_FIELDS[name]} = ${i}" for i, name in enumerate(changes, start=1)]
        args = list(changes.values())

        async def body(conn: Any) -> Any:
            if "name" in changes and await conn.fetchval(
                "SELECT 1 FROM api_keys WHERE name = $1 AND hash != $2 AND NOT deleted", changes["name"], hash
            ):
                raise KeyExists(f"a key named {changes['name']!r} already exists")
            n = len(args)
            return await conn.fetchrow(
                f"UPDATE api_keys SET {', '.join([*sets, f'updated_at = ${n + 1}'])} WHERE hash = ${n + 2} AND NOT deleted"
                f" RETURNING {KEY_COLUMNS}", *args, now, hash)
        row = self._tx(body)
        return _key(row) if row else None

    def delete_key(self, hash: str, now: float) -> bool:
        async def body(conn: Any) -> str:
            return str(await conn.execute(
                "UPDATE api_keys SET deleted = TRUE, disabled = TRUE, updated_at = $1 WHERE hash = $2 AND NOT deleted",
                now, hash))
        return not self._tx(body).endswith(" 0")

    # accounts and the ledger

    def get_account(self, id: str) -> AccountRecord | None:
        rows = self._fetch(f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1", id)
        return _account(rows[0]) if rows else None

    def models_first_seen(self, model_ids: Sequence[str], now: float) -> dict[str, float]:
        async def body(conn: Any) -> list[Any]:
            await conn.executemany("INSERT INTO models_seen (model_id, first_seen) VALUES ($1, $2)"
                                   " ON CONFLICT (model_id) DO NOTHING", [(m, now) for m in model_ids])
            return list(await conn.fetch("SELECT model_id, first_seen FROM models_seen WHERE model_id = ANY($1::text[])",
                                         list(model_ids)))
        return {r[0]: float(r[1]) for r in self._tx(body)}

    def list_accounts(self) -> list[AccountRecord]:
        return [_account(r) for r in self._fetch(f"SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY id")]

    def accounts_changed_since(self, since: float) -> list[AccountRecord]:
        return [_account(r) for r in self._fetch(f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE updated_at > $1", since)]

    def add_credits(self, account_id: str, kind: str, amount: Decimal, note: str | None, now: float) -> LedgerEntry:
        async def body(conn: Any) -> int:
            await _ensure_account(conn, account_id, now)
            await conn.execute("UPDATE accounts SET credits_usd = credits_usd + $1, updated_at = $2 WHERE id = $3",
                               amount, now, account_id)
            return int(await conn.fetchval(
                "INSERT INTO ledger (account_id, key_hash, kind, amount, generation_id, note, created_at)"
                " VALUES ($1, NULL, $2, $3, NULL, $4, $5) RETURNING id", account_id, kind, amount, note, now))
        return LedgerEntry(self._tx(body), account_id, None, kind, amount, None, note, now)

    def ledger_entries(self, account_id: str, limit: int = 100) -> list[LedgerEntry]:
        rows = self._fetch(f"SELECT {LEDGER_COLUMNS} FROM ledger WHERE account_id = $1 ORDER BY id DESC LIMIT $2",
                           account_id, limit)
        return [LedgerEntry(*r) for r in rows]

    def ledger_sums(self, account_id: str) -> tuple[Decimal, Decimal]:
        row = self._fetch("SELECT COALESCE(SUM(amount) FILTER (WHERE kind != 'usage'), 0),"
                          " COALESCE(-SUM(amount) FILTER (WHERE kind = 'usage'), 0) FROM ledger WHERE account_id = $1",
                          account_id)[0]
        return Decimal(row[0]), Decimal(row[1])

    # usage

    def write_generations(self, records: list[GenerationRecord]) -> int:
        if not records:
            return 0
        # The whole batch in one statement (one round trip, not one per record): the rows as a JSON
        # array, typed by the table's own row type; the ids it returns are the records not stored
        # before (a journal replay may bring some again).
        columns = ", ".join(GEN_COLUMNS)
        insert = (f"INSERT INTO generations ({columns}) SELECT {columns}"
                  " FROM jsonb_populate_recordset(NULL::generations, $1::jsonb) ON CONFLICT (id) DO NOTHING RETURNING id")
        unique = list({r.id: r for r in reversed(records)}.values())[::-1]  # the first of a repeated id
        payload = orjson.dumps([_gen_object(r) for r in unique]).decode()

        async def body(conn: Any) -> int:
            inserted = {row[0] for row in await conn.fetch(insert, payload)}
            new = [r for r in unique if r.id in inserted]
            if not new:
                return 0
            hashes = list({r.key_hash for r in new if r.key_hash})
            owners = {row[0]: row[1] for row in await conn.fetch(
                "SELECT hash, account_id FROM api_keys WHERE hash = ANY($1::text[])", hashes)} if hashes else {}
            r_up = rollup(new, owners)
            await conn.executemany(
                "INSERT INTO ledger (account_id, key_hash, kind, amount, generation_id, note, created_at)"
                " VALUES ($1, $2, 'usage', $3::numeric, $4, NULL, $5)", r_up.debits)
            for key_hash, cost in r_up.key_spend.items():
                await conn.execute("UPDATE api_keys SET usage_usd = usage_usd + $1 WHERE hash = $2", cost, key_hash)
            for account_id, cost in r_up.account_spend.items():
                await _ensure_account(conn, account_id, 0.0)
                await conn.execute("UPDATE accounts SET usage_usd = usage_usd + $1 WHERE id = $2", cost, account_id)
            await conn.executemany(
                "INSERT INTO usage_daily VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (day, key_hash, model,"
                " provider) DO UPDATE SET requests = usage_daily.requests + excluded.requests,"
                " prompt_tokens = usage_daily.prompt_tokens + excluded.prompt_tokens,"
                " completion_tokens = usage_daily.completion_tokens + excluded.completion_tokens,"
                " reasoning_tokens = usage_daily.reasoning_tokens + excluded.reasoning_tokens,"
                " cost = usage_daily.cost + excluded.cost",
                [(*k, u.requests, u.prompt_tokens, u.completion_tokens, u.reasoning_tokens, u.cost)
                 for k, u in r_up.usage.items()])
            await conn.executemany(
                "INSERT INTO app_usage_daily (day, model, key_hash, app, title, referer, requests, tokens)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (day, model, key_hash, app) DO UPDATE"
                " SET requests = app_usage_daily.requests + excluded.requests,"
                " tokens = app_usage_daily.tokens + excluded.tokens,"
                " title = COALESCE(excluded.title, app_usage_daily.title),"
                " referer = COALESCE(excluded.referer, app_usage_daily.referer)",
                [(*k, a.title, a.referer, a.requests, a.tokens) for k, a in r_up.apps.items()])
            return len(new)
        return int(self._tx(body))

    def get_generation(self, id: str) -> GenerationRecord | None:
        from turnout.store.sqlite import gen_from_row

        rows = self._fetch(f"SELECT {', '.join(GEN_COLUMNS)} FROM generations WHERE id = $1", id)
        if not rows:
            return None
        rec = gen_from_row(list(rows[0]))
        rec.cost = Decimal(rec.cost)
        return rec

    def period_usage(self, now: float) -> dict[str, PeriodUsage]:
        day, week, month = (d.isoformat() for d in period_starts(now))
        rows = self._fetch(
            "SELECT key_hash, COALESCE(SUM(cost) FILTER (WHERE day >= $1), 0), COALESCE(SUM(cost) FILTER (WHERE day >= $2), 0),"
            " COALESCE(SUM(cost) FILTER (WHERE day >= $3), 0) FROM usage_daily WHERE day >= $4 AND key_hash != ''"
            " GROUP BY key_hash", day, week, month, min(week, month))
        return {r[0]: PeriodUsage(Decimal(r[1]), Decimal(r[2]), Decimal(r[3])) for r in rows}

    def activity(self, since_day: str, key_hash: str | None = None) -> list[ActivityRow]:
        sql = ("SELECT day, key_hash, model, provider, requests, prompt_tokens, completion_tokens, reasoning_tokens, cost"
               " FROM usage_daily WHERE day >= $1")
        args: list[Any] = [since_day]
        if key_hash is not None:
            sql += " AND key_hash = $2"
            args.append(key_hash)
        rows = self._fetch(sql + " ORDER BY day DESC, model, provider", *args)
        return [ActivityRow(r[0], r[1], r[2], r[3], int(r[4]), int(r[5]), int(r[6]), int(r[7]), Decimal(r[8]))
                for r in rows]

    def top_apps(self, model: str | None, since_day: str, limit: int = 20, *, viewer: str | None = None,
                 admin: bool = False, category: str | None = None) -> list[AppRow]:
        args: list[Any] = [since_day]
        if admin:
            shown, referer, where = "app", "referer", ""
        else:  # the viewer's own apps in full; everyone else's by title only, and only when they set one
            args.append(viewer)
            shown, referer = "(CASE WHEN key_hash = $2 THEN app ELSE title END)", "CASE WHEN key_hash = $2 THEN referer END"
            where = " AND (key_hash = $2 OR title IS NOT NULL)"
        if model:
            args.append(model)
            where += f" AND model = ${len(args)}"
        if category:
            args.append(category)
            where += f" AND app IN (SELECT app FROM app_categories WHERE category = ${len(args)})"
        args.append(limit)
        rows = self._fetch(
            f"SELECT {shown}, MAX(title), MAX({referer}), SUM(requests), SUM(tokens) FROM app_usage_daily"
            f' WHERE day >= $1{where} GROUP BY {shown} ORDER BY SUM(tokens) DESC, {shown} COLLATE "C" LIMIT ${len(args)}',
            *args)
        return [AppRow(r[0], r[1], r[2], int(r[3]), int(r[4])) for r in rows]

    # Responses API state

    def save_responses(self, rows: list[ResponseRow], quota: ResponseQuota, now: float) -> None:
        async def body(conn: Any) -> None:
            await conn.executemany(
                "INSERT INTO stored_responses (id, key_hash, model, messages, response, size, stored_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET key_hash = EXCLUDED.key_hash,"
                " model = EXCLUDED.model, messages = EXCLUDED.messages, response = EXCLUDED.response,"
                " size = EXCLUDED.size, stored_at = EXCLUDED.stored_at",
                [(r.id, r.key_hash, r.model, r.messages, r.response, r.size, r.stored_at) for r in rows])
            await conn.execute("DELETE FROM stored_responses WHERE stored_at <= $1", now - quota.ttl)
            drop: list[str] = []
            for key_hash in {r.key_hash for r in rows}:
                held = await conn.fetch("SELECT id, size FROM stored_responses WHERE key_hash = $1"
                                        " ORDER BY stored_at DESC", key_hash)
                drop += past_quota(((h[0], int(h[1])) for h in held), quota.per_key, quota.per_key_bytes)
            count, size = await conn.fetchrow("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM stored_responses")
            if count > quota.total or size > quota.total_bytes:
                gone = set(drop)
                every = await conn.fetch("SELECT id, key_hash, size FROM stored_responses ORDER BY stored_at")
                drop += past_total(((r[0], r[1], int(r[2])) for r in every if r[0] not in gone), quota.total,
                                   quota.total_bytes)
            if drop:
                await conn.execute("DELETE FROM stored_responses WHERE id = ANY($1::text[])", list(set(drop)))
        self._tx(body)

    def load_response(self, id: str) -> ResponseRow | None:
        rows = self._fetch("SELECT id, key_hash, model, messages, response, size, stored_at FROM stored_responses"
                           " WHERE id = $1", id)
        if not rows:
            return None
        r = rows[0]
        return ResponseRow(r[0], r[1], r[2], bytes(r[3]), None if r[4] is None else bytes(r[4]), int(r[5]), float(r[6]))

    def delete_response(self, id: str) -> bool:
        async def body(conn: Any) -> str:
            return str(await conn.execute("DELETE FROM stored_responses WHERE id = $1", id))
        return bool(self._tx(body) != "DELETE 0")

    def drop_schema(self) -> None:
        """Tests: remove this store's private schema."""
        if self.schema:
            async def go() -> None:
                async with self._pool.acquire() as conn:
                    await conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
            self._run(go())

    # presets

    def save_preset(self, slug: str, name: str, dialect: str, config: dict[str, Any], system_prompt: str | None,
                    now: float) -> PresetRecord:
        async def body(conn: Any) -> PresetRecord:
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"preset:{slug}")
            current = await conn.fetchrow("SELECT MAX(version), MIN(created_at) FROM presets WHERE slug = $1", slug)
            version = (current[0] or 0) + 1
            created = current[1] if current[1] is not None else now
            await conn.execute(f"INSERT INTO presets ({PRESET_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, FALSE, $7, $8)",
                               slug, version, name, dialect, orjson.dumps(config).decode(), system_prompt, created, now)
            await conn.execute("UPDATE presets SET archived = FALSE, updated_at = $1 WHERE slug = $2", now, slug)
            return PresetRecord(slug, version, name, dialect, config, system_prompt, False, created, now)
        result: PresetRecord = self._tx(body)
        return result

    def preset_versions(self, slug: str) -> list[PresetRecord]:
        return [_preset(r) for r in self._fetch(
            f"SELECT {PRESET_COLUMNS} FROM presets WHERE slug = $1 ORDER BY version DESC", slug)]

    def presets_changed_since(self, since: float) -> list[PresetRecord]:
        return [_preset(r) for r in self._fetch(
            f"SELECT {PRESET_COLUMNS} FROM presets p WHERE updated_at > $1 AND version = "
            "(SELECT MAX(version) FROM presets q WHERE q.slug = p.slug) ORDER BY slug", since)]

    def archive_preset(self, slug: str, now: float) -> bool:
        async def body(conn: Any) -> bool:
            done = await conn.execute("UPDATE presets SET archived = TRUE, updated_at = $1 WHERE slug = $2 AND NOT archived",
                                      now, slug)
            return bool(done != "UPDATE 0")
        result: bool = self._tx(body)
        return result

    # app categories

    def add_app_categories(self, pairs: Sequence[tuple[str, str]], now: float) -> None:
        if not pairs:
            return

        async def body(conn: Any) -> None:
            await conn.executemany("INSERT INTO app_categories (app, category, updated_at) VALUES ($1, $2, $3)"
                                   " ON CONFLICT (app, category) DO UPDATE SET updated_at = excluded.updated_at",
                                   [(a, c, now) for a, c in pairs])
        self._tx(body)

    def models_by_category(self, category: str, since_day: str, limit: int = 100) -> list[tuple[str, int]]:
        rows = self._fetch("SELECT model, SUM(tokens) FROM app_usage_daily WHERE day >= $1 AND app IN"
                           " (SELECT app FROM app_categories WHERE category = $2) GROUP BY model"
                           ' ORDER BY SUM(tokens) DESC, model COLLATE "C" LIMIT $3', since_day, category, limit)
        return [(r[0], int(r[1])) for r in rows]

    # BYOK

    def save_byok(self, record: ByokRecord) -> None:
        async def body(conn: Any) -> None:
            await conn.execute(f"INSERT INTO byok_keys ({BYOK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
                               " $11, $12, $13, $14, $15) ON CONFLICT (id) DO UPDATE SET account_id = excluded.account_id, provider = excluded.provider, name = excluded.name, label = excluded.label, secret = excluded.secret, is_fallback = excluded.is_fallback, is_required = excluded.is_required, disabled = excluded.disabled, allowed_models = excluded.allowed_models, allowed_keys = excluded.allowed_keys, sort_order = excluded.sort_order, deleted = excluded.deleted, updated_at = excluded.updated_at",
                               *_byok_row(record))
        self._tx(body)

    def get_byok(self, id: str) -> ByokRecord | None:
        rows = self._fetch(f"SELECT {BYOK_COLUMNS} FROM byok_keys WHERE id = $1 AND NOT deleted", id)
        return _byok(rows[0]) if rows else None

    def list_byok(self, account_id: str | None = None) -> list[ByokRecord]:
        order = " ORDER BY account_id, provider, sort_order, created_at, id"
        if account_id is None:
            return [_byok(r) for r in self._fetch(f"SELECT {BYOK_COLUMNS} FROM byok_keys WHERE NOT deleted" + order)]
        return [_byok(r) for r in self._fetch(
            f"SELECT {BYOK_COLUMNS} FROM byok_keys WHERE NOT deleted AND account_id = $1" + order, account_id)]

    def byok_changed_since(self, since: float) -> list[ByokRecord]:
        return [_byok(r) for r in self._fetch(
            f"SELECT {BYOK_COLUMNS} FROM byok_keys WHERE updated_at > $1 ORDER BY updated_at", since)]

    def delete_byok(self, id: str, now: float) -> bool:
        async def body(conn: Any) -> bool:
            done = await conn.execute("UPDATE byok_keys SET deleted = TRUE, secret = '', updated_at = $1"
                                      " WHERE id = $2 AND NOT deleted", now, id)
            return bool(done != "UPDATE 0")
        result: bool = self._tx(body)
        return result

    def set_byok_settings(self, account_id: str, include_in_limit: bool, now: float) -> None:
        async def body(conn: Any) -> None:
            await conn.execute("INSERT INTO byok_accounts (account_id, include_byok_in_limit, updated_at) VALUES ($1, $2, $3)"
                               " ON CONFLICT (account_id) DO UPDATE SET include_byok_in_limit = excluded.include_byok_in_limit,"
                               " updated_at = excluded.updated_at", account_id, include_in_limit, now)
        self._tx(body)

    def byok_settings_changed_since(self, since: float) -> list[tuple[str, bool, float]]:
        return [(r[0], bool(r[1]), float(r[2])) for r in self._fetch(
            "SELECT account_id, include_byok_in_limit, updated_at FROM byok_accounts WHERE updated_at > $1", since)]

    def close(self) -> None:
        if self._loop.is_closed():
            return
        try:
            self._run(_close(self._pool.close()))
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._loop.close()


async def _close(aw: Awaitable[None]) -> None:
    await aw


async def _ensure_account(conn: Any, account_id: str, now: float) -> None:
    await conn.execute("INSERT INTO accounts (id, credits_usd, usage_usd, created_at, updated_at) VALUES ($1, 0, 0, $2, $2)"
                       " ON CONFLICT (id) DO NOTHING", account_id, now)


def _key(row: Any) -> KeyRecord:
    return KeyRecord(
        hash=row[0], name=row[1], label=row[2], limit=row[3], usage=Decimal(row[4]), disabled=bool(row[5]),
        created_at=row[6], updated_at=row[7], account_id=row[8], limit_reset=row[9], rate_limit_rpm=row[10],
        rate_limit_tpm=row[11], deleted=bool(row[12]),
    )


def _account(row: Any) -> AccountRecord:
    return AccountRecord(row[0], Decimal(row[1]), Decimal(row[2]), row[3], row[4])


def _gen_object(r: GenerationRecord) -> dict[str, Any]:
    """A record as one element of the JSON array `write_generations` sends."""
    out = {name: getattr(r, name) for name in GEN_COLUMNS}
    out["cost"] = str(r.cost)
    out["attempts"] = orjson.dumps(r.attempts).decode()
    out["pipeline"] = orjson.dumps(r.pipeline).decode()
    return out


