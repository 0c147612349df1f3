"""SIGKILL in the middle of traffic loses no usage record and no ledger entry.

`turnout serve` runs as a real subprocess against the fake upstream. Concurrent requests are in
every state when it is killed: answered, streaming, waiting on a slow or hanging upstream. After a
restart, every answered request has its record, every request that reached the upstream has one
(the unfinished ones settled as interrupted, charged their estimated prompt), and the ledger, the
key's usage and the account's usage all equal the sum of the records' costs.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import yaml

from tests.accounts.conftest import ADMIN
from tests.conftest import Upstream, gateway_config
from tests.unit.store.backends import ran
from turnout.runtime import open_store
from turnout.settings import load_settings

HELD = 15


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Serve:
    def __init__(self, config: Path, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TURNOUT_")}
        env.update(TURNOUT_DATA_DIR=str(data_dir), TURNOUT_ADMIN_KEY=ADMIN)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "turnout", "serve", "--config", str(config), "--port", str(self.port)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"turnout serve did not start: {self.proc.stdout.read() if self.proc.stdout else ''}")
            time.sleep(0.05)

    def stop(self, sig: int) -> str:
        self.proc.send_signal(sig)
        try:
            out, _ = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return out or ""


async def traffic(url: str, key: str, marker: str, upstream: Upstream, kill: Callable[[], None]
                  ) -> tuple[list[httpx.Response], int]:
    """Answered requests, then requests held upstream (slow and hanging), then more answered ones;
    the kill lands right after the last answer, while the held ones are still in flight."""
    async with httpx.AsyncClient(timeout=httpx.Timeout(60), limits=httpx.Limits(max_connections=100)) as client:
        async def one(i: int, model: str) -> httpx.Response:
            body = {"model": model, "messages": [{"role": "user", "content": f"{marker} {i} " + "words " * 10}],
                    "max_tokens": 30, "stream": i % 2 == 0, "delay": 30.0}
            return await client.post(f"{url}/api/v1/chat/completions", json=body,
                                     headers={"authorization": f"Bearer {key}", "x-title": "Crash Test"})

        first = await asyncio.gather(*(one(i, "test/echo") for i in range(10)))
        held = [asyncio.create_task(one(100 + i, "test/slow" if i % 3 else "test/hang")) for i in range(HELD)]
        deadline = time.monotonic() + 20
        while sum(1 for r in upstream.state.requests if marker in str(r["body"].get("messages"))) < 10 + HELD:
            assert time.monotonic() < deadline, "the held requests never reached the upstream"
            await asyncio.sleep(0.02)
        last = await asyncio.gather(*(one(200 + i, "test/echo") for i in range(10)))
        kill()
        await asyncio.gather(*held, return_exceptions=True)
    return [*first, *last], 10 + HELD + 10


@pytest.mark.slow
def test_sigkill_mid_traffic_loses_nothing(upstream: Upstream, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    config = tmp_path / "turnout.yaml"
    config.write_text(yaml.safe_dump(gateway_config(upstream.url)))
    marker = f"crash-{uuid.uuid4().hex[:8]}"
    server = Serve(config, data_dir)
    ran("sqlite")
    try:
        created = httpx.post(f"{server.url}/api/v1/keys", json={"name": "victim", "limit": 5},
                             headers={"authorization": f"Bearer {ADMIN}"}, timeout=10).json()
        key, key_hash = created["key"], created["data"]["hash"]

        answered, fired = asyncio.run(traffic(server.url, key, marker, upstream,
                                              lambda: server.proc.send_signal(signal.SIGKILL)))
        server.proc.wait(10)
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
    assert [r.status_code for r in answered] == [200] * 20
    answered_ids = {r.headers["x-generation-id"] for r in answered}
    assert len(answered_ids) == 20
    journals = list((data_dir / "journal").iterdir())
    assert journals and any(p.glob("*.log") for p in journals)  # the dead process left its journal

    restarted = Serve(config, data_dir)  # recovery runs before it serves
    try:
        key_view = httpx.get(f"{restarted.url}/api/v1/key", headers={"authorization": f"Bearer {key}"}, timeout=10).json()["data"]
    finally:
        out = restarted.stop(signal.SIGINT)
    assert "recovered journal" in out and f"{HELD} interrupted requests settled" in out, out

    settings = load_settings(None, env={}, data_dir=data_dir)
    store = open_store(settings)
    try:
        records = [store.get_generation(i) for i in answered_ids]
        assert all(r is not None and r.status == "ok" for r in records), "an answered request lost its record"
        db = store._db  # type: ignore[attr-defined]
        rows = db.execute("SELECT id, status, cost, error_message FROM generations WHERE key_hash = ?", (key_hash,)).fetchall()
        interrupted = [r for r in rows if (r[3] or "").startswith("interrupted")]
        assert len(rows) == fired  # every request is accounted, once
        assert len(interrupted) == HELD  # those in flight at the kill are settled as interrupted
        assert {r[0] for r in rows} - {r[0] for r in interrupted} == answered_ids
        assert all(Decimal(r[2]) > 0 for r in interrupted)  # charged their estimated prompt
        total = sum((Decimal(r[2]) for r in rows), Decimal(0))
        k = store.get_key(key_hash)
        assert k is not None and k.usage == total
        _credits, usage = store.ledger_sums("default")
        account = store.get_account("default")
        assert account is not None and usage == account.usage == total
        debits = db.execute("SELECT COUNT(*) FROM ledger WHERE kind = 'usage' AND key_hash = ?", (key_hash,)).fetchone()[0]
        assert debits == len(rows)  # one ledger entry per record, none twice
        assert Decimal(str(key_view["usage"])) == total and key_view["reserved"] == 0
    finally:
        store.close()
    left = [p for p in (data_dir / "journal").iterdir()] if (data_dir / "journal").exists() else []
    assert left == [], f"a clean shutdown leaves no journal: {left}"
