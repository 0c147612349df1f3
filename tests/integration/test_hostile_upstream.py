"""A real `turnout serve` process against a hostile upstream (tests/fakes/hostile_upstream.py).

Each size attack would take an unbounded gateway to gigabytes. Here it must end as a 502 (or,
once a stream has started, an in-band error) naming the limit that stopped it, with the upstream
connection dropped, the request recorded, and the process's peak RSS (VmHWM) under 300 MB. The
process runs under an address-space cap so that a regression fails the test instead of the machine.

An upstream that echoes the credentials it was sent must not get them shown to the client, stored,
or shown on the activity page; a connection that fails must not tell the client where it went.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml

from tests.conftest import create_key
from tests.fakes.hostile_upstream import HostileState, serve_hostile
from turnout.settings import load_settings

RSS_LIMIT_KB = 300 * 1024
ADDRESS_SPACE_CAP = 3 << 30  # a regression dies of MemoryError here rather than swapping the machine
OPENAI_KEY = "sk-hostile-openai-0123456789abcdef"
ANTHROPIC_KEY = "sk-ant-hostile-fedcba9876543210XYZ"
ADMIN_KEY = "admin-hostile-tests-0123456789abcdefghijklmnop"
SECRETS = (OPENAI_KEY, ANTHROPIC_KEY, ADMIN_KEY)
PRICING = {"prompt": "0.000001", "completion": "0.000002"}
ATTACKS = ("huge-error", "huge-error-length", "huge-answer", "gzip-bomb", "deflate-bomb", "many-headers",
           "long-header", "endless-line", "endless-event", "stream-bomb", "echo-401", "echo-401-text",
           "echo-midstream", "deep-error", "deep-midstream", "ok")
MSG = [{"role": "user", "content": "hi"}]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    url: str
    proc: subprocess.Popen[str]
    key: str
    data_dir: Path
    state: HostileState
    dead_port: int
    log: Path

    @property
    def api(self) -> str:
        return f"{self.url}/api/v1"

    def hwm_kb(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise AssertionError("no VmHWM")

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"authorization": f"Bearer {key or self.key}"}


# The cap is set in the child before it becomes `turnout serve` (exec keeps the pid), rather than
# with preexec_fn, which is unsafe while this process runs the hostile upstream's thread.
CAPPED = ("import os, resource, sys; resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[1]),) * 2); "
          "os.execv(sys.executable, [sys.executable, '-m', 'turnout', *sys.argv[2:]])")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("hostile")
    dead_port = free_port()  # nothing listens there: connection refused
    with serve_hostile() as (upstream, state):
        host_port = upstream.removeprefix("http://")
        providers = {
            "hostile": {"name": "Hostile", "dialect": "openai", "base_url": f"{upstream}/v1", "api_key": OPENAI_KEY},
            "hostile-a": {"name": "Hostile Anthropic", "dialect": "anthropic", "base_url": upstream,
                          "api_key": ANTHROPIC_KEY},
            "dead": {"name": "Dead", "dialect": "openai", "base_url": f"http://127.0.0.1:{dead_port}/v1",
                     "api_key": OPENAI_KEY},
            "plain-tls": {"name": "Plain TLS", "dialect": "openai", "base_url": f"https://{host_port}/v1",
                          "api_key": OPENAI_KEY},
        }
        models: dict[str, Any] = {}
        for attack in ATTACKS:
            for prefix, provider in (("h", "hostile"), ("ha", "hostile-a")):
                models[f"{prefix}/{attack}"] = {
                    "context_length": 8192,
                    "endpoints": [{"provider": provider, "model": attack, "pricing": PRICING}],
                }
        models["x/dead"] = {"context_length": 8192, "endpoints": [{"provider": "dead", "model": "m", "pricing": PRICING}]}
        models["x/dead-twice"] = {"context_length": 8192, "endpoints": [
            {"provider": "dead", "model": "m", "pricing": PRICING},
            {"provider": "plain-tls", "model": "m", "pricing": PRICING},
        ]}
        config = tmp / "turnout.yaml"
        config.write_text(yaml.safe_dump({"providers": providers, "models": models}))
        data_dir = tmp / "data"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TURNOUT_")}
        env.update(TURNOUT_DATA_DIR=str(data_dir), TURNOUT_PRELOAD_LOCAL="false", TURNOUT_ADMIN_KEY=ADMIN_KEY,
                   TURNOUT_READ_TIMEOUT="20", TURNOUT_KEEPALIVE_INTERVAL="1")
        key = create_key(load_settings(config, env=env), "hostile-tests")
        port = free_port()
        log = tmp / "server.log"
        with log.open("w") as out:
            proc = subprocess.Popen(
                [sys.executable, "-c", CAPPED, str(ADDRESS_SPACE_CAP), "serve", "--config", str(config), "--port", str(port)],
                env=env, stdout=out, stderr=subprocess.STDOUT, text=True,
            )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "turnout serve did not come up"
            time.sleep(0.1)
        limits = Path(f"/proc/{proc.pid}/limits").read_text()
        assert f"Max address space         {ADDRESS_SPACE_CAP}" in limits, limits  # the safety net is on
        served = Served(url, proc, key, data_dir, state, dead_port, log)
        try:
            yield served
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def post(s: Served, model: str, stream: bool = False) -> httpx.Response:
    return httpx.post(f"{s.api}/chat/completions", json={"model": model, "messages": MSG, "stream": stream},
                      headers=s.headers(), timeout=90)


def generation(s: Served, gen_id: str, key: str | None = None) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while True:
        r = httpx.get(f"{s.api}/generation", params={"id": gen_id}, headers=s.headers(key), timeout=10)
        if r.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


def stored_row(s: Served, gen_id: str) -> tuple[Any, ...]:
    """The generation's row as the store holds it (records are written in batches: wait for it)."""
    deadline = time.monotonic() + 10
    while True:
        db = sqlite3.connect(f"file:{s.data_dir / 'turnout.db'}?mode=ro", uri=True, timeout=5)
        try:
            row = db.execute("SELECT status, error_message, attempts FROM generations WHERE id = ?", (gen_id,)).fetchone()
        finally:
            db.close()
        if row is not None:
            return tuple(row)
        assert time.monotonic() < deadline, f"generation {gen_id} was never stored"
        time.sleep(0.1)


