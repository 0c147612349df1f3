# turnout's container image: a small Debian base, a virtualenv with turnout and its PostgreSQL and
# Redis clients, run as an unprivileged user, with a healthcheck on /health.
#
#   docker build -t turnout .
#   docker build --build-arg LOCAL_MODEL=true -t turnout:local .     # with the built-in local model
#
# Where package downloads need a CA bundle of your own (a TLS-inspecting proxy), pass it as a build
# secret; it is used by the build only and never copied into the image:
#   docker build --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt -t turnout .
ARG BASE=debian:bookworm-slim

FROM ${BASE} AS build
ARG LOCAL_MODEL=false
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/turnout
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN --mount=type=secret,id=ca,required=false \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi; \
    extras="postgres,redis"; if [ "$LOCAL_MODEL" = "true" ]; then extras="$extras,local"; fi; \
    /opt/turnout/bin/pip install --no-cache-dir --disable-pip-version-check ".[$extras]" \
 && find /opt/turnout -name '__pycache__' -prune -exec rm -rf {} + \
 && rm -rf /opt/turnout/lib/python3*/site-packages/pip /opt/turnout/lib/python3*/site-packages/setuptools

FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin turnout \
 && mkdir -p /data && chown turnout:turnout /data
COPY --from=build /opt/turnout /opt/turnout
ENV PATH=/opt/turnout/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    TURNOUT_HOST=0.0.0.0 \
    TURNOUT_PORT=8080 \
    TURNOUT_DATA_DIR=/data
USER turnout
WORKDIR /data
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('TURNOUT_PORT', '8080'), timeout=3)"]
CMD ["turnout", "serve"]
