"""SIGTERM on a real `turnout serve` during 50 running streams.

Half the streams wait on a slow upstream and finish within the grace; the other half drip words
forever and are ended by the grace with an in-band error event. Every stream either completes or
ends with an error event, every one has exactly one generation record, and the process exits 0.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import yaml

from tests.accounts.conftest import ADMIN
from tests.accounts.test_crash import free_port
from tests.conftest import Upstream, create_key, gateway_config
from turnout.settings import load_settings

GRACE = 3.0
STREAMS = 50
HELD = 5  # non-streamed requests waiting on an upstream that never answers


def start(config: Path, data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TURNOUT_", "OTEL_"))}
    env.update(TURNOUT_DATA_DIR=str(data_dir), TURNOUT_ADMIN_KEY=ADMIN, TURNOUT_SHUTDOWN_GRACE=str(GRACE),
               TURNOUT_CATALOG_DATASET="0", TURNOUT_KEEPALIVE_INTERVAL="0.5")
    proc = subprocess.Popen([sys.executable, "-m", "turnout", "serve", "--config", str(config), "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"turnout serve did not start: {proc.stdout.read() if proc.stdout else ''}")
        time.sleep(0.05)


def test_sigterm_drains_running_streams(upstream: Upstream, tmp_path: Path) -> None:
    config = tmp_path / "turnout.yaml"
    config.write_text(yaml.safe_dump(gateway_config(upstream.url)))
    data_dir = tmp_path / "data"
    key = create_key(load_settings(config, env={}, data_dir=data_dir), "drain")
    proc, url = start(config, data_dir)
    seen_before = len(upstream.state.requests)

    async def one(client: httpx.AsyncClient, i: int) -> tuple[str, str]:
        model = "test/slow" if i % 2 == 0 else "test/drip"
        body = {"model": model, "stream": True, "delay": 1.5, "messages": [{"role": "user", "content": f"n{i}"}]}
        async with client.stream("POST", f"{url}/api/v1/chat/completions", json=body,
                                 headers={"authorization": f"Bearer {key}"}) as r:
            assert r.status_code == 200, await r.aread()
            text = (await r.aread()).decode()
            return r.headers["x-generation-id"], text

    async def waiting(client: httpx.AsyncClient) -> httpx.Response:
        """A non-streamed request whose upstream never answers: ended by the grace with a 503."""
        return await client.post(f"{url}/api/v1/chat/completions", headers={"authorization": f"Bearer {key}"},
                                 json={"model": "test/hang", "messages": [{"role": "user", "content": "wait"}]})

    async def run() -> tuple[list[tuple[str, str]], list[httpx.Response], float]:
        async with httpx.AsyncClient(timeout=httpx.Timeout(60), limits=httpx.Limits(max_connections=STREAMS + HELD)) as client:
            tasks = [asyncio.create_task(one(client, i)) for i in range(STREAMS)]
            held = [asyncio.create_task(waiting(client)) for _ in range(HELD)]
            deadline = time.monotonic() + 30
            while len(upstream.state.requests) - seen_before < STREAMS + HELD:  # every request is at the upstream
                assert time.monotonic() < deadline, "the requests did not all start"
                await asyncio.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
            sent = time.monotonic()
            results = await asyncio.gather(*tasks)
            answers = await asyncio.gather(*held)
            return results, answers, time.monotonic() - sent

    try:
        results, answers, took = asyncio.run(run())
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert took < GRACE + 5  # the drip streams were ended by the grace, not left to run

    completed = errored = 0
    for _gen_id, text in results:
        events = [line.removeprefix("data: ") for line in text.splitlines() if line.startswith("data: ")]
        assert events, text
        if events[-1] == "[DONE]" and '"finish_reason":"stop"' in text.replace(" ", ""):
            completed += 1
        else:
            last = orjson.loads(events[-1])
            assert "error" in last, text[-500:]
            assert "shutting down" in last["error"]["message"]
            errored += 1
    assert completed == STREAMS // 2 and errored == STREAMS // 2

    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert "shutting down" in answer.json()["error"]["message"]

    db = sqlite3.connect(data_dir / "turnout.db")
    try:
        for gen_id, _ in results:
            rows = db.execute("SELECT status FROM generations WHERE id = ?", (gen_id,)).fetchall()
            assert len(rows) == 1, (gen_id, rows)
        statuses = [db.execute("SELECT status FROM generations WHERE id = ?", (g,)).fetchone()[0] for g, _ in results]
        for answer in answers:
            rows = db.execute("SELECT status, error_code FROM generations WHERE id = ?",
                              (answer.headers["x-generation-id"],)).fetchall()
            assert rows == [("error", 503)]
    finally:
        db.close()
    assert statuses.count("ok") == STREAMS // 2 and statuses.count("error") == STREAMS // 2
    assert "shutdown grace" in out and "pending generation records written" in out
