"""GET /health (liveness), GET /ready (readiness) and GET /metrics, plus the optional `metrics_port`.

`/health` answers from the event loop and checks nothing else: a supervisor restarts a process
whose loop no longer answers. `/ready` says whether this process should get traffic: the store
answers a read, Redis answers a PING when configured, the catalog is loaded, and the process is
not shutting down; the local model's state is shown but not required. Each check names what it
did; a failed one makes the answer a 503. `/metrics` needs the admin key, unless `metrics_port`
is set: then it is served there without one (bind that port to a private network) and the main
port's `/metrics` still takes the admin key.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from turnout.api.auth import require_admin
from turnout.observe.metrics import CONTENT_TYPE
from turnout.observe.observer import refresh_gauges

CHECK_TIMEOUT = 2.0  # seconds a readiness check may take before it counts as failed
MAX_REQUEST_BYTES = 8192  # the metrics port reads a request line and headers, nothing more


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json",
                    headers={"cache-control": "no-store"})


async def health(request: Request) -> Response:
    return _json({"status": "ok", "checks": {"event_loop": {"ok": True}}})


async def _timed(check: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        detail = await asyncio.wait_for(check(), CHECK_TIMEOUT)
        out: dict[str, Any] = {"ok": True, **(detail or {})}
    except TimeoutError:
        out = {"ok": False, "error": f"no answer within {CHECK_TIMEOUT:g}s"}
    except Exception as exc:  # the store's own words may name hosts: only the exception's type
        out = {"ok": False, "error": type(exc).__name__}
    out["ms"] = round((time.perf_counter() - started) * 1000, 2)
    return out


async def ready(request: Request) -> Response:
    """Readiness, with what was checked. A stale catalog dataset is reported, not fatal."""
    rt = request.app.state.runtime

    async def store() -> dict[str, Any]:
        await asyncio.to_thread(rt.store.get_key, "ready-probe")
        return {"backend": type(rt.store).__name__}

    async def redis() -> dict[str, Any]:
        if not await rt.limiter.counters.ping():
            raise ConnectionError("no PONG")
        return {}

    checks: dict[str, Any] = {"store": await _timed(store)}
    if rt.settings.redis_url:
        checks["redis"] = await _timed(redis)
    ds = rt.catalog.dataset
    checks["catalog"] = {"ok": bool(rt.catalog.models), "models": len(rt.catalog.models), "listed": len(rt.catalog.listed()),
                         "dataset": None if ds is None else {"versions": ds.versions, "dates": ds.dates, "stale": ds.stale()}}
    local = [p.info() for p in rt.dispatcher.in_process.values() if hasattr(p, "info")]
    checks["local_model"] = {"required": False, "state": local[0] if local else None}
    draining = rt.observer.draining
    checks["accepting"] = {"ok": not draining, **({"reason": "shutting down"} if draining else {})}
    ok = all(c.get("ok", True) for c in checks.values())
    return _json({"status": "ready" if ok else "not ready", "checks": checks}, 200 if ok else 503)


async def metrics(request: Request) -> Response:
    rt = request.app.state.runtime
    await require_admin(request.headers, rt.keys, rt.admin)
    return _render(rt)


def _render(rt: Any) -> Response:
    m = rt.observer.metrics
    if m is None:
        return _json({"error": {"code": 404, "message": "metrics are off (the metrics setting)"}}, 404)
    refresh_gauges(rt)
    return Response(m.render(), media_type=CONTENT_TYPE, headers={"cache-control": "no-store"})


async def start_metrics_port(rt: Any) -> asyncio.Server:
    """A minimal HTTP/1.1 server on `host:metrics_port` answering GET /metrics (no key)."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            line = head.split(b"\r\n", 1)[0].split(b" ")
            if len(line) == 3 and line[0] == b"GET" and line[1].split(b"?", 1)[0] == b"/metrics":
                response = _render(rt)
                status, body, ctype = response.status_code, bytes(response.body), response.media_type or CONTENT_TYPE
            else:
                status, body, ctype = 404, b"not found\n", "text/plain"
            reason = {200: b"OK", 404: b"Not Found"}.get(status, b"Error")
            writer.write(b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
                         % (status, reason, ctype.encode(), len(body)) + body)
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()

    shared = rt.observer.metrics is not None and rt.observer.metrics.shared
    # --workers N: every worker listens (SO_REUSEPORT) and any of them answers for all
    return await asyncio.start_server(serve, rt.settings.host, rt.settings.metrics_port, limit=MAX_REQUEST_BYTES,
                                      reuse_port=shared or None)
