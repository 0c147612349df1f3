"""`turnout migrate`: applies what the database lacks, reports with --check, and a database migrated
by a newer turnout is refused with a clear message (by migrate, by serve, by every command)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from turnout.store.sqlite import migrations

HEAD = migrations()[-1][0]
PG_HEAD = migrations("postgres")[-1][0]


def turnout(data_dir: Path, *args: str, database_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TURNOUT_DATA_DIR": str(data_dir), "TURNOUT_CATALOG_DATASET": "0"}
    env.pop("TURNOUT_CONFIG", None)
    env.pop("TURNOUT_DATABASE_URL", None)
    if database_url:
        env["TURNOUT_DATABASE_URL"] = database_url
    return subprocess.run([sys.executable, "-m", "turnout", *args], env=env, capture_output=True, text=True, timeout=60)


def test_migrate_applies_reports_and_is_idempotent(tmp_path: Path) -> None:
    check = turnout(tmp_path, "migrate", "--check")
    assert check.returncode == 1 and f"schema version 0, this turnout's is {HEAD}" in check.stdout
    done = turnout(tmp_path, "migrate")
    assert done.returncode == 0 and f"migrated from schema version 0 to {HEAD}" in done.stdout, done.stderr
    assert turnout(tmp_path, "migrate", "--check").returncode == 0
    again = turnout(tmp_path, "migrate")
    assert again.returncode == 0 and "up to date" in again.stdout
    tables = {r[0] for r in sqlite3.connect(tmp_path / "turnout.db").execute("SELECT name FROM sqlite_master")}
    assert "stored_responses" in tables


def test_a_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    assert turnout(tmp_path, "migrate").returncode == 0
    with sqlite3.connect(tmp_path / "turnout.db") as db:
        db.execute("INSERT INTO schema_version VALUES (?)", (HEAD + 5,))
    for args in (("migrate",), ("migrate", "--check"), ("keys", "list"), ("serve", "--port", "0")):
        out = turnout(tmp_path, *args)
        assert out.returncode != 0, (args, out.stdout)
        assert f"schema is at version {HEAD + 5}" in out.stderr and "Upgrade turnout" in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr


@pytest.mark.postgres
def test_migrate_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    check = turnout(tmp_path, "migrate", "--check", database_url=pg_url)
    assert check.returncode == 1 and "schema version 0" in check.stdout, check.stderr
    done = turnout(tmp_path, "migrate", database_url=pg_url)
    assert done.returncode == 0 and f"to {PG_HEAD}" in done.stdout, done.stderr
    assert turnout(tmp_path, "migrate", "--check", database_url=pg_url).returncode == 0


def test_an_old_replica_keeps_working_after_the_new_migration(tmp_path: Path) -> None:
    """Additive: a database at the previous version, migrated to this one, still serves the previous
    version's statements (its tables and columns are all still there)."""
    with sqlite3.connect(tmp_path / "turnout.db") as db:
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for version, sql in migrations()[:-1]:
            db.executescript(sql)
            db.execute("INSERT INTO schema_version VALUES (?)", (version,))
        before = {r[0]: r[1] for r in db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'")}
    assert turnout(tmp_path, "migrate").returncode == 0
    with sqlite3.connect(tmp_path / "turnout.db") as db:
        after = {r[0]: r[1] for r in db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'")}
    assert all(after.get(name) == sql for name, sql in before.items() if name != "sqlite_sequence")
