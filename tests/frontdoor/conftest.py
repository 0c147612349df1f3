"""The front door's tests: raw HTTP over loopback sockets (so a test controls every byte and its
timing), gateways in a thread for the app's limits, and real `turnout serve` processes for the
connection guard and the memory checks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml

from tests.conftest import Upstream, create_key, gateway_config
from tests.fakes.server import serve
from turnout.app import create_app
from turnout.settings import Settings, load_settings

ADMIN = "sk-tn-admin-v1-front-door-admin-key-0123456789"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


def connect(port: int, timeout: float = 10) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.settimeout(timeout)
    return s


def read_answer(s: socket.socket) -> Answer:
    """One HTTP/1.1 answer with a Content-Length (every answer these tests expect has one)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before an answer: {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    return Answer(status, headers, rest[:length])


def head(method: str, path: str, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def closed_within(s: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Read until the server closes (True) or `seconds` pass (False); returns what was read."""
    s.settimeout(0.2)
    got = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return True, got
        if not chunk:
            return True, got
        got += chunk
    return False, got


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


@dataclass
class Served:
    url: str
    settings: Settings
    key: str
    app: Any = None

    def budget_used(self) -> int:
        """Bytes of the body budget held right now (api/body.py)."""
        return int(self.app.state.runtime.bodies.budget.used)

    @property
    def port(self) -> int:
        return port_of(self.url)


@contextmanager
def gateway_in_thread(upstream: Upstream, data_dir: Path, **overrides: Any) -> Iterator[Served]:
    """The app (not its HTTP protocol) with `overrides`, served by uvicorn in a thread."""
    config = gateway_config(upstream.url)
    settings = load_settings(None, env={}, data_dir=data_dir, admin_key=ADMIN, providers=config["providers"],
                             models=config["models"], **overrides)
    key = create_key(settings, "front-door")
    app = create_app(settings)
    with serve(app) as url:
        yield Served(url, settings, key, app)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Process:
    """A real `turnout serve` (its own HTTP protocol), with settings from TURNOUT_* variables."""

    upstream: Upstream
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)  # added to the test catalog
    port: int = 0
    key: str = ""
    proc: subprocess.Popen[str] | None = None

    def start(self) -> Process:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "turnout.yaml"
        catalog = gateway_config(self.upstream.url)
        catalog["models"] = {**catalog["models"], **self.models}  # type: ignore[dict-item]
        config.write_text(yaml.safe_dump(catalog))
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("TURNOUT_")}
        # The local model's weights (~360 MB) are not what these tests measure.
        env.update(TURNOUT_DATA_DIR=str(self.data_dir), TURNOUT_ADMIN_KEY=ADMIN, TURNOUT_PRELOAD_LOCAL="0", **self.env)
        self.key = create_key(load_settings(config, env=env), "front-door")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "turnout", "serve", "--config", str(config), "--port", str(self.port)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"turnout serve did not start: {self.proc.communicate()[0]}")
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> str:
        assert self.proc is not None
        self.proc.terminate()
        try:
            out, _ = self.proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return out or ""

    def status(self, field_name: str) -> int:
        """A /proc/<pid>/status figure in kB (VmHWM: the peak resident set so far)."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
        raise KeyError(field_name)

    def open_fds(self) -> int:
        assert self.proc is not None
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))


@contextmanager
def running(upstream: Upstream, data_dir: Path, models: dict[str, Any] | None = None, **env: str) -> Iterator[Process]:
    p = Process(upstream, data_dir, env, models or {}).start()
    try:
        yield p
    finally:
        p.stop()
