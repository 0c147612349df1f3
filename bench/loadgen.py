"""Load generator for the benchmark harness.

This module owns the client side: a small raw HTTP/1.1 keep-alive client on
asyncio streams (uvloop when installed) that times each request with
``perf_counter_ns``, and the three load shapes the harness uses:

* :func:`closed_loop` -- C workers, one connection each, back to back
  (latency at concurrency C and saturation throughput);
* :func:`fixed_rate` -- open loop at R requests/s, each request on its own
  (pooled or new) connection, so a slow server cannot delay later sends;
* :func:`hold_streams` -- N concurrent slow streams opened at once.

Every load is bounded both by a request count and by a deadline, and the
client refuses any host other than loopback.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Target:
    """Where and how to send chat completions for one system under test."""

    name: str
    host: str
    port: int
    path: str
    headers: dict[str, str]
    model_prefix: str = ""

    def request(self, model: str, stream: bool, close: bool = False) -> bytes:
        """Render one complete HTTP/1.1 request."""
        if self.host not in LOOPBACK:
            raise ValueError("the bench only sends load to loopback")
        body: dict[str, object] = {
            "model": self.model_prefix + model,
            "messages": [
                {"role": "system", "content": "You are a terse assistant."},
                {"role": "user", "content": "Say hello and name three colours."},
            ],
            "max_tokens": 128,
            "temperature": 0.2,
        }
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        raw = json.dumps(body, separators=(",", ":")).encode()
        lines = [
            f"POST {self.path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Content-Type: application/json",
            "Accept: text/event-stream" if stream else "Accept: application/json",
            f"Content-Length: {len(raw)}",
        ]
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        if close:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + raw


@dataclass
class Sample:
    """One finished request: latency, stream timings, and whether it was good."""

    ok: bool
    latency_ns: int
    ttfb_ns: int = 0
    gaps_ns: list[int] = field(default_factory=list)
    events: int = 0
    error: str = ""


@dataclass
class Result:
    """Aggregate of one load phase."""

    samples: list[Sample]
    elapsed_s: float

    @property
    def ok(self) -> list[Sample]:
        return [s for s in self.samples if s.ok]

    @property
    def errors(self) -> int:
        return sum(1 for s in self.samples if not s.ok)

    def error_kinds(self) -> dict[str, int]:
        kinds: dict[str, int] = {}
        for s in self.samples:
            if not s.ok:
                kinds[s.error[:80]] = kinds.get(s.error[:80], 0) + 1
        return kinds

    @property
    def rps(self) -> float:
        return len(self.ok) / self.elapsed_s if self.elapsed_s > 0 else 0.0


class Conn:
    """One keep-alive connection that sends a request and reads the reply."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.alive = True
        self.last_used = time.monotonic()

    @classmethod
    async def open(cls, host: str, port: int, timeout: float = 10.0) -> Conn:
        if host not in LOOPBACK:
            raise ValueError("the bench only sends load to loopback")
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, limit=1 << 20), timeout)
        return cls(reader, writer)

    def close(self) -> None:
        self.alive = False
        try:
            self.writer.close()
        except Exception:
            pass

    async def roundtrip(self, req: bytes, stream: bool, t0: int | None = None, gaps: bool = False) -> Sample:
        """Send ``req`` and read the full response; latency from ``t0`` (now if None)."""
        start = time.perf_counter_ns() if t0 is None else t0
        self.last_used = time.monotonic()
        reader = self.reader
        try:
            self.writer.write(req)
            head = await reader.readuntil(b"\r\n\r\n")
            status = head[9:12]
            lower = head.lower()
            if b"connection: close" in lower:
                self.alive = False
            ttfb = 0
            events = 0
            gap_list: list[int] = []
            last = 0
            tail = b""
            if b"transfer-encoding: chunked" in lower:
                while True:
                    line = await reader.readuntil(b"\r\n")
                    size = int(line.split(b";", 1)[0], 16)
                    if size == 0:
                        await reader.readuntil(b"\r\n")
                        break
                    data = await reader.readexactly(size + 2)
                    now = time.perf_counter_ns()
                    n = data.count(b"data:")
                    if n:
                        if not ttfb:
                            ttfb = now - start
                        elif gaps:
                            gap_list.append(now - last)
                        last = now
                        events += n
                    tail = (tail + data)[-64:]
            else:
                clen = -1
                idx = lower.find(b"content-length:")
                if idx >= 0:
                    clen = int(lower[idx + 15 : lower.index(b"\r\n", idx)].strip())
                if clen >= 0:
                    data = await reader.readexactly(clen)
                else:  # read to EOF
                    data = await reader.read()
                    self.alive = False
                now = time.perf_counter_ns()
                ttfb = now - start
                events = data.count(b"data:")
                tail = data[-64:]
                if not stream and status == b"200" and b'"choices"' not in data:
                    return Sample(False, now - start, error="200 without choices")
            end = time.perf_counter_ns()
            if status != b"200":
                self.alive = False
                return Sample(False, end - start, error=f"HTTP {status.decode(errors='replace')}")
            if stream and b"[DONE]" not in tail:
                return Sample(False, end - start, error="stream without [DONE]")
            return Sample(True, end - start, ttfb, gap_list, events)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            self.close()
            return Sample(False, time.perf_counter_ns() - start, error=type(exc).__name__)