def the_gateway_hung_up(s: Served, attack: str) -> None:
    """The attack stopped because the gateway closed the connection (not a cap, not a timeout)."""
    deadline = time.monotonic() + 15
    while not any(f.startswith(f"{attack}: ") for f in s.state.finished):
        assert time.monotonic() < deadline, f"the upstream connection of {attack} was never closed"
        time.sleep(0.05)
    mine = [f for f in s.state.finished if f.startswith(f"{attack}: ")]
    assert mine[-1] == f"{attack}: closed by the gateway", mine
    s.state.finished.clear()


def sse_events(r: httpx.Response) -> list[dict[str, Any]]:
    return [orjson.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: {")]


# --- size attacks ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("attack", "stream", "setting"),
    [
        ("huge-error", False, "upstream_max_error_bytes"),
        ("huge-error-length", False, "upstream_max_error_bytes"),
        ("huge-error", True, "upstream_max_error_bytes"),
        ("huge-answer", False, "upstream_max_answer_bytes"),
        ("gzip-bomb", False, "upstream_max_answer_bytes"),
        ("deflate-bomb", False, "upstream_max_answer_bytes"),
        ("many-headers", False, "upstream_max_headers"),
        ("long-header", False, "upstream_max_header_bytes"),
        ("long-header", True, "upstream_max_header_bytes"),
        ("stream-bomb", True, "upstream_max_sse_line_bytes"),
    ],
)
def test_an_oversized_answer_is_a_502_naming_the_limit_in_bounded_memory(
    served: Served, attack: str, stream: bool, setting: str
) -> None:
    r = post(served, f"h/{attack}", stream)
    assert r.status_code == 502, r.text[:500]
    err = r.json()["error"]
    assert setting in err["message"] and err["metadata"]["limit"] == setting, err
    the_gateway_hung_up(served, attack)
    rec = generation(served, r.headers["x-generation-id"])
    assert rec["status"] == "error" and setting in rec["error_message"]
    assert served.hwm_kb() < RSS_LIMIT_KB, f"{attack}: peak RSS {served.hwm_kb() // 1024} MB"


@pytest.mark.parametrize(("attack", "setting"), [("endless-line", "upstream_max_sse_line_bytes"),
                                                 ("endless-event", "upstream_max_sse_event_bytes")])
@pytest.mark.parametrize("prefix", ["h", "ha"])
def test_a_started_stream_that_never_ends_its_line_or_event_gets_an_in_band_error(
    served: Served, prefix: str, attack: str, setting: str
) -> None:
    r = post(served, f"{prefix}/{attack}", stream=True)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r)
    assert "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e.get("choices")) == "Hello"
    errors = [e["error"] for e in events if "error" in e]
    assert len(errors) == 1 and setting in errors[0]["message"], events[-2:]
    the_gateway_hung_up(served, attack)
    rec = generation(served, events[0]["id"])
    assert rec["status"] == "error" and setting in rec["error_message"]
    assert served.hwm_kb() < RSS_LIMIT_KB, f"{attack}: peak RSS {served.hwm_kb() // 1024} MB"


