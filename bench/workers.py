"""A fleet on one machine: `--workers 2` against one worker on PostgreSQL + Redis, and what the
shared stores cost per request.

Three figures (issue 19's goal), each the median of alternating rounds:

* **throughput**: `turnout serve --workers N` (N = 1, 2) on PostgreSQL + Redis, every process on
  every core, saturated by `wrk` (Debian's package: a load generator in C, so that the load costs
  the two cores as little as possible; without it the Python closed loop of loadgen.py is used
  and the run says so);
* **CPU per request**: one worker pinned to CPU 0 (the load and the upstream on CPU 1), on SQLite
  and on PostgreSQL + Redis: the gateway's own CPU, and the PostgreSQL and Redis servers' CPU
  per request beside it;
* **round trips**: PostgreSQL transactions and Redis commands per request for an unlimited key,
  from the servers' own counters (`pg_stat_database.xact_commit`, `INFO stats`).

    python bench/workers.py                      # PostgreSQL and Redis on 127.0.0.1 (defaults)
    python bench/workers.py --rounds 3 --seconds 10
    python bench/workers.py --pg postgresql://postgres@127.0.0.1:5432/test --redis redis://127.0.0.1:6379/3

The PostgreSQL data goes to a schema of its own, dropped at the end; Redis uses its own database
number (default 3), flushed before each start.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import proc
import systems
from loadgen import Target, closed_loop

CLK = os.sysconf("SC_CLK_TCK")


def cpu_of(pattern: str) -> float:
    """CPU seconds (utime+stime) of every process whose command line starts with `pattern`."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            if not Path(cmd).name.startswith(pattern) and not cmd.startswith(pattern):
                continue
            st = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        f = st[st.rindex(")") + 2:].split()
        total += int(f[11]) + int(f[12])
    return total / CLK


def redis_commands(url: str) -> int:
    import redis

    r = redis.Redis.from_url(url)
    try:
        return int(r.info("stats")["total_commands_processed"])
    finally:
        r.close()


def pg_commits(url: str) -> int:
    out = subprocess.run(["psql", url.split("?")[0], "-Atc",
                          "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"],
                         capture_output=True, text=True, timeout=30)
    return int(out.stdout.strip() or 0)


def wrk_available() -> str | None:
    return shutil.which("wrk")


def wrk(target: Target, seconds: float, connections: int, threads: int = 1) -> tuple[float, int]:
    """Requests per second and non-2xx/socket errors, from wrk with a POST body and the key."""
    body = json.dumps({"model": target.model_prefix + "mock", "messages": [{"role": "user", "content": "hi"}]})
    headers = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in target.headers.items())
    script = (f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
              f'wrk.headers["Content-Type"] = "application/json"\n{headers}')
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run([wrk_available() or "wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s",
                              "-s", f.name, f"http://{target.host}:{target.port}{target.path}"],
                             capture_output=True, text=True, timeout=seconds + 60).stdout
    finally:
        os.unlink(f.name)
    rps = next(float(line.split()[1]) for line in out.splitlines() if line.startswith("Requests/sec"))
    errors = 0
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Non-2xx"):
            errors += int(line.split()[-1])
        elif line.startswith("Socket errors"):
            errors += sum(int(p.split()[-1]) for p in line.split(":", 1)[1].split(","))
    return rps, errors


def saturate(target: Target, seconds: float) -> tuple[float, int]:
    if wrk_available():
        return wrk(target, seconds, 32)
    res = asyncio.run(closed_loop(target, "mock", 32, 10**7, seconds))
    return res.rps, res.errors


