"""`turnout serve --workers 2`: metrics of both workers in one scrape, on a separate metrics_port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.accounts.conftest import ADMIN
from tests.accounts.test_crash import free_port
from tests.conftest import Upstream, create_key, gateway_config
from turnout.settings import load_settings

REQUESTS = 30


def requests_total(text: str) -> float:
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "turnout_requests_total" and s.labels.get("model") == "test/echo")


def test_two_workers_one_scrape_on_the_metrics_port(upstream: Upstream, tmp_path: Path) -> None:
    port, metrics_port = free_port(), free_port()
    config = tmp_path / "turnout.yaml"
    config.write_text(yaml.safe_dump({**gateway_config(upstream.url), "metrics_port": metrics_port}))
    data_dir = tmp_path / "data"
    key = create_key(load_settings(config, env={}, data_dir=data_dir), "workers")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TURNOUT_", "OTEL_", "PROMETHEUS_"))}
    env.update(TURNOUT_DATA_DIR=str(data_dir), TURNOUT_ADMIN_KEY=ADMIN, TURNOUT_CATALOG_DATASET="0")
    proc = subprocess.Popen([sys.executable, "-m", "turnout", "serve", "--config", str(config), "--port", str(port),
                             "--workers", "2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200 \
                        and httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.stdout else ""
            time.sleep(0.1)
        for _ in range(REQUESTS):
            with httpx.Client() as client:  # a new connection each time: both workers get some
                r = client.post(f"{url}/api/v1/chat/completions", headers={"authorization": f"Bearer {key}"}, timeout=30,
                                json={"model": "test/echo", "messages": [{"role": "user", "content": "hi"}]})
                assert r.status_code == 200
        # whichever worker answers counts both (each pushes its counts every 2 s)
        deadline = time.monotonic() + 10
        while True:
            scrape = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5)
            assert scrape.status_code == 200
            if requests_total(scrape.text) == REQUESTS or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert requests_total(scrape.text) == REQUESTS
        assert httpx.get(f"{url}/metrics", timeout=5).status_code == 401  # the main port still needs the key
        main = httpx.get(f"{url}/metrics", headers={"authorization": f"Bearer {ADMIN}"}, timeout=5)
        assert requests_total(main.text) == REQUESTS
        assert httpx.get(f"http://127.0.0.1:{metrics_port}/other", timeout=5).status_code == 404
        assert len(list((data_dir / "metrics").glob("*.db"))) >= 2  # both workers wrote their values
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
