"""When `turnout serve` loads the built-in local model: at start-up only when it is the only chat
model that can answer, else on its first request; the start-up output says which.

Loaded, the model holds ~350 MB; `turnout serve` once loaded it always, so a gateway with provider
keys idled at ~395 MB instead of ~42 MB. The end-to-end tests run a real `turnout serve` and read
its resident memory from /proc.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from turnout.core.catalog.catalog import build_catalog
from turnout.core.routing.availability import Availability
from turnout.runtime import local_model_plan

from .conftest import needs_chat

LOADED_MIB = 250  # measured: ~42 MiB idle without the model, ~396 MiB with it


class _Local:
    dialect: ClassVar[str] = "local"

    def __init__(self, ok: bool = True) -> None:
        self.ok = ok

    def available(self, upstream_model: str | None = None) -> tuple[bool, str | None]:
        return (True, None) if self.ok else (False, "the local model needs xllamacpp; install it with: pip x")


def judge(local_ok: bool = True) -> Availability:
    return Availability(("openai", "zai", "anthropic", "gemini"), {"local": _Local(local_ok)})  # type: ignore[dict-item]


def test_plan_loads_at_start_up_only_when_nothing_else_can_answer() -> None:
    alone = build_catalog(None, None, env={})
    preload, line = local_model_plan(None, alone, judge())
    assert preload is True and "at start-up" in line and "only chat model" in line

    keyed = build_catalog(None, None, env={"ZAI_API_KEY": "k"})
    preload, line = local_model_plan(None, keyed, judge())
    assert preload is False and "on first use" in line and "z-ai/glm-4.6" in line

    # An embeddings model does not answer chat: a configured embeddings provider changes nothing.
    emb = build_catalog(
        {"e": {"dialect": "openai", "base_url": "http://127.0.0.1:1/v1", "api_key": "k"}},
        {"e/embed": {"kind": "embedding", "context_length": 512,
                     "endpoints": [{"provider": "e", "model": "m", "pricing": {"prompt": "0", "completion": "0"}}]}},
        env={},
    )
    assert local_model_plan(None, emb, judge())[0] is True

    # The setting decides outright; a model that cannot run is never loaded.
    assert local_model_plan(True, keyed, judge())[0] is True
    assert local_model_plan(False, alone, judge())[0] is False
    preload, line = local_model_plan(None, alone, judge(local_ok=False))
    assert preload is False and "unavailable" in line and "pip x" in line


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


class Serve:
    """A real `turnout serve` with the built-in catalog only (and maybe a provider key)."""

    def __init__(self, data: Path, extra_env: dict[str, str]) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TURNOUT_", "ZAI_", "EMPIRIOLABS_"))}
        env.update(TURNOUT_DATA_DIR=str(data), **extra_env)
        created = subprocess.run([sys.executable, "-m", "turnout", "keys", "create", "--name", "t"], env=env,
                                 capture_output=True, text=True, timeout=60)
        assert created.returncode == 0, created.stderr
        self.key = created.stdout.strip().splitlines()[-1]
        self.url = f"http://127.0.0.1:{free_port()}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "turnout", "serve", "--port", self.url.rsplit(":", 1)[1]],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert self.proc.poll() is None, self.proc.stdout.read() if self.proc.stdout else ""
            assert time.monotonic() < deadline, "turnout serve did not come up"
            time.sleep(0.1)
        assert self.proc.stdout is not None
        # Printed before the server binds, so already in the pipe; read without blocking.
        fd = self.proc.stdout.fileno()
        os.set_blocking(fd, False)
        try:
            self.banner = os.read(fd, 1 << 16).decode()
        except BlockingIOError:
            self.banner = ""
        finally:
            os.set_blocking(fd, True)

    def rss_settled(self, seconds: float = 3.0) -> float:
        time.sleep(seconds)
        return rss_mib(self.proc.pid)

    def chat(self) -> dict[str, Any]:
        r = httpx.post(f"{self.url}/api/v1/chat/completions", headers={"authorization": f"Bearer {self.key}"},
                       json={"model": "google/gemma-3-270m", "max_tokens": 8, "temperature": 0,
                             "messages": [{"role": "user", "content": "What is the capital of France?"}]},
                       timeout=120)
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    servers: list[Serve] = []

    def start(**extra_env: str) -> Serve:
        servers.append(Serve(tmp_path / "data", extra_env))
        return servers[-1]

    yield start
    for s in servers:
        s.stop()


@needs_chat
@pytest.mark.slow
def test_with_a_provider_key_the_model_loads_on_first_use(serve: Any) -> None:
    server = serve(ZAI_API_KEY="sk-not-used")
    assert "loads on first use" in server.banner, server.banner
    idle = server.rss_settled()
    assert idle < LOADED_MIB, f"idle at {idle:.0f} MiB: the model was loaded at start-up"
    assert server.chat()["choices"][0]["message"]["content"]
    assert rss_mib(server.proc.pid) > LOADED_MIB  # the first request loaded it


@needs_chat
@pytest.mark.slow
def test_without_another_chat_model_it_loads_at_start_up(serve: Any) -> None:
    server = serve()
    assert "loads at start-up" in server.banner, server.banner
    deadline = time.monotonic() + 90  # the load runs in the background after the server binds
    while rss_mib(server.proc.pid) < LOADED_MIB:
        assert time.monotonic() < deadline, "the model never loaded without a request"
        time.sleep(0.5)
    assert server.chat()["choices"][0]["message"]["content"]
