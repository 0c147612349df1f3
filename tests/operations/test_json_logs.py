"""`log_format: json`: every line a real `turnout serve` writes is one JSON object; the request line
carries the generation id and the trace id."""

from __future__ import annotations

import os
import signal
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
from tests.fakes.otlp_receiver import Received
from tests.fakes.otlp_receiver import create_app as create_receiver
from tests.fakes.server import serve
from turnout.settings import load_settings


def test_every_line_is_json_with_generation_and_trace_ids(upstream: Upstream, tmp_path: Path) -> None:
    config = tmp_path / "turnout.yaml"
    config.write_text(yaml.safe_dump({**gateway_config(upstream.url), "log_format": "json"}))
    data_dir = tmp_path / "data"
    key = create_key(load_settings(config, env={}, data_dir=data_dir), "logged")
    port = free_port()
    received = Received()
    with serve(create_receiver(received)) as otlp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TURNOUT_", "OTEL_"))}
        env.update(TURNOUT_DATA_DIR=str(data_dir), TURNOUT_ADMIN_KEY=ADMIN, TURNOUT_CATALOG_DATASET="0",
                   OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=f"{otlp}/v1/traces", OTEL_SERVICE_NAME="gw-under-test")
        proc = subprocess.Popen([sys.executable, "-m", "turnout", "serve", "--config", str(config), "--port", str(port)],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
            r = httpx.post(f"{url}/api/v1/chat/completions", headers={"authorization": f"Bearer {key}"}, timeout=30,
                           json={"model": "test/echo", "messages": [{"role": "user", "content": "hello\nforged line"}]})
            assert r.status_code == 200
            bad = httpx.post(f"{url}/api/v1/chat/completions", headers={"authorization": f"Bearer {key}"}, timeout=30,
                             json={"model": "evil\nmodel", "messages": [{"role": "user", "content": "x"}]})
            assert bad.status_code in (400, 404)
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, err
    lines = [line for line in (out + err).splitlines() if line.strip()]
    records = [orjson.loads(line) for line in lines]  # raises on any line that is not JSON
    assert all({"ts", "level", "logger", "message"} <= rec.keys() for rec in records)
    gen = r.headers["x-generation-id"]
    (line,) = [rec for rec in records if rec.get("generation_id") == gen]
    assert line["logger"] == "turnout.requests" and line["model"] == "test/echo" and line["status"] == "ok"
    assert line["completion_tokens"] > 0 and line["provider"] == "fake"
    assert len(line["trace_id"]) == 32
    assert any(s["trace_id"] == line["trace_id"] for s in received.spans)  # logs join traces
    assert received.resources[0]["service.name"] == "gw-under-test"
    (evil,) = [rec for rec in records if rec.get("generation_id") == bad.headers.get("x-generation-id")] or [
        rec for rec in records if rec.get("model") == "evil\nmodel"]
    assert evil["model"] == "evil\nmodel"  # kept whole, escaped by JSON: no forged line
    assert any("listening" in rec["message"] for rec in records)
    assert "hello" not in out + err  # never a prompt
    assert key not in out + err