async def closed_loop(
    target: Target,
    model: str,
    concurrency: int,
    max_requests: int,
    max_seconds: float,
    stream: bool = False,
    gaps: bool = False,
    timeout: float = 30.0,
) -> Result:
    """C workers back to back until ``max_requests`` or ``max_seconds``."""
    req = target.request(model, stream)
    samples: list[Sample] = []
    budget = [max_requests]
    deadline = time.monotonic() + max_seconds

    async def worker() -> None:
        conn: Conn | None = None
        while budget[0] > 0 and time.monotonic() < deadline:
            budget[0] -= 1
            try:
                if conn is None or not conn.alive:
                    conn = await Conn.open(target.host, target.port)
                s = await asyncio.wait_for(conn.roundtrip(req, stream, gaps=gaps), timeout)
            except (TimeoutError, OSError) as exc:
                if conn is not None:
                    conn.close()
                conn = None
                s = Sample(False, int(timeout * 1e9), error=type(exc).__name__)
                await asyncio.sleep(0.01)
            samples.append(s)
        if conn is not None:
            conn.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Result(samples, time.perf_counter() - t0)


async def fixed_rate(
    target: Target,
    model: str,
    rate: float,
    seconds: float,
    stream_every: int = 0,
    max_conns: int = 1024,
    timeout: float = 30.0,
) -> Result:
    """Open loop at ``rate`` req/s for ``seconds``; every ``stream_every``-th is a stream."""
    reqs = (target.request(model, False), target.request(model, True))
    idle: list[Conn] = []
    open_conns = [0]
    samples: list[Sample] = []
    tasks: set[asyncio.Task[None]] = set()
    total = int(rate * seconds)
    interval_ns = int(1e9 / rate)

    async def one(i: int, sched: int) -> None:
        # Latency counts from when this request is really sent (connection set-up included),
        # not from its slot: the event loop's timers are only ms-precise, and every request
        # has its own connection here, so a slow server cannot hold back later sends.
        sched = time.perf_counter_ns()
        stream = bool(stream_every) and i % stream_every == 0
        conn: Conn | None = None
        try:
            conn = None
            while idle and conn is None:
                conn = idle.pop()
                # servers close idle keep-alive connections (uvicorn after 5 s): never reuse a stale one
                if time.monotonic() - conn.last_used > 1.0:
                    conn.close()
                    open_conns[0] -= 1
                    conn = None
            if conn is None:
                if open_conns[0] >= max_conns:
                    samples.append(Sample(False, 0, error="client connection cap"))
                    return
                open_conns[0] += 1
                try:
                    conn = await Conn.open(target.host, target.port)
                except BaseException:
                    open_conns[0] -= 1
                    raise
            s = await asyncio.wait_for(conn.roundtrip(reqs[stream], stream, t0=sched), timeout)
        except (TimeoutError, OSError) as exc:
            s = Sample(False, time.perf_counter_ns() - sched, error=type(exc).__name__)
            if conn is not None:
                conn.close()
        samples.append(s)
        if conn is not None:
            conn.last_used = time.monotonic()
            if conn.alive:
                idle.append(conn)
            else:
                conn.close()
                open_conns[0] -= 1

    start = time.perf_counter_ns()
    for i in range(total):
        sched = start + i * interval_ns
        delay = (sched - time.perf_counter_ns()) / 1e9
        if delay > 0:
            await asyncio.sleep(delay)
        t = asyncio.get_running_loop().create_task(one(i, sched))
        tasks.add(t)
        t.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks, timeout=timeout + 5)
    elapsed = (time.perf_counter_ns() - start) / 1e9
    for c in idle:
        c.close()
    return Result(samples, elapsed)


async def hold_streams(target: Target, model: str, n: int, timeout: float, connect_batch: int = 100) -> Result:
    """Open ``n`` connections, then start ``n`` slow streams at once; wait for all."""
    req = target.request(model, True)
    conns: list[Conn | None] = []
    sem = asyncio.Semaphore(connect_batch)

    async def connect() -> Conn | None:
        async with sem:
            try:
                return await Conn.open(target.host, target.port)
            except (TimeoutError, OSError):
                return None

    conns = list(await asyncio.gather(*(connect() for _ in range(n))))

    async def one(conn: Conn | None) -> Sample:
        if conn is None:
            return Sample(False, 0, error="connect failed")
        try:
            return await asyncio.wait_for(conn.roundtrip(req, True, gaps=True), timeout)
        except TimeoutError:
            return Sample(False, int(timeout * 1e9), error="TimeoutError")
        finally:
            conn.close()

    t0 = time.perf_counter()
    samples = await asyncio.gather(*(one(c) for c in conns))
    return Result(list(samples), time.perf_counter() - t0)


def pct(values: list[int] | list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(q / 100.0 * len(s) + 0.5) - 1))
    return float(s[k])