@pytest.mark.parametrize("dialect", ["anthropic", "responses"])
def test_the_in_band_error_comes_in_the_clients_dialect(served: Served, dialect: str) -> None:
    if dialect == "anthropic":
        url, body = f"{served.api}/messages", {"model": "h/endless-event", "max_tokens": 50, "messages": MSG, "stream": True}
    else:
        url, body = f"{served.api}/responses", {"model": "h/endless-event", "input": "hi", "stream": True}
    r = httpx.post(url, json=body, headers=served.headers(), timeout=90)
    assert r.status_code == 200, r.text[:300]
    events = sse_events(r)
    if dialect == "anthropic":
        assert "event: error" in r.text
        messages = [e["error"]["message"] for e in events if e.get("type") == "error"]
    else:
        messages = [e["response"]["error"]["message"] for e in events if e.get("type") == "response.failed"]
    assert len(messages) == 1 and "upstream_max_sse_event_bytes" in messages[0], r.text[-500:]
    the_gateway_hung_up(served, "endless-event")
    assert served.hwm_kb() < RSS_LIMIT_KB


def test_after_the_attacks_the_gateway_still_answers(served: Served) -> None:
    for prefix in ("h", "ha"):
        r = post(served, f"{prefix}/ok")
        assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "ok", r.text
    assert served.hwm_kb() < RSS_LIMIT_KB


@pytest.mark.parametrize("stream", [False, True])
def test_an_error_body_too_deep_or_too_long_to_show_is_still_a_clean_error(served: Served, stream: bool) -> None:
    r = post(served, "h/deep-error", stream)
    assert r.status_code == 502, r.text[:300]
    err = r.json()["error"]
    assert err["message"] == "Hostile returned an error (HTTP 500): deep" and isinstance(err["metadata"]["raw"], str)
    if stream:
        r = post(served, "h/deep-midstream", stream=True)
        assert r.status_code == 200
        errors = [e["error"] for e in sse_events(r) if "error" in e]
        assert len(errors) == 1 and len(r.content) < 64 << 10, errors
        assert generation(served, sse_events(r)[0]["id"])["status"] == "error"


# --- secrets ---------------------------------------------------------------------------------------

def assert_nowhere(served: Served, gen_id: str, *texts: str) -> None:
    """No secret in the given texts (the client's answer), the stored record, GET /generation
    (the key's and an admin's view), the activity data and page."""
    seen = list(texts)
    seen.append(repr(stored_row(served, gen_id)))
    seen.append(orjson.dumps(generation(served, gen_id)).decode())
    seen.append(orjson.dumps(generation(served, gen_id, ADMIN_KEY)).decode())
    activity = httpx.get(f"{served.url}/ui/api/activity", headers=served.headers(), timeout=10)
    assert activity.status_code == 200 and gen_id in activity.text
    seen.append(activity.text)
    seen.append(httpx.get(f"{served.url}/activity", timeout=10).text)
    for text in seen:
        for secret in SECRETS:
            assert secret not in text
            assert secret[4:20] not in text  # no recognisable piece of it either


