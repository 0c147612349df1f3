"""A key made while the server runs works on its first request; unknown keys cannot flood the store.

The server's key cache refreshes every half second; a key it does not know yet is looked up in the
store by its hash on first use (bounded: a negative cache and a per-second cap)."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.accounts.conftest import ADMIN, settings_for
from tests.conftest import Upstream
from tests.fakes.server import serve
from turnout.app import create_app
from turnout.core.money.keys import KEY_PREFIX, MISS_LOOKUPS_PER_SECOND
from turnout.runtime import Runtime
from turnout.settings import Settings

CHAT = {"model": "test/echo", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}


@dataclass
class Live:
    url: str
    settings: Settings
    runtime: Runtime

    def chat(self, key: str) -> httpx.Response:
        return httpx.post(f"{self.url}/api/v1/chat/completions", json=CHAT, timeout=30,
                          headers={"authorization": f"Bearer {key}"})


@pytest.fixture
def live(upstream: Upstream, tmp_path: Path) -> Iterator[Live]:
    settings = settings_for(upstream, tmp_path / "data")
    app = create_app(settings)
    with serve(app) as url:
        yield Live(url, settings, app.state.runtime)


def cli(data_dir: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TURNOUT_")}
    env["TURNOUT_DATA_DIR"] = str(data_dir)
    out = subprocess.run([sys.executable, "-m", "turnout", *args], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_a_key_made_by_the_cli_works_on_its_very_first_request(live: Live) -> None:
    for i in range(20):
        key = cli(live.settings.data_dir, "keys", "create", "--name", f"fresh-{i}").strip().splitlines()[-1]
        r = live.chat(key)  # no retry: the first request must pass
        assert r.status_code == 200, (i, r.text)
        assert live.chat(key).status_code == 200


def test_a_key_made_by_post_keys_works_everywhere_at_once(live: Live) -> None:
    for i in range(5):
        r = httpx.post(f"{live.url}/api/v1/keys", json={"name": f"api-{i}"}, timeout=30,
                       headers={"authorization": f"Bearer {ADMIN}"})
        key = r.json()["key"]
        assert live.chat(key).status_code == 200
        got = httpx.get(f"{live.url}/api/v1/key", headers={"authorization": f"Bearer {key}"}, timeout=30)
        assert got.status_code == 200 and got.json()["data"]["name"] == f"api-{i}"


def test_a_new_user_key_on_an_admin_route_is_forbidden_not_unknown(live: Live) -> None:
    key = cli(live.settings.data_dir, "keys", "create", "--name", "not-admin").strip().splitlines()[-1]
    r = httpx.get(f"{live.url}/api/v1/keys", headers={"authorization": f"Bearer {key}"}, timeout=30)
    assert r.status_code == 403, r.text


def test_a_flood_of_bad_keys_is_capped_before_the_store(live: Live) -> None:
    keys = live.runtime.keys
    good = cli(live.settings.data_dir, "keys", "create", "--name", "good").strip().splitlines()[-1]
    assert live.chat(good).status_code == 200

    host, port = live.url.removeprefix("http://").split(":")

    async def flood(tokens: list[str], connections: int = 16) -> list[int]:
        """GET /key with each token, over a few keep-alive connections (a lean client: the server
        runs in this process, and httpx would spend most of the time here)."""
        statuses: list[int] = []
        queue = list(reversed(tokens))

        async def worker() -> None:
            reader, writer = await asyncio.open_connection(host, int(port))
            try:
                while queue:
                    token = queue.pop()
                    writer.write(f"GET /api/v1/key HTTP/1.1\r\nhost: {host}\r\n"
                                 f"authorization: Bearer {token}\r\n\r\n".encode())
                    head = await reader.readuntil(b"\r\n\r\n")
                    lines = head.decode("latin-1").split("\r\n")
                    length = next(int(h.split(":", 1)[1]) for h in lines if h.lower().startswith("content-length:"))
                    await reader.readexactly(length)
                    statuses.append(int(lines[0].split()[1]))
            finally:
                writer.close()

        await asyncio.gather(*(worker() for _ in range(connections)))
        return statuses

    before = keys.store_lookups
    started = time.monotonic()
    statuses = asyncio.run(flood([KEY_PREFIX + secrets.token_hex(32) for _ in range(5000)]))
    elapsed = time.monotonic() - started
    looked_up = keys.store_lookups - before
    assert statuses == [401] * 5000
    # a fixed window per second: at most the cap in each second the flood touched
    assert looked_up <= MISS_LOOKUPS_PER_SECOND * (int(elapsed) + 2), (looked_up, elapsed)
    assert looked_up < 5000 // 4

    # the same bad key again and again is answered from the negative cache
    time.sleep(1.1)  # a fresh second of budget
    bad = KEY_PREFIX + secrets.token_hex(32)
    before = keys.store_lookups
    assert asyncio.run(flood([bad] * 300)) == [401] * 300
    assert keys.store_lookups - before == 1

    # the good key never needed the store again
    before = keys.store_lookups
    assert live.chat(good).status_code == 200
    assert keys.store_lookups == before
