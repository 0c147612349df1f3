"""schemathesis over `GET /openapi.json` against a live `turnout serve` (fake upstreams behind it).

Every documented operation, admin and account routes included, gets generated requests (valid
and invalid by the schema) with a fixed seed and a small budget: no answer is a 5xx, every status
is one the document lists for that operation, and every body matches its documented schema (so
every error is in its route's envelope)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig

from tests.conftest import Upstream, gateway_config

ADMIN_KEY = "admin-key-for-the-schemathesis-run-0123456789"
# Routes that need the admin key (the rest take a user key; an admin key is refused there).
ADMIN_PATHS = ("/api/v1/keys", "/api/v1/presets")


@dataclass
class Live:
    url: str
    key: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def live(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    data = tmp_path_factory.mktemp("schemathesis")
    config = data / "turnout.yaml"
    gw = gateway_config(upstream.url)
    config.write_text(yaml.safe_dump({"admin_key": ADMIN_KEY, "catalog_dataset": False,
                                      "providers": gw["providers"], "models": gw["models"]}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TURNOUT_")}
    env.update(TURNOUT_DATA_DIR=str(data / "data"), TURNOUT_PRELOAD_LOCAL="0")
    made = subprocess.run([sys.executable, "-m", "turnout", "keys", "create", "--name", "fuzz", "--config", str(config)],
                          env=env, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "turnout", "serve", "--config", str(config), "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, "turnout serve did not come up"
        time.sleep(0.1)
    try:
        yield Live(url, key)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        Path(data / "serve.log").write_text(err)
        assert "Traceback" not in err, err[-3000:]  # no request reached an unhandled exception


@pytest.fixture(scope="module")
def api_schema(live: Live) -> schemathesis.BaseSchema:
    # Valid and invalid requests by the schema, a fixed budget per operation: the coverage phase
    # (hundreds of boundary cases per operation) would take the run past CI's minutes.
    config = SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
                                           "generation": {"mode": "all"}})
    return schemathesis.openapi.from_url(f"{live.url}/api/v1/openapi.json", config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.slow
@pytest.mark.timeout(400)  # one test item for every operation: ~40 s alone, more on a loaded machine
@schema.parametrize()
@settings(max_examples=8, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_every_operation(case: schemathesis.Case, live: Live) -> None:
    admin = case.path.startswith(ADMIN_PATHS) or (case.path == "/api/v1/credits" and case.method == "POST")
    headers = {"authorization": f"Bearer {ADMIN_KEY if admin else live.key}"}
    response = case.call(base_url=live.url, headers=headers, timeout=30)
    case.validate_response(response, checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                                             response_schema_conformance])
