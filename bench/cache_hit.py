"""A response-cache hit against a miss: turnout's added latency and CPU per request.

    python bench/cache_hit.py [--requests 2000]

Starts the bench's fake upstream and `turnout serve` (bench/systems.py, same placement: turnout
alone on CPU 0), then sends the same non-streamed chat request back to back on one keep-alive
connection three ways: without the cache header (every request goes upstream), with
`X-OpenRouter-Cache: true` and a body that changes every request (every request a miss: the cache
is looked up and written), and with the header and one body (every request but the first a hit).
It reports p50/p99 latency and turnout's CPU per request (utime+stime of its process tree over
the phase, divided by the requests) for each.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import time

import systems
from proc import usage


def phase(port: int, key: str, n: int, *, cache: bool, vary: bool) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    if cache:
        headers["X-OpenRouter-Cache"] = "true"
    times = []
    for i in range(n):
        body = json.dumps({"model": "bench/mock", "messages": [{"role": "user", "content": f"hello {i if vary else 0}"}]})
        t0 = time.perf_counter()
        conn.request("POST", "/api/v1/chat/completions", body, headers)
        r = conn.getresponse()
        r.read()
        times.append((time.perf_counter() - t0) * 1000)
        if r.status != 200:
            raise RuntimeError(f"status {r.status}")
    conn.close()
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000)
    args = ap.parse_args()
    upstream = systems.start_upstream("1")
    turnout = systems.start_turnout(upstream.target.port, ["mock"], "0")
    try:
        port = turnout.target.port
        key = turnout.target.headers["Authorization"].removeprefix("Bearer ")
        phase(port, key, 200, cache=False, vary=True)  # warm-up
        for name, cache, vary in (("no cache header", False, True), ("cache miss (header, new body)", True, True),
                                  ("cache hit (header, same body)", True, False)):
            assert turnout.pid is not None
            before = usage(turnout.pid).cpu_s
            times = phase(port, key, args.requests, cache=cache, vary=vary)
            cpu = (usage(turnout.pid).cpu_s - before) / args.requests * 1000
            q = statistics.quantiles(times, n=100)
            print(f"{name:32s} p50 {statistics.median(times):.3f} ms  p99 {q[98]:.3f} ms  CPU {cpu:.3f} ms/request")
    finally:
        turnout.stop()
        upstream.stop()


if __name__ == "__main__":
    main()
