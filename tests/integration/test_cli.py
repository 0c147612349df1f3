"""The `turnout` command as a user runs it: the README's config example verbatim, keys, serve, shutdown."""

from __future__ import annotations

import os
import re
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

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_block(lang: str, containing: str) -> str:
    """The README's fenced `lang` block that contains `containing`, verbatim."""
    blocks = re.findall(rf"^```{lang}\n(.*?)^```", README.read_text("utf-8"), flags=re.S | re.M)
    found = [b for b in blocks if containing in b]
    assert len(found) == 1, f"expected one ```{lang} block with {containing!r} in README.md, found {len(found)}"
    return found[0]


README_CONFIG = readme_block("yaml", "acme/echo")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("TURNOUT_")}
    e.update(TURNOUT_DATA_DIR=str(tmp_path / "data"), ACME_KEY="sk-acme-secret",
             # The local model is not used here, and loading it (seconds of CPU) can delay the key refresh.
             TURNOUT_PRELOAD_LOCAL="0")
    return e


def turnout(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "turnout", *args], env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def acme_upstream() -> Iterator[tuple[UpstreamState, str]]:
    """The README's `acme` provider, on a free port: (its state, the README's config pointed at it)."""
    state = UpstreamState()
    with serve(create_upstream(state)) as url:
        assert "http://127.0.0.1:9001/v1" in README_CONFIG
        yield state, README_CONFIG.replace("http://127.0.0.1:9001", url)


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


def test_readme_config_keys_serve_and_clean_shutdown(
    tmp_path: Path, env: dict[str, str], acme_upstream: tuple[UpstreamState, str]
) -> None:
    upstream, readme_config = acme_upstream
    config = tmp_path / "turnout.yaml"
    config.write_text(readme_config)
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
        sent = upstream.requests[-1]
        assert sent["body"]["model"] == "upstream-model-name"
        assert sent["headers"]["authorization"] == "Bearer sk-acme-secret"
        gen_id = r.json()["id"]
        # A configured model with no supported_parameters takes tools (its dialect carries them).
        r = httpx.post(f"{server.url}/v1/chat/completions", headers=headers, json={
            "model": "acme/echo", "messages": [{"role": "user", "content": "ping"}],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]})
        assert r.status_code == 200, r.text
        listed = httpx.get(f"{server.url}/api/v1/models").json()["data"]
        assert next(m for m in listed if m["id"] == "acme/echo")["created"] == 1735689600  # the README's `created`
    finally:
        out = server.stop()
    assert "sk-acme-secret" not in out and key not in out  # secrets never reach the logs
    assert "ping" not in out  # nor prompts or answers
    label = f"{key[:12]}...{key[-3:]}"  # the key's label, never the key
    lines = [line for line in out.splitlines() if gen_id in line]
    assert len(lines) == 1 and " INFO turnout.requests: " in lines[0], out
    assert f"key={label}" in lines[0] and "model=acme/echo provider=acme status=ok" in lines[0]
    assert re.search(r"latency_ms=\d+ tokens=\d+\+\d+ cost=0\.\d+", lines[0]), lines[0]
    assert "INFO turnout: started: " in out and "INFO turnout: stopped: " in out

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


def test_unknown_config_keys_stop_serve_and_config_check_names_them(tmp_path: Path, env: dict[str, str]) -> None:
    config = tmp_path / "typo.yaml"
    config.write_text(README_CONFIG.replace("    api_key: ${ACME_KEY}", "    api-kee: ${ACME_KEY}\n    verify_ssl: false"))
    r = turnout(env, "serve", "--config", str(config), "--port", str(free_port()))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"{config}: providers.acme.api-kee: unknown key (did you mean 'api_key'?)" in r.stderr
    assert f"{config}: providers.acme.verify_ssl: unknown key" in r.stderr
    r = turnout(env, "config", "check", "--config", str(config))
    assert r.returncode == 1 and r.stdout == "" and "providers.acme.api-kee" in r.stderr and "verify_ssl" in r.stderr
    good = tmp_path / "good.yaml"
    good.write_text(README_CONFIG)
    r = turnout(env, "config", "check", "--config", str(good))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"OK: {good}\n") and "sk-acme-secret" not in r.stdout and "api_key: '***'" in r.stdout


def test_cli_tables_have_a_header_prices_like_the_web_and_escaped_names(env: dict[str, str]) -> None:
    models = turnout(env, "models").stdout.splitlines()
    assert models[0].split() == ["MODEL", "PROVIDER", "CONTEXT", "INPUT", "$/M", "OUTPUT", "$/M", "STATUS"]
    exacto = next(line for line in models if line.startswith("z-ai/glm-4.6:exacto "))
    assert exacto.split()[1:5] == ["Z.ai", "202,752", "$0.60", "$1.90"]  # as the web UI prints them
    # A name with control characters is refused at creation; an old one is printed escaped
    # (tests/accounts/test_admin_hardening.py).
    assert turnout(env, "keys", "create", "--name", "evil\x1b[2J\nname", "--limit", "5").returncode == 2
    assert turnout(env, "keys", "create", "--name", "plain", "--limit", "5").returncode == 0
    listed = turnout(env, "keys", "list").stdout
    header, row = listed.splitlines()
    assert header.split() == ["NAME", "LABEL", "STATUS", "USAGE", "LIMIT", "ACCOUNT", "HASH"]
    assert row.split()[2:6] == ["active", "$0", "$5.00", "default"]


@pytest.mark.parametrize("command", [["models"], ["keys", "list"]])
def test_a_closed_pipe_ends_the_listing_quietly(env: dict[str, str], command: list[str]) -> None:
    for i in range(3):
        assert turnout(env, "keys", "create", "--name", f"k{i}").returncode == 0
    # The reader is gone before turnout writes a byte (`turnout keys list | head -0`): a real pipe.
    proc = subprocess.Popen([sys.executable, "-m", "turnout", *command], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141 and err == ""  # 128 + SIGPIPE, as a shell reports, and no traceback
    shell = subprocess.run(f"{sys.executable} -m turnout {' '.join(command)} | head -1", shell=True, env=env,
                           capture_output=True, text=True, timeout=60)
    assert shell.stdout.split()[0] in ("MODEL", "NAME") and "Traceback" not in shell.stderr
