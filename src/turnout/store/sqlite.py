"""The default store: one SQLite file in the data directory, WAL mode.

Calls are synchronous and serialized by a lock; core/ calls them from worker threads (batched
accounting writes, key refreshes), and the CLI calls them directly against the same file.
"""

from __future__ import annotations

import sqlite3
import threading
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from turnout.store.base import GenerationRecord, KeyRecord

_GEN_COLUMNS = (
    "id", "created_at", "key_hash", "model", "provider", "upstream_model", "dialect_in", "dialect_out",
    "streamed", "status", "finish_reason", "native_finish_reason", "prompt_tokens", "completion_tokens",
    "cached_tokens", "cache_write_tokens", "reasoning_tokens", "usage_estimated", "cost", "latency_ms",
    "generation_time_ms", "error_code", "error_message", "app_title", "app_referer", "attempts",
)
_KEY_COLUMNS = "hash, name, label, limit_usd, usage_usd, disabled, created_at, updated_at"


def migrations() -> list[tuple[int, str]]:
    folder = resources.files("turnout.store").joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text("utf-8")))
    return sorted(found)


class SQLiteStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")

    def migrate(self) -> None:
        with self._lock:
            self._db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = self._db.execute("SELECT MAX(version) FROM schema_version").fetchone()
            current = row[0] or 0
            for version, sql in migrations():
                if version > current:
                    self._db.execute("BEGIN IMMEDIATE")
                    try:
                        code = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
                        for statement in code.split(";"):
                            if statement.strip():
                                self._db.execute(statement)
                        self._db.execute("INSERT INTO schema_version VALUES (?)", (version,))
                        self._db.execute("COMMIT")
                    except BaseException:
                        self._db.execute("ROLLBACK")
                        raise

    def create_key(self, hash: str, name: str, label: str, limit: Decimal | None, now: float) -> None:
        with self._lock:
            self._db.execute(
                f"INSERT INTO api_keys ({_KEY_COLUMNS}) VALUES (?, ?, ?, ?, '0', 0, ?, ?)",
                (hash, name, label, None if limit is None else str(limit), now, now),
            )

    def list_keys(self) -> list[KeyRecord]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY created_at").fetchall()
        return [_key(r) for r in rows]

    def get_key(self, hash: str) -> KeyRecord | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE hash = ?", (hash,)).fetchone()
        return _key(row) if row else None

    def keys_changed_since(self, since: float) -> list[KeyRecord]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE updated_at > ?", (since,)
            ).fetchall()
        return [_key(r) for r in rows]

    def set_key_disabled(self, name: str, disabled: bool, now: float) -> bool:
        with self._lock:
            cur = self._db.execute(
                "UPDATE api_keys SET disabled = ?, updated_at = ? WHERE name = ?", (int(disabled), now, name)
            )
        return cur.rowcount > 0

    def write_generations(self, records: list[GenerationRecord]) -> None:
        if not records:
            return
        rows = [_gen_row(r) for r in records]
        spent: dict[str, Decimal] = {}
        for r in records:
            if r.key_hash is not None and r.cost:
                spent[r.key_hash] = spent.get(r.key_hash, Decimal(0)) + r.cost
        placeholders = ", ".join("?" for _ in _GEN_COLUMNS)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    f"INSERT OR IGNORE INTO generations ({', '.join(_GEN_COLUMNS)}) VALUES ({placeholders})", rows
                )
                for key_hash, cost in spent.items():
                    row = self._db.execute("SELECT usage_usd FROM api_keys WHERE hash = ?", (key_hash,)).fetchone()
                    if row is not None:
                        total = Decimal(row[0]) + cost
                        self._db.execute("UPDATE api_keys SET usage_usd = ? WHERE hash = ?", (str(total), key_hash))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def get_generation(self, id: str) -> GenerationRecord | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {', '.join(_GEN_COLUMNS)} FROM generations WHERE id = ?", (id,)
            ).fetchone()
        if row is None:
            return None
        values: dict[str, Any] = dict(zip(_GEN_COLUMNS, row, strict=True))
        values["streamed"] = bool(values["streamed"])
        values["usage_estimated"] = bool(values["usage_estimated"])
        values["cost"] = Decimal(values["cost"])
        values["attempts"] = orjson.loads(values["attempts"])
        return GenerationRecord(**values)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _key(row: tuple[Any, ...]) -> KeyRecord:
    return KeyRecord(
        hash=row[0],
        name=row[1],
        label=row[2],
        limit=None if row[3] is None else Decimal(row[3]),
        usage=Decimal(row[4]),
        disabled=bool(row[5]),
        created_at=row[6],
        updated_at=row[7],
    )


def _gen_row(r: GenerationRecord) -> tuple[Any, ...]:
    values = []
    for name in _GEN_COLUMNS:
        v = getattr(r, name)
        if name == "cost":
            v = str(v)
        elif name == "attempts":
            v = orjson.dumps(v).decode()
        elif isinstance(v, bool):
            v = int(v)
        values.append(v)
    return tuple(values)