@pytest.mark.parametrize("prefix", ["h", "ha"])
def test_a_key_echoed_in_an_error_answer_is_scrubbed(served: Served, prefix: str) -> None:
    r = post(served, f"{prefix}/echo-401")
    sent = served.state.requests[-1]["headers"]
    assert OPENAI_KEY in sent.get("authorization", "") or sent.get("x-api-key") == ANTHROPIC_KEY  # it was sent
    assert r.status_code == 502, r.text
    err = r.json()["error"]
    assert "[redacted]" in err["message"] and err["metadata"]["provider_status"] == 401
    assert "[redacted]" in orjson.dumps(err["metadata"]["raw"]).decode()
    assert_nowhere(served, r.headers["x-generation-id"], r.text)


def test_a_key_straddling_the_error_excerpt_is_scrubbed_whole(served: Served) -> None:
    r = post(served, "h/echo-401-text")
    assert r.status_code == 502, r.text
    raw = r.json()["error"]["metadata"]["raw"]
    assert isinstance(raw, str) and len(raw) == 2000 and " key=[redacted]" in raw  # scrubbed, then cut
    assert OPENAI_KEY[:11] not in r.text  # not even the part before the cut
    assert_nowhere(served, r.headers["x-generation-id"], r.text)


@pytest.mark.parametrize("prefix", ["h", "ha"])
def test_a_key_echoed_in_a_mid_stream_error_is_scrubbed(served: Served, prefix: str) -> None:
    r = post(served, f"{prefix}/echo-midstream", stream=True)
    assert r.status_code == 200, r.text
    events = sse_events(r)
    errors = [e["error"] for e in events if "error" in e]
    assert len(errors) == 1 and "[redacted]" in errors[0]["message"], events
    assert_nowhere(served, events[0]["id"], r.text)


# --- addresses -------------------------------------------------------------------------------------

@pytest.mark.parametrize("stream", [False, True])
def test_a_failed_connection_names_the_provider_not_its_address(served: Served, stream: bool) -> None:
    r = post(served, "x/dead-twice", stream)
    assert r.status_code == 502, r.text
    err = r.json()["error"]
    hostile_port = served.state.requests[0]["headers"]["host"].split(":")[1] if served.state.requests else "never"
    for leak in ("127.0.0.1", str(served.dead_port), hostile_port, "Connect call failed", "http://", "https://"):
        assert leak not in r.text, r.text
    assert err["message"] in ("Plain TLS: TLS handshake failed: wrong version number", "Dead is unreachable: connection refused")
    # A TLS failure is its own kind (issue 17), with the reason.
    assert sorted(e["error"] for e in err["metadata"]["previous_errors"]) == ["provider_tls_failed", "provider_unreachable"]
    assert all("detail" not in e for e in err["metadata"]["previous_errors"])
    gen_id = r.headers["x-generation-id"]
    mine = generation(served, gen_id)
    assert "127.0.0.1" not in orjson.dumps(mine).decode() and all("detail" not in a for a in mine["attempts"])
    admin = generation(served, gen_id, ADMIN_KEY)  # operators see where it went
    details = {a["provider"]: a["detail"] for a in admin["attempts"]}
    assert f"127.0.0.1:{served.dead_port}" in details["dead"] and "refused" in details["dead"].lower()
    assert "127.0.0.1:" in details["plain-tls"] and "SSL" in details["plain-tls"]
    assert f"127.0.0.1:{served.dead_port}" in served.log.read_text()  # and so does the log


def test_no_secret_reached_the_log(served: Served) -> None:
    post(served, "h/echo-401")
    time.sleep(0.2)
    log = served.log.read_text()
    for secret in SECRETS:
        assert secret not in log
