"""The container image and the reference compose file, built and run for real (slow; CI runs it).

No image registry is reachable here, so the base image is a Debian bookworm made with debootstrap
and imported (`docker import`); turnout's, PostgreSQL's, Redis's and HAProxy's images are built on
it from Debian's packages (compose.yaml, deploy/), the machine's CA bundle passed to the builds as a
secret (never baked in). The test starts the compose file with a fake upstream beside it, sends
chat requests through the load balancer, checks that both replicas served and that they share one
ledger, then tears everything down (volumes included; the images stay cached).

Needs a Docker daemon (Debian's docker.io, started by scripts/test.sh) and docker-compose; skipped
with the reason otherwise.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import PROMPT_PRICE

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]
ROOT = Path(__file__).resolve().parents[2]
BASE = "turnout-test-base:bookworm"
TAG = "turnout-test"
CA_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")


def docker_cli() -> str | None:
    # Debian's client builds with BuildKit (--secret) by itself; a newer client needs buildx for that.
    return "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else shutil.which("docker")


def run(*args: str, timeout: float = 900, **kw: object) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)  # type: ignore[call-overload]
    assert out.returncode == 0, f"{' '.join(args)}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out  # type: ignore[no-any-return]


def mirror() -> str:
    for source in Path("/etc/apt").glob("sources.list.d/*.sources"):
        for line in source.read_text().splitlines():
            if line.startswith("URIs:") and "security" not in line:
                return line.split()[1]
    return "http://deb.debian.org/debian"


@pytest.fixture(scope="module")
def docker() -> str:
    cli = docker_cli()
    if cli is None:
        pytest.skip("no docker client (scripts/test.sh installs Debian's docker.io)")
    if subprocess.run([cli, "info"], capture_output=True, timeout=30).returncode != 0:
        pytest.skip("no Docker daemon answers (scripts/test.sh starts dockerd)")
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed (scripts/test.sh installs it)")
    if subprocess.run([cli, "image", "inspect", BASE], capture_output=True).returncode != 0:
        if shutil.which("debootstrap") is None:
            pytest.skip("debootstrap is not installed (scripts/test.sh installs it)")
        rootfs = Path(os.environ.get("TMPDIR", "/tmp")) / f"turnout-rootfs-{uuid.uuid4().hex[:8]}"
        try:
            run("debootstrap", "--variant=minbase", "bookworm", str(rootfs), mirror(), timeout=1200)
            tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
            run(cli, "import", "-", BASE, stdin=tar.stdout)
            tar.wait(60)
        finally:
            shutil.rmtree(rootfs, ignore_errors=True)
    return cli


@pytest.fixture(scope="module")
def images(docker: str) -> str:
    env = {**os.environ, "DOCKER_BUILDKIT": "1"}
    ca = next((c for c in CA_BUNDLES if os.path.exists(c)), None)
    secret = ["--secret", f"id=ca,src={ca}"] if ca else []
    run(docker, "build", *secret, "--build-arg", f"BASE={BASE}", "-t", f"{TAG}:latest", str(ROOT), env=env)
    for name in ("postgres", "redis", "lb"):
        run(docker, "build", "--build-arg", f"BASE={BASE}", "-t", f"{TAG}-{name}:latest", str(ROOT / "deploy" / name),
            env=env)
    run(docker, "build", "--build-arg", f"TURNOUT_IMAGE={TAG}:latest", "-t", f"{TAG}-upstream:latest",
        "-f", str(ROOT / "tests/deploy/upstream.Dockerfile"), str(ROOT / "tests/fakes"), env=env)
    return TAG


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def deployment(images: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    config_dir.chmod(0o755)
    pricing = {"prompt": PROMPT_PRICE, "completion": PROMPT_PRICE}
    (config_dir / "turnout.yaml").write_text(yaml.safe_dump({
        "providers": {"fake": {"name": "Fake", "dialect": "openai", "base_url": "http://upstream:9000/v1",
                               "api_key": "sk-upstream"}},
        "models": {"test/echo": {"context_length": 8192, "endpoints": [
            {"provider": "fake", "model": "echo", "pricing": pricing}]}}}))
    (config_dir / "turnout.yaml").chmod(0o644)
    override = tmp_path / "compose.test.yaml"
    override.write_text(yaml.safe_dump({"services": {"upstream": {"image": f"{images}-upstream:latest"}}}))
    admin = "sk-tn-admin-v1-" + secrets.token_hex(32)
    port = free_port()
    project = f"turnouttest{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "TURNOUT_IMAGE": f"{images}:latest", "TURNOUT_IMAGE_PREFIX": f"{images}-",
           "TURNOUT_BASE_IMAGE": BASE, "POSTGRES_PASSWORD": secrets.token_hex(16), "TURNOUT_ADMIN_KEY": admin,
           "TURNOUT_LB_PORT": str(port), "TURNOUT_CONFIG_DIR": str(config_dir),
           "TURNOUT_CONFIG_IN_CONTAINER": "/etc/turnout/turnout.yaml", "TURNOUT_CATALOG_DATASET": "0"}
    compose = ["docker-compose", "-p", project, "-f", str(ROOT / "compose.yaml"), "-f", str(override)]
    try:
        run(*compose, "up", "-d", "--no-build", env=env, timeout=600)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        served: set[str] = set()
        while len(served) < 2:  # both replicas healthy behind the balancer
            assert time.monotonic() < deadline, run(*compose, "logs", "--tail", "50", env=env).stdout[-4000:]
            try:
                r = httpx.get(f"{url}/health", timeout=3)
                if r.status_code == 200:
                    served.add(r.headers.get("x-served-by", ""))
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        yield url, admin
    finally:
        subprocess.run([*compose, "down", "-v", "--remove-orphans", "-t", "5"], env=env, capture_output=True,
                       timeout=300)


def test_the_compose_deployment_serves_through_the_balancer_with_one_ledger(deployment: tuple[str, str]) -> None:
    url, admin = deployment
    api = f"{url}/api/v1"
    admin_headers = {"authorization": f"Bearer {admin}"}
    assert httpx.post(f"{api}/credits", json={"amount": 10, "account": "default"}, headers=admin_headers,
                      timeout=10).status_code in (200, 201)
    created = httpx.post(f"{api}/keys", json={"name": "compose"}, headers=admin_headers, timeout=10)
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    headers = {"authorization": f"Bearer {key}"}
    served_by, ids, costs = [], [], []
    # At least ten requests, and on until both replicas served one: a replica that a health check
    # took out for a moment (a loaded machine) is back within the balancer's rise interval.
    deadline = time.monotonic() + 60
    for i in range(60):
        if i >= 10 and set(served_by) == {"turnout-1", "turnout-2"}:
            break
        if i >= 10:
            assert time.monotonic() < deadline, served_by
            time.sleep(1)
        r = httpx.post(f"{api}/chat/completions", headers=headers, timeout=30,
                       json={"model": "test/echo", "messages": [{"role": "user", "content": f"hello {i}"}],
                             "max_tokens": 10})
        assert r.status_code == 200, r.text
        served_by.append(r.headers["x-served-by"])
        ids.append(r.headers["x-generation-id"])
        costs.append(Decimal(str(r.json()["usage"]["cost"])))
    assert set(served_by) == {"turnout-1", "turnout-2"}, served_by
    # one ledger: each record, whichever replica made it, is found through either replica
    deadline = time.monotonic() + 20
    for gen_id in ids:
        for _ in range(2):  # round robin: two reads reach both replicas
            while (r := httpx.get(f"{api}/generation?id={gen_id}", headers=headers, timeout=10)).status_code != 200:
                assert time.monotonic() < deadline, r.text
                time.sleep(0.2)
    total = sum(costs, Decimal(0))
    deadline = time.monotonic() + 20
    while True:
        seen = {(r := httpx.get(f"{api}/credits", headers=headers, timeout=10)).headers["x-served-by"]:
                Decimal(str(r.json()["data"]["total_usage"])) for _ in range(4)}
        if set(seen) == {"turnout-1", "turnout-2"} and set(seen.values()) == {total}:
            break
        assert time.monotonic() < deadline, (seen, total)
        time.sleep(0.3)
