"""The deployment files checked statically (fast, no Docker needed): compose.yaml is the reference
deployment docs/deploy.md describes, and the Dockerfile keeps its promises (non-root, healthcheck,
optional local model, the CA bundle only as a build secret)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_compose_file_is_the_reference_deployment() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) >= {"postgres", "redis", "migrate", "turnout-1", "turnout-2", "lb"}
    for name in ("turnout-1", "turnout-2", "migrate"):
        env = services[name]["environment"]
        assert env["TURNOUT_DATABASE_URL"].startswith("postgresql://turnout:") and "@postgres:5432/" in env["TURNOUT_DATABASE_URL"]
        assert env["TURNOUT_REDIS_URL"] == "redis://redis:6379/0"
        assert "turnout-data:/data" in services[name]["volumes"]  # one key secret for both replicas
    assert services["migrate"]["command"] == ["turnout", "migrate"]
    for name in ("turnout-1", "turnout-2"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert set(services["lb"]["depends_on"]) == {"turnout-1", "turnout-2"}
    assert services["lb"]["ports"][0].startswith("${TURNOUT_LB_BIND:-127.0.0.1}")  # not on every interface by default


def test_the_balancer_checks_health_and_spreads_over_both_replicas() -> None:
    cfg = (ROOT / "deploy/lb/haproxy.cfg").read_text()
    assert "balance roundrobin" in cfg and "option httpchk GET /health" in cfg
    assert re.search(r"server turnout-1 turnout-1:8080 check", cfg) and re.search(r"server turnout-2 turnout-2:8080 check", cfg)
    assert re.search(r"timeout server\s+(\d+)s", cfg) and int(re.search(r"timeout server\s+(\d+)s", cfg).group(1)) >= 600  # type: ignore[union-attr]


def test_dockerfile_is_small_non_root_and_healthchecked() -> None:
    text = (ROOT / "Dockerfile").read_text()
    joined = re.sub(r"\\\n", " ", text)  # continuation lines belong to their instruction
    lines = [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]
    instructions = {line.split()[0] for line in lines if line.split()[0].isupper()}
    assert instructions <= {"ARG", "FROM", "RUN", "WORKDIR", "COPY", "ENV", "USER", "VOLUME", "EXPOSE", "HEALTHCHECK", "CMD"}
    assert lines[0].startswith("ARG BASE=")
    assert sum(line.startswith("FROM ") for line in lines) == 2  # a build stage; the image ships only its venv
    users = [line for line in lines if line.startswith("USER ")]
    assert users and users[-1] != "USER root" and "useradd" in text
    assert "HEALTHCHECK" in text and "/health" in text
    assert "ARG LOCAL_MODEL=false" in text and ",local" in text
    assert "--mount=type=secret,id=ca" in text
    assert not re.search(r"COPY .*(ca-certificates\.crt|\.pem|\.crt)", text)  # the CA bundle never baked in
    assert "--no-cache-dir" in text and "rm -rf /var/lib/apt/lists/*" in text
    for image in ("postgres", "redis", "lb"):
        sub = (ROOT / "deploy" / image / "Dockerfile").read_text()
        assert "ARG BASE=" in sub and "USER " in sub and "apt-get install" in sub


def test_dockerignore_keeps_the_build_context_small() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".git" in ignored and "tests/js/node_modules" in ignored
