"""The `turnout` command as a user runs it: the README's config example verbatim, keys, serve, shutdown."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.openai_upstream import UpstreamState
from tests.fakes.openai_upstream import create_app as create_upstream
from tests.fakes.server import serve

README_CONFIG = """\
providers:
  acme:
    dialect: openai
    base_url: http://127.0.0.1:9001/v1
    api_key: ${ACME_KEY}        # or a literal
models:
  acme/echo:
    name: Acme Echo
    context_length: 8192
    endpoints:
      - provider: acme
        model: upstream-model-name
        pricing: {prompt: "0.000001", completion: "0.000002"}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("TURNOUT_")}
    e.update(TURNOUT_DATA_DIR=str(tmp_path / "data"), ACME_KEY="sk-acme-secret")
    return e


def turnout(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "turnout", *args], env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def acme_upstream() -> Iterator[UpstreamState]:
    state = UpstreamState()
    try:
        with serve(create_upstream(state), port=9001):
            yield state
    except OSError:
        pytest.skip("port 9001 (fixed by the README's config example) is taken on this machine")


class Server:
    def __init__(self, env: dict[str, str], config: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "turnout", "serve", "--config", str(config), "--port", str(self.port)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{self.url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert self.proc.poll() is None, self.proc.stdout.read() if self.proc.stdout else ""
            assert time.monotonic() < deadline, "turnout serve did not come up"
            time.sleep(0.1)

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=20)
        return out


def test_readme_config_keys_serve_and_clean_shutdown(tmp_path: Path, env: dict[str, str], acme_upstream: UpstreamState) -> None:
    config = tmp_path / "turnout.yaml"
    config.write_text(README_CONFIG)
    created = turnout(env, "keys", "create", "--name", "ci", "--config", str(config))
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("sk-tn-v1-")
    assert key not in (Path(env["TURNOUT_DATA_DIR"]) / "turnout.db").read_bytes().decode("latin-1")  # stored hashed

    models = turnout(env, "models", "--config", str(config))
    assert "acme/echo" in models.stdout and "z-ai/glm-4.6" in models.stdout

    server = Server(env, config)
    try:
        headers = {"authorization": f"Bearer {key}"}
        r = httpx.post(f"{server.url}/v1/chat/completions", headers=headers,
                       json={"model": "acme/echo", "messages": [{"role": "user", "content": "ping"}]})
        assert r.status_code == 200, r.text
        assert r.json()["choices"][0]["message"]["content"] == "echo: ping"
        sent = acme_upstream.requests[-1]
        assert sent["body"]["model"] == "upstream-model-name"
        assert sent["headers"]["authorization"] == "Bearer sk-acme-secret"
        gen_id = r.json()["id"]
    finally:
        out = server.stop()
    assert "sk-acme-secret" not in out and key not in out  # secrets never reach the logs

    # A clean shutdown flushed the record: a new process finds it in the database.
    server = Server(env, config)
    try:
        g = httpx.get(f"{server.url}/api/v1/generation", params={"id": gen_id}, headers=headers)
        assert g.status_code == 200 and g.json()["data"]["model"] == "acme/echo"
        k = httpx.get(f"{server.url}/api/v1/key", headers=headers).json()["data"]
        assert k["usage"] > 0 and k["name"] == "ci"

        listed = turnout(env, "keys", "list", "--config", str(config))
        assert "ci" in listed.stdout and key not in listed.stdout
        assert turnout(env, "keys", "disable", "ci", "--config", str(config)).returncode == 0
        time.sleep(1.5)  # the server re-reads changed keys every second
        r = httpx.post(f"{server.url}/api/v1/chat/completions", headers=headers,
                       json={"model": "acme/echo", "messages": [{"role": "user", "content": "ping"}]})
        assert r.status_code == 401 and r.json()["error"]["message"] == "This API key is disabled"
    finally:
        server.stop()


def test_bad_config_fails_fast_with_a_clear_message(tmp_path: Path, env: dict[str, str]) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("models:\n  acme/x:\n    context_length: 10\n    endpoints: [{provider: nowhere}]\n")
    r = turnout(env, "serve", "--config", str(config), "--port", str(free_port()))
    assert r.returncode == 2 and "unknown provider 'nowhere'" in r.stderr and "Traceback" not in r.stderr
    config.write_text("colour: blue\n")
    r = turnout(env, "models", "--config", str(config))
    assert r.returncode == 2 and "colour: unknown setting" in r.stderr
