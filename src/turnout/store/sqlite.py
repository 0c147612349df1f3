"""The default store: one SQLite file in the data directory, WAL mode.

Calls are synchronous and serialized by a lock; core/ calls them from worker threads (batched
accounting writes, key refreshes), and the CLI calls them directly against the same file.
Decimals are kept as text and summed in Python, never as floats. Commits are `synchronous=FULL`
so that once a batch is committed, the crash journal that covered it can be dropped.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from importlib import resources
from operator import attrgetter
from pathlib import Path
from typing import Any

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
from turnout.store.rollup import Rollup, rollup

GEN_COLUMNS = (
    "id", "created_at", "key_hash", "model", "provider", "upstream_model", "dialect_in", "dialect_out",
    "streamed", "status", "finish_reason", "native_finish_reason", "prompt_tokens", "completion_tokens",
    "cached_tokens", "cache_write_tokens", "reasoning_tokens", "usage_estimated", "cost", "latency_ms",
    "generation_time_ms", "error_code", "error_message", "app_title", "app_referer", "attempts",
    "pipeline",
)
KEY_COLUMNS = ("hash, name, label, limit_usd, usage_usd, disabled, created_at, updated_at, account_id, "
               "limit_reset, rate_limit_rpm, rate_limit_tpm, deleted")
ACCOUNT_COLUMNS = "id, credits_usd, usage_usd, created_at, updated_at"
LEDGER_COLUMNS = "id, account_id, key_hash, kind, amount, generation_id, note, created_at"
KEY_FIELDS = {"name": "name", "disabled": "disabled", "limit": "limit_usd", "limit_reset": "limit_reset",
              "rate_limit_rpm": "rate_limit_rpm", "rate_limit_tpm": "rate_limit_tpm"}


PRESET_COLUMNS = "slug, version, name, dialect, config, system_prompt, archived, created_at, updated_at"


BYOK_COLUMNS = ("id, account_id, provider, name, label, secret, is_fallback, is_required, disabled, allowed_models, "
                "allowed_keys, sort_order, deleted, created_at, updated_at")


def _byok(r: Any) -> ByokRecord:
    return ByokRecord(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), bool(r[7]), bool(r[8]),
                      orjson.loads(r[9]) if r[9] is not None else None, orjson.loads(r[10]) if r[10] is not None else None,
                      int(r[11]), bool(r[12]), float(r[13]), float(r[14]))


def _byok_row(b: ByokRecord) -> tuple[Any, ...]:
    return (b.id, b.account_id, b.provider, b.name, b.label, b.secret, b.is_fallback, b.is_required, b.disabled,
            None if b.allowed_models is None else orjson.dumps(b.allowed_models).decode(),
            None if b.allowed_keys is None else orjson.dumps(b.allowed_keys).decode(),
            b.sort_order, b.deleted, b.created_at, b.updated_at)


def _preset(r: tuple[Any, ...]) -> PresetRecord:
    return PresetRecord(r[0], int(r[1]), r[2], r[3], orjson.loads(r[4]), r[5], bool(r[6]), float(r[7]), float(r[8]))


def migrations(dialect: str = "sqlite") -> list[tuple[int, str]]:
    """Numbered migrations: `NNN_name.sql` for SQLite, `NNN_name.<dialect>.sql` for the others."""
    folder = resources.files("turnout.store").joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        parts = entry.name.split(".")
        if parts[-1] == "sql" and (parts[-2] if len(parts) == 3 else "sqlite") == dialect:
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text("utf-8")))
    return sorted(found)


def statements(sql: str) -> list[str]:
    code = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
    return [s for s in code.split(";") if s.strip()]


class SQLiteStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def migrate(self) -> list[int]:
        with self._lock:
            self._db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        applied = []
        with self._tx() as db:  # one writer migrates; others wait on the lock and find nothing to do
            current = db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0
            known = migrations()
            if known and current > known[-1][0]:
                raise SchemaTooNew(current, known[-1][0])
            for version, sql in known:
                if version > current:
                    for statement in statements(sql):
                        db.execute(statement)
                    db.execute("INSERT INTO schema_version VALUES (?)", (version,))
                    applied.append(version)
        return applied

    def schema_version(self) -> int:
        try:
            return int(self._all("SELECT MAX(version) FROM schema_version")[0][0] or 0)
        except sqlite3.OperationalError:  # no table: nothing migrated yet
            return 0

    # keys

    def create_key(
        self, hash: str, name: str, label: str, limit: Decimal | None, now: float, *,
        account_id: str = DEFAULT_ACCOUNT, limit_reset: str | None = None,
        rate_limit_rpm: int | None = None, rate_limit_tpm: int | None = None,
    ) -> KeyRecord:
        with self._tx() as db:
            if db.execute("SELECT 1 FROM api_keys WHERE name = ? AND deleted = 0", (name,)).fetchone():
                raise KeyExists(f"a key named {name!r} already exists")
            # A deleted key keeps its row (its generations point at it) but frees its name.
            db.execute("UPDATE api_keys SET name = name || ' (deleted ' || hash || ')' WHERE name = ? AND deleted = 1",
                       (name,))
            _ensure_account(db, account_id, now)
            db.execute(
                f"INSERT INTO api_keys ({KEY_COLUMNS}) VALUES (?, ?, ?, ?, '0', 0, ?, ?, ?, ?, ?, ?, 0)",
                (hash, name, label, _text(limit), now, now, account_id, limit_reset, rate_limit_rpm, rate_limit_tpm),
            )
            row = db.execute(f"SELECT {KEY_COLUMNS} FROM api_keys WHERE hash = ?", (hash,)).fetchone()
        return _key(row)

    def list_keys(self, include_deleted: bool = False) -> list[KeyRecord]:
        where = "" if include_deleted else "WHERE deleted = 0"
        return [_key(r) for r in self._all(f"SELECT {KEY_COLUMNS} FROM api_keys {where} ORDER BY created_at")]

    def get_key(self, hash: str) -> KeyRecord | None:
        rows = self._all(f"SELECT {KEY_COLUMNS} FROM api_keys WHERE hash = ? AND deleted = 0", (hash,))
        return _key(rows[0]) if rows else None

    def keys_changed_since(self, since: float) -> list[KeyRecord]:
        return [_key(r) for r in self._all(f"SELECT {KEY_COLUMNS} FROM api_keys WHERE updated_at > ?", (since,))]

    def set_key_disabled(self, name: str, disabled: bool, now: float) -> bool:
        with self._tx() as db:
            cur = db.execute("UPDATE api_keys SET disabled = ?, updated_at = ? WHERE name = ? AND deleted = 0",
                             (int(disabled), now, name))
        return cur.rowcount > 0

    def key_usages(self) -> dict[str, Decimal]:
        return {h: Decimal(u) for h, u in self._all("SELECT hash, usage_usd FROM api_keys WHERE deleted = 0")}

    def update_key(self, hash: str, changes: dict[str, Any], now: float) -> KeyRecord | None:
        sets, args = [], []
        for name, value in changes.items():
            sets.append(f"{KEY_FIELDS[name]} = ?")
            args.append(_text(value) if name == "limit" else (int(value) if name == "disabled" else value))
        with self._tx() as db:
            if "name" in changes and db.execute(
                "SELECT 1 FROM api_keys WHERE name = ? AND hash != ? AND deleted = 0", (changes["name"], hash)
            ).fetchone():
                raise KeyExists(f"a key named {changes['name']!r} already exists")
            cur = db.execute(f"UPDATE api_keys SET {', '.join([*sets, 'updated_at = ?'])} WHERE hash = ? AND deleted = 0",
                             (*args, now, hash))
            if cur.rowcount == 0:
                return None
            row = db.execute(f"SELECT {KEY_COLUMNS} FROM api_keys WHERE hash = ?", (hash,)).fetchone()
        return _key(row)

    def delete_key(self, hash: str, now: float) -> bool:
        with self._tx() as db:
            cur = db.execute("UPDATE api_keys SET deleted = 1, disabled = 1, updated_at = ? WHERE hash = ? AND deleted = 0",
                             (now, hash))
        return cur.rowcount > 0

    # accounts and the ledger

    def get_account(self, id: str) -> AccountRecord | None:
        rows = self._all(f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?", (id,))
        return _account(rows[0]) if rows else None

    def models_first_seen(self, model_ids: Sequence[str], now: float) -> dict[str, float]:
        with self._tx() as db:
            db.executemany("INSERT OR IGNORE INTO models_seen (model_id, first_seen) VALUES (?, ?)",
                           [(m, now) for m in model_ids])
            rows = db.execute("SELECT model_id, first_seen FROM models_seen").fetchall()
        wanted = set(model_ids)
        return {m: float(t) for m, t in rows if m in wanted}

    def list_accounts(self) -> list[AccountRecord]:
        return [_account(r) for r in self._all(f"SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY id")]

    def accounts_changed_since(self, since: float) -> list[AccountRecord]:
        return [_account(r) for r in self._all(f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE updated_at > ?", (since,))]

    def add_credits(self, account_id: str, kind: str, amount: Decimal, note: str | None, now: float) -> LedgerEntry:
        with self._tx() as db:
            _ensure_account(db, account_id, now)
            credits = Decimal(db.execute("SELECT credits_usd FROM accounts WHERE id = ?", (account_id,)).fetchone()[0])
            db.execute("UPDATE accounts SET credits_usd = ?, updated_at = ? WHERE id = ?",
                       (str(credits + amount), now, account_id))
            cur = db.execute(
                "INSERT INTO ledger (account_id, key_hash, kind, amount, generation_id, note, created_at)"
                " VALUES (?, NULL, ?, ?, NULL, ?, ?)", (account_id, kind, str(amount), note, now))
            entry_id = cur.lastrowid
        return LedgerEntry(int(entry_id or 0), account_id, None, kind, amount, None, note, now)

    def ledger_entries(self, account_id: str, limit: int = 100) -> list[LedgerEntry]:
        rows = self._all(f"SELECT {LEDGER_COLUMNS} FROM ledger WHERE account_id = ? ORDER BY id DESC LIMIT ?",
                         (account_id, limit))
        return [LedgerEntry(r[0], r[1], r[2], r[3], Decimal(r[4]), r[5], r[6], r[7]) for r in rows]

    def ledger_sums(self, account_id: str) -> tuple[Decimal, Decimal]:
        credits, usage = Decimal(0), Decimal(0)
        for kind, amount in self._all("SELECT kind, amount FROM ledger WHERE account_id = ?", (account_id,)):
            if kind == "usage":
                usage -= Decimal(amount)
            else:
                credits += Decimal(amount)
        return credits, usage

    # usage

    def write_generations(self, records: list[GenerationRecord]) -> int:
        if not records:
            return 0
        placeholders = ", ".join("?" for _ in GEN_COLUMNS)
        insert = f"INSERT OR IGNORE INTO generations ({', '.join(GEN_COLUMNS)}) VALUES ({placeholders})"
        with self._tx() as db:
            seen: set[str] = set()
            for i in range(0, len(records), 500):  # replays: skip ids already stored (one query per 500)
                ids = [r.id for r in records[i:i + 500]]
                seen.update(row[0] for row in db.execute(
                    f"SELECT id FROM generations WHERE id IN ({', '.join('?' for _ in ids)})", ids))
            new = []
            for r in records:
                if r.id not in seen:
                    seen.add(r.id)
                    new.append(r)
            if not new:
                return 0
            db.executemany(insert, [_gen_row(r) for r in new])
            hashes = {r.key_hash for r in new if r.key_hash}
            owners = dict(db.execute(
                f"SELECT hash, account_id FROM api_keys WHERE hash IN ({', '.join('?' for _ in hashes)})", tuple(hashes)
            ).fetchall()) if hashes else {}
            r_up = rollup(new, owners)
            db.executemany(
                "INSERT INTO ledger (account_id, key_hash, kind, amount, generation_id, note, created_at)"
                " VALUES (?, ?, 'usage', ?, ?, NULL, ?)", r_up.debits)
            for key_hash, cost in r_up.key_spend.items():
                row = db.execute("SELECT usage_usd FROM api_keys WHERE hash = ?", (key_hash,)).fetchone()
                db.execute("UPDATE api_keys SET usage_usd = ? WHERE hash = ?", (str(Decimal(row[0]) + cost), key_hash))
            for account_id, cost in r_up.account_spend.items():
                row = db.execute("SELECT usage_usd FROM accounts WHERE id = ?", (account_id,)).fetchone()
                if row is None:
                    _ensure_account(db, account_id, 0.0)
                    row = ("0",)
                db.execute("UPDATE accounts SET usage_usd = ? WHERE id = ?", (str(Decimal(row[0]) + cost), account_id))
            _merge_rollups(db, r_up)
        return len(new)

    def get_generation(self, id: str) -> GenerationRecord | None:
        rows = self._all(f"SELECT {', '.join(GEN_COLUMNS)} FROM generations WHERE id = ?", (id,))
        return gen_from_row(rows[0]) if rows else None

    def period_usage(self, now: float) -> dict[str, PeriodUsage]:
        day, week, month = (d.isoformat() for d in period_starts(now))
        since = min(week, month)
        out: dict[str, PeriodUsage] = {}
        for d, key_hash, cost in self._all("SELECT day, key_hash, cost FROM usage_daily WHERE day >= ? AND key_hash != ''",
                                           (since,)):
            p = out.setdefault(key_hash, PeriodUsage(Decimal(0), Decimal(0), Decimal(0)))
            c = Decimal(cost)
            p.daily += c if d >= day else 0
            p.weekly += c if d >= week else 0
            p.monthly += c if d >= month else 0
        return out

    def activity(self, since_day: str, key_hash: str | None = None) -> list[ActivityRow]:
        sql = ("SELECT day, key_hash, model, provider, requests, prompt_tokens, completion_tokens, reasoning_tokens, cost"
               " FROM usage_daily WHERE day >= ?")
        args: tuple[Any, ...] = (since_day,)
        if key_hash is not None:
            sql, args = sql + " AND key_hash = ?", (since_day, key_hash)
        rows = self._all(sql + " ORDER BY day DESC, model, provider", args)
        return [ActivityRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], Decimal(r[8])) for r in rows]

    def top_apps(self, model: str | None, since_day: str, limit: int = 20, *, viewer: str | None = None,
                 admin: bool = False, category: str | None = None) -> list[AppRow]:
        args: list[Any] = []
        if admin:
            sql = "SELECT app, MAX(title), MAX(referer), SUM(requests), SUM(tokens) FROM app_usage_daily WHERE day >= ?"
        else:  # the viewer's own apps in full; everyone else's by title only, and only when they set one
            sql = ("SELECT CASE WHEN key_hash = ? THEN app ELSE title END AS shown, MAX(title),"
                   " MAX(CASE WHEN key_hash = ? THEN referer END), SUM(requests), SUM(tokens) FROM app_usage_daily"
                   " WHERE day >= ? AND (key_hash = ? OR title IS NOT NULL)")
            args += [viewer, viewer]
        args.append(since_day)
        if not admin:
            args.append(viewer)
        if model:
            sql += " AND model = ?"
            args.append(model)
        if category:
            sql += " AND app IN (SELECT app FROM app_categories WHERE category = ?)"
            args.append(category)
        sql += " GROUP BY 1 ORDER BY SUM(tokens) DESC, 1 LIMIT ?"
        args.append(limit)
        return [AppRow(r[0], r[1], r[2], int(r[3]), int(r[4])) for r in self._all(sql, tuple(args))]

    # presets

    def save_preset(self, slug: str, name: str, dialect: str, config: dict[str, Any], system_prompt: str | None,
                    now: float) -> PresetRecord:
        with self._tx() as db:
            current = db.execute("SELECT MAX(version), MIN(created_at) FROM presets WHERE slug = ?", (slug,)).fetchone()
            version = (current[0] or 0) + 1
            created = current[1] if current[1] is not None else now
            db.execute(f"INSERT INTO presets ({PRESET_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)",
                       (slug, version, name, dialect, orjson.dumps(config).decode(), system_prompt, created, now))
            db.execute("UPDATE presets SET archived = 0, updated_at = ? WHERE slug = ?", (now, slug))
        return PresetRecord(slug, version, name, dialect, config, system_prompt, False, created, now)

    def preset_versions(self, slug: str) -> list[PresetRecord]:
        return [_preset(r) for r in self._all(
            f"SELECT {PRESET_COLUMNS} FROM presets WHERE slug = ? ORDER BY version DESC", (slug,))]

    def presets_changed_since(self, since: float) -> list[PresetRecord]:
        rows = self._all(f"SELECT {PRESET_COLUMNS} FROM presets p WHERE updated_at > ? AND version = "
                         "(SELECT MAX(version) FROM presets q WHERE q.slug = p.slug) ORDER BY slug", (since,))
        return [_preset(r) for r in rows]

    def archive_preset(self, slug: str, now: float) -> bool:
        with self._tx() as db:
            return db.execute("UPDATE presets SET archived = 1, updated_at = ? WHERE slug = ? AND archived = 0",
                              (now, slug)).rowcount > 0

    # app categories

    def add_app_categories(self, pairs: Sequence[tuple[str, str]], now: float) -> None:
        if pairs:
            with self._tx() as db:
                db.executemany("INSERT INTO app_categories (app, category, updated_at) VALUES (?, ?, ?)"
                               " ON CONFLICT (app, category) DO UPDATE SET updated_at = excluded.updated_at",
                               [(a, c, now) for a, c in pairs])

    def models_by_category(self, category: str, since_day: str, limit: int = 100) -> list[tuple[str, int]]:
        rows = self._all("SELECT model, SUM(tokens) FROM app_usage_daily WHERE day >= ? AND app IN"
                         " (SELECT app FROM app_categories WHERE category = ?) GROUP BY model"
                         " ORDER BY SUM(tokens) DESC, model LIMIT ?", (since_day, category, limit))
        return [(r[0], int(r[1])) for r in rows]

    # BYOK

    def save_byok(self, record: ByokRecord) -> None:
        with self._tx() as db:
            db.execute(f"INSERT INTO byok_keys ({BYOK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                       " ON CONFLICT (id) DO UPDATE SET account_id = excluded.account_id, provider = excluded.provider, name = excluded.name, label = excluded.label, secret = excluded.secret, is_fallback = excluded.is_fallback, is_required = excluded.is_required, disabled = excluded.disabled, allowed_models = excluded.allowed_models, allowed_keys = excluded.allowed_keys, sort_order = excluded.sort_order, deleted = excluded.deleted, updated_at = excluded.updated_at", _byok_row(record))

    def get_byok(self, id: str) -> ByokRecord | None:
        rows = self._all(f"SELECT {BYOK_COLUMNS} FROM byok_keys WHERE id = ? AND deleted = 0", (id,))
        return _byok(rows[0]) if rows else None

    def list_byok(self, account_id: str | None = None) -> list[ByokRecord]:
        where, args = ("AND account_id = ?", (account_id,)) if account_id is not None else ("", ())
        return [_byok(r) for r in self._all(f"SELECT {BYOK_COLUMNS} FROM byok_keys WHERE deleted = 0 {where}"
                                            " ORDER BY account_id, provider, sort_order, created_at, id", args)]

    def byok_changed_since(self, since: float) -> list[ByokRecord]:
        return [_byok(r) for r in self._all(f"SELECT {BYOK_COLUMNS} FROM byok_keys WHERE updated_at > ?"
                                            " ORDER BY updated_at", (since,))]

    def delete_byok(self, id: str, now: float) -> bool:
        with self._tx() as db:
            return db.execute("UPDATE byok_keys SET deleted = 1, secret = '', updated_at = ? WHERE id = ? AND deleted = 0",
                              (now, id)).rowcount > 0

    def set_byok_settings(self, account_id: str, include_in_limit: bool, now: float) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO byok_accounts (account_id, include_byok_in_limit, updated_at) VALUES (?, ?, ?)"
                       " ON CONFLICT (account_id) DO UPDATE SET include_byok_in_limit = excluded.include_byok_in_limit,"
                       " updated_at = excluded.updated_at", (account_id, include_in_limit, now))

    def byok_settings_changed_since(self, since: float) -> list[tuple[str, bool, float]]:
        return [(r[0], bool(r[1]), float(r[2])) for r in self._all(
            "SELECT account_id, include_byok_in_limit, updated_at FROM byok_accounts WHERE updated_at > ?", (since,))]

    # Responses API state

    def save_responses(self, rows: list[ResponseRow], quota: ResponseQuota, now: float) -> None:
        with self._tx() as db:
            db.executemany(
                "INSERT OR REPLACE INTO stored_responses (id, key_hash, model, messages, response, size, stored_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(r.id, r.key_hash, r.model, r.messages, r.response, r.size, r.stored_at) for r in rows])
            db.execute("DELETE FROM stored_responses WHERE stored_at <= ?", (now - quota.ttl,))
            drop: list[str] = []
            for key_hash in {r.key_hash for r in rows}:
                held = db.execute("SELECT id, size FROM stored_responses WHERE key_hash = ? ORDER BY stored_at DESC",
                                  (key_hash,)).fetchall()
                drop += past_quota(held, quota.per_key, quota.per_key_bytes)
            count, size = db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM stored_responses").fetchone()
            if count > quota.total or size > quota.total_bytes:
                gone = set(drop)
                every = db.execute("SELECT id, key_hash, size FROM stored_responses ORDER BY stored_at").fetchall()
                drop += past_total((r for r in every if r[0] not in gone), quota.total, quota.total_bytes)
            db.executemany("DELETE FROM stored_responses WHERE id = ?", [(i,) for i in set(drop)])

    def load_response(self, id: str) -> ResponseRow | None:
        rows = self._all("SELECT id, key_hash, model, messages, response, size, stored_at FROM stored_responses"
                         " WHERE id = ?", (id,))
        return ResponseRow(*rows[0]) if rows else None

    def delete_response(self, id: str) -> bool:
        with self._tx() as db:
            return db.execute("DELETE FROM stored_responses WHERE id = ?", (id,)).rowcount > 0

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _ensure_account(db: sqlite3.Connection, account_id: str, now: float) -> None:
    db.execute("INSERT OR IGNORE INTO accounts (id, credits_usd, usage_usd, created_at, updated_at)"
               " VALUES (?, '0', '0', ?, ?)", (account_id, now, now))


def _merge_rollups(db: sqlite3.Connection, r: Rollup) -> None:
    for (day, key_hash, model, provider), u in r.usage.items():
        row = db.execute("SELECT requests, prompt_tokens, completion_tokens, reasoning_tokens, cost FROM usage_daily"
                         " WHERE day = ? AND key_hash = ? AND model = ? AND provider = ?",
                         (day, key_hash, model, provider)).fetchone()
        if row is None:
            db.execute("INSERT INTO usage_daily VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (day, key_hash, model, provider, u.requests, u.prompt_tokens, u.completion_tokens,
                        u.reasoning_tokens, str(u.cost)))
        else:
            db.execute("UPDATE usage_daily SET requests = ?, prompt_tokens = ?, completion_tokens = ?,"
                       " reasoning_tokens = ?, cost = ? WHERE day = ? AND key_hash = ? AND model = ? AND provider = ?",
                       (row[0] + u.requests, row[1] + u.prompt_tokens, row[2] + u.completion_tokens,
                        row[3] + u.reasoning_tokens, str(Decimal(row[4]) + u.cost), day, key_hash, model, provider))
    for (day, model, key_hash, app), a in r.apps.items():
        db.execute("INSERT INTO app_usage_daily (day, model, key_hash, app, title, referer, requests, tokens)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (day, model, key_hash, app) DO UPDATE"
                   " SET requests = requests + excluded.requests, tokens = tokens + excluded.tokens,"
                   " title = COALESCE(excluded.title, title), referer = COALESCE(excluded.referer, referer)",
                   (day, model, key_hash, app, a.title, a.referer, a.requests, a.tokens))


def _text(d: Decimal | None) -> str | None:
    return None if d is None else str(d)


def _key(row: tuple[Any, ...]) -> KeyRecord:
    return KeyRecord(
        hash=row[0], name=row[1], label=row[2], limit=None if row[3] is None else Decimal(row[3]),
        usage=Decimal(row[4]), disabled=bool(row[5]), created_at=row[6], updated_at=row[7], account_id=row[8],
        limit_reset=row[9], rate_limit_rpm=row[10], rate_limit_tpm=row[11], deleted=bool(row[12]),
    )


def _account(row: tuple[Any, ...]) -> AccountRecord:
    return AccountRecord(row[0], Decimal(row[1]), Decimal(row[2]), row[3], row[4])


def gen_from_row(row: tuple[Any, ...] | list[Any]) -> GenerationRecord:
    values: dict[str, Any] = dict(zip(GEN_COLUMNS, row, strict=True))
    values["streamed"] = bool(values["streamed"])
    values["usage_estimated"] = bool(values["usage_estimated"])
    values["cost"] = Decimal(values["cost"])
    attempts = values["attempts"]
    values["attempts"] = orjson.loads(attempts) if isinstance(attempts, str | bytes) else attempts
    pipeline = values["pipeline"]
    values["pipeline"] = orjson.loads(pipeline) if isinstance(pipeline, str | bytes) else pipeline
    return GenerationRecord(**values)


_gen_values = attrgetter(*GEN_COLUMNS)
_COST, _ATTEMPTS, _PIPELINE = GEN_COLUMNS.index("cost"), GEN_COLUMNS.index("attempts"), GEN_COLUMNS.index("pipeline")


def _gen_row(r: GenerationRecord) -> tuple[Any, ...]:
    values = list(_gen_values(r))  # bools bind as 0/1 already
    values[_COST] = str(values[_COST])
    values[_ATTEMPTS] = orjson.dumps(values[_ATTEMPTS]).decode()
    values[_PIPELINE] = orjson.dumps(values[_PIPELINE]).decode()
    return tuple(values)