def start(upstream: systems.System, workers: int, cpus: str, store: dict[str, str], name: str) -> systems.System:
    saved = dict(os.environ)
    os.environ.update(store)
    try:
        return systems.start_turnout(upstream.target.port, ["mock"], cpus, workers=workers, name=name)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def flush_redis(url: str) -> None:
    import redis

    r = redis.Redis.from_url(url)
    try:
        r.flushdb()
    finally:
        r.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pg", default=os.environ.get("TURNOUT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/3")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    for port in (5432, 6379):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                sys.exit(f"nothing listens on 127.0.0.1:{port} (PostgreSQL 5432, Redis 6379)")

    from turnout.store.postgres import PostgresStore

    makers: list[PostgresStore] = []

    def fresh() -> dict[str, str]:
        """PostgreSQL (a new schema: each start creates its own key) and Redis."""
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        makers.append(PostgresStore(args.pg, schema=schema))
        return {"TURNOUT_DATABASE_URL": f"{args.pg}?search_path={schema}", "TURNOUT_REDIS_URL": args.redis}

    loadgen = "wrk (C)" if wrk_available() else "bench/loadgen.py closed loop (Python; install Debian's wrk for a lighter load)"
    print(f"load generator: {loadgen}; {os.cpu_count()} CPUs", flush=True)
    proc.raise_nofile()
    systems.WORK.mkdir(parents=True, exist_ok=True)
    upstream = systems.start_upstream(",".join(str(c) for c in range(os.cpu_count() or 1)))
    figures: dict[str, list[float]] = {}

    def note(name: str, value: float) -> None:
        figures.setdefault(name, []).append(value)

    try:
        for rnd in range(args.rounds):
            # throughput: 1 and 2 workers on PostgreSQL + Redis, all cores
            for workers in (1, 2):
                flush_redis(args.redis)
                everywhere = ",".join(str(c) for c in range(os.cpu_count() or 1))
                gw = start(upstream, workers, everywhere, fresh(), f"fleet-w{workers}")
                try:
                    saturate(gw.target, 3)  # warm-up: pools, caches, both workers
                    t0 = time.monotonic()
                    before = (proc.usage(gw.pid).cpu_s if gw.pid else 0.0, proc.usage(upstream.pid).cpu_s if upstream.pid else 0.0,
                              cpu_of("postgres"), cpu_of("wrk"), proc.system_busy_s())
                    rps, errors = saturate(gw.target, args.seconds)
                    after = (proc.usage(gw.pid).cpu_s if gw.pid else 0.0, proc.usage(upstream.pid).cpu_s if upstream.pid else 0.0,
                             cpu_of("postgres"), cpu_of("wrk"), proc.system_busy_s())
                    elapsed = time.monotonic() - t0
                finally:
                    gw.stop()
                n = max(rps * args.seconds, 1.0)
                gw_ms, up_ms, pg_ms, lg_ms = (1000 * (b - a) / n for a, b in zip(before[:4], after[:4], strict=True))
                note(f"rps_workers_{workers}", rps)
                note(f"errors_workers_{workers}", errors)
                note(f"gateway_cpu_ms_workers_{workers}", gw_ms)
                note(f"cores_busy_workers_{workers}", (after[4] - before[4]) / elapsed)
                note(f"others_cpu_ms_workers_{workers}", up_ms + pg_ms + lg_ms)
                print(f"round {rnd + 1}: --workers {workers} on PostgreSQL + Redis: {rps:.0f} req/s ({errors} errors); "
                      f"CPU ms per request: gateway {gw_ms:.3f}, upstream {up_ms:.3f}, PostgreSQL {pg_ms:.3f}, wrk {lg_ms:.3f}; "
                      f"cores busy {(after[4] - before[4]) / elapsed:.2f}", flush=True)
            # CPU per request: one pinned worker, SQLite vs PostgreSQL + Redis
            proc.pin({1})
            try:
                for kind, store in (("sqlite", {}), ("pg_redis", fresh())):
                    flush_redis(args.redis)
                    gw = start(upstream, 1, "0", store, f"fleet-cpu-{kind}")
                    try:
                        asyncio.run(closed_loop(gw.target, "mock", 8, 2000, 3))
                        time.sleep(0.5)  # the warm-up's batched writes land first
                        g0, p0, r0 = proc.usage(gw.pid).cpu_s if gw.pid else 0.0, cpu_of("postgres"), cpu_of("redis-server")
                        c0, k0 = (pg_commits(args.pg), redis_commands(args.redis)) if store else (0, 0)
                        res = asyncio.run(closed_loop(gw.target, "mock", 16, 10**7, args.seconds))
                        time.sleep(1.5)  # and this run's (PostgreSQL publishes its counters within a second)
                        g1, p1, r1 = proc.usage(gw.pid).cpu_s if gw.pid else 0.0, cpu_of("postgres"), cpu_of("redis-server")
                        c1, k1 = (pg_commits(args.pg), redis_commands(args.redis)) if store else (0, 0)
                    finally:
                        gw.stop()
                    n = max(len(res.ok), 1)
                    note(f"cpu_ms_{kind}", 1000 * (g1 - g0) / n)
                    if store:
                        note("cpu_ms_postgres_server", 1000 * (p1 - p0) / n)
                        note("cpu_ms_redis_server", 1000 * (r1 - r0) / n)
                        note("pg_transactions_per_request", (c1 - c0 - 1) / n)  # less the first counter read
                        note("redis_commands_per_request", (k1 - k0 - 1) / n)
                    print(f"round {rnd + 1}: one worker on {kind}: {1000 * (g1 - g0) / n:.3f} ms CPU per request", flush=True)
            finally:
                proc.pin(set(range(os.cpu_count() or 1)))
    finally:
        upstream.stop()
        for maker in makers:
            maker.drop_schema()
            maker.close()
        flush_redis(args.redis)
    med = {k: statistics.median(v) for k, v in figures.items()}
    med["scaling"] = med["rps_workers_2"] / med["rps_workers_1"]
    print("\nmedian over rounds:")
    for k, v in med.items():
        print(f"  {k:32} {v:10.3f}")
    if args.out:
        args.out.write_text(json.dumps({"loadgen": loadgen, "rounds": figures, "median": med}, indent=1))


if __name__ == "__main__":
    main()
