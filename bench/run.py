"""One command that benchmarks turnout against the upstream, LiteLLM and Portkey.

This module owns the run: CPU placement, the phase list and its bounds, the
order of systems, measuring each phase (client latencies, gateway CPU and RSS
from /proc), and handing the figures to :mod:`report`.

Usage::

    python bench/run.py                 # full run (~20 minutes)
    python bench/run.py --quick         # ~3-minute smoke
    python bench/run.py --only turnout,direct --soak-seconds 60

Placement: the gateway under test runs alone on the gateway core (default 0);
this process (the load generator) and the fake upstream share the other core.
All load goes to 127.0.0.1 and every phase is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import proc
import report
import systems
from loadgen import Result, Target, closed_loop, fixed_rate, hold_streams, pct

ALL = ("direct", "turnout", "litellm", "portkey")


@dataclass(frozen=True)
class Plan:
    """Bounds of every phase (counts, seconds, rates)."""

    c1_requests: int = 3000
    c1_seconds: float = 20
    rate_rps: float = 50
    rate_seconds: float = 20
    conc_seconds: float = 10
    stream_requests: int = 500
    stream_seconds: float = 20
    stream_chunks: int = 64
    paced_streams: int = 64
    paced_chunk_ms: int = 2
    hold_streams: int = 1000
    hold_chunk_ms: int = 100
    hold_chunks: int = 50
    soak_seconds: float = 180
    soak_max_rps: float = 300
    ceiling_seconds: float = 5


QUICK = Plan(
    c1_requests=600,
    c1_seconds=8,
    rate_seconds=6,
    conc_seconds=4,
    stream_requests=120,
    stream_seconds=8,
    paced_streams=24,
    hold_streams=300,
    hold_chunks=20,
    soak_seconds=20,
    ceiling_seconds=3,
)


def lat_ms(r: Result, attr: str = "latency_ns") -> list[float]:
    return [getattr(s, attr) / 1e6 for s in r.ok]


def dist(values: list[float]) -> dict[str, float]:
    return {"p50": pct(values, 50), "p90": pct(values, 90), "p99": pct(values, 99), "n": float(len(values))}


class Runner:
    """Runs every phase against one system and collects its figures."""

    def __init__(self, plan: Plan, gw_cpu: int, lg_cpu: int, upstream_pid: int | None = None) -> None:
        self.upstream_pid = upstream_pid
        self.plan = plan
        self.gw_cpu = gw_cpu
        self.lg_cpu = lg_cpu

    def sample(self, pid: int | None) -> proc.Usage | None:
        return proc.usage(pid) if pid else None

    async def measured(self, sys_: systems.System, coro: Any) -> tuple[Result, dict[str, float]]:
        """Run a load coroutine and account the system's CPU and RSS around it."""
        gc.collect()
        gc.disable()
        before = self.sample(sys_.pid)
        try:
            res: Result = await coro
        finally:
            gc.enable()
        after = self.sample(sys_.pid)
        extra: dict[str, float] = {
            "rps": res.rps,
            "errors": float(res.errors),
            "ok": float(len(res.ok)),
            "elapsed_s": res.elapsed_s,
        }
        if before and after:
            cpu = after.cpu_s - before.cpu_s
            extra["cpu_s"] = cpu
            extra["cpu_util"] = cpu / res.elapsed_s if res.elapsed_s else 0.0
            extra["cpu_ms_per_req"] = 1000 * cpu / len(res.ok) if res.ok else 0.0
            extra["rss_mb"] = after.rss / 2**20
        if res.errors:
            print(f"      errors: {res.error_kinds()}", flush=True)
            extra["error_kinds"] = res.error_kinds()  # type: ignore[assignment]
        return res, extra

    async def run_system(self, sys_: systems.System, direct_rps: float | None) -> dict[str, Any]:
        p = self.plan
        t: Target = sys_.target
        out: dict[str, Any] = {"name": sys_.name, "version": sys_.version, "notes": sys_.notes}
        fast = "mock"
        mine = {os.getpid(), self.upstream_pid or 0, sys_.pid or 0}
        busy0, own0, wall0 = proc.system_busy_s(), self.own_cpu(mine), time.monotonic()
        start_usage = self.sample(sys_.pid)
        if start_usage:
            out["rss_start_mb"] = start_usage.rss / 2**20

        def log(msg: str) -> None:
            print(f"    [{sys_.name}] {msg}", flush=True)

        # warm-up (not reported)
        await closed_loop(t, fast, 4, 200, 15)
        await closed_loop(t, fast, 2, 20, 15, stream=True)
        await asyncio.sleep(1.0)
        idle = self.sample(sys_.pid)
        if idle:
            out["rss_idle_mb"] = idle.rss / 2**20
            log(f"idle RSS {out['rss_idle_mb']:.1f} MB (at start {out.get('rss_start_mb', 0):.1f} MB)")

        # latency at concurrency 1
        res, ex = await self.measured(sys_, closed_loop(t, fast, 1, p.c1_requests, p.c1_seconds))
        out["c1"] = {**dist(lat_ms(res)), **ex}
        log(
            f"c=1   p50 {out['c1']['p50']:.3f} ms  p99 {out['c1']['p99']:.3f} ms  "
            f"cpu/req {ex.get('cpu_ms_per_req', 0):.3f} ms"
        )

        # low fixed rate (open loop)
        res, ex = await self.measured(sys_, fixed_rate(t, fast, p.rate_rps, p.rate_seconds))
        out["rate"] = {**dist(lat_ms(res)), **ex, "rate": p.rate_rps}
        log(f"{p.rate_rps:.0f}/s p50 {out['rate']['p50']:.3f} ms  p99 {out['rate']['p99']:.3f} ms")

        # concurrency 16 and 64 (closed loop; saturation throughput)
        for c in (16, 64):
            res, ex = await self.measured(sys_, closed_loop(t, fast, c, 10**7, p.conc_seconds))
            out[f"c{c}"] = {**dist(lat_ms(res)), **ex}
            log(
                f"c={c:<3} p50 {out[f'c{c}']['p50']:.3f} ms  p99 {out[f'c{c}']['p99']:.3f} ms  "
                f"{res.rps:.0f} req/s  errors {res.errors}  cpu/req {ex.get('cpu_ms_per_req', 0):.3f} ms  "
                f"cpu util {ex.get('cpu_util', 0):.2f}"
            )
        good = [out[k]["rps"] for k in ("c16", "c64") if out[k]["errors"] == 0]
        out["max_rps"] = max(good) if good else 0.0
        sat = [k for k in ("c16", "c64") if out[k]["errors"] == 0 and out[k]["rps"] == out["max_rps"]]
        out["max_rps_phase"] = sat[0] if sat else ""
        if sys_.pid:
            # CPU per request at saturation: both concurrency phases together
            cpu = sum(out[k].get("cpu_s", 0.0) for k in ("c16", "c64"))
            n = sum(out[k]["ok"] for k in ("c16", "c64"))
            out["cpu_ms_per_req"] = 1000 * cpu / n if n else 0.0

        # streaming: TTFB and total at concurrency 1
        spec = f"mock-n{p.stream_chunks}"
        res, ex = await self.measured(sys_, closed_loop(t, spec, 1, p.stream_requests, p.stream_seconds, stream=True))
        out["stream"] = {
            "ttfb": dist(lat_ms(res, "ttfb_ns")),
            "total": dist(lat_ms(res)),
            **ex,
            "events": float(res.ok[0].events) if res.ok else 0.0,
        }
        log(
            f"stream ttfb p50 {out['stream']['ttfb']['p50']:.3f} ms  total p50 {out['stream']['total']['p50']:.3f} ms"
            f"  events {out['stream']['events']:.0f}  errors {res.errors}"
        )

        # paced streams: inter-chunk gaps
        spec = f"mock-c{p.paced_chunk_ms}-n{p.stream_chunks}"
        res, ex = await self.measured(sys_, closed_loop(t, spec, 8, p.paced_streams, 60, stream=True, gaps=True))
        gaps = [g / 1e6 for s in res.ok for g in s.gaps_ns]
        out["paced"] = {
            "gap": dist(gaps),
            "ttfb": dist(lat_ms(res, "ttfb_ns")),
            **ex,
            "chunk_ms": float(p.paced_chunk_ms),
        }
        log(f"paced gap p50 {out['paced']['gap']['p50']:.3f} ms  p99 {out['paced']['gap']['p99']:.3f} ms")

        # many concurrent slow streams
        spec = f"mock-c{p.hold_chunk_ms}-n{p.hold_chunks}"
        peak = [0]
        stop = asyncio.Event()

        async def watch() -> None:
            while not stop.is_set() and sys_.pid:
                u = self.sample(sys_.pid)
                if u:
                    peak[0] = max(peak[0], u.rss)
                try:
                    await asyncio.wait_for(stop.wait(), 0.5)
                except TimeoutError:
                    pass

        stream_s = p.hold_chunk_ms * p.hold_chunks / 1000
        watcher = asyncio.get_running_loop().create_task(watch())
        res, ex = await self.measured(sys_, hold_streams(t, spec, p.hold_streams, timeout=stream_s * 4 + 30))
        stop.set()
        await watcher
        gaps = [g / 1e6 for s in res.ok for g in s.gaps_ns]
        out["hold"] = {
            "streams": float(p.hold_streams),
            "completed": float(len(res.ok)),
            "ttfb": dist(lat_ms(res, "ttfb_ns")),
            "gap": dist(gaps),
            "total": dist(lat_ms(res)),
            "peak_rss_mb": peak[0] / 2**20,
            **ex,
            "stream_s": stream_s,
        }
        log(
            f"hold {len(res.ok)}/{p.hold_streams} streams ok, ttfb p99 {out['hold']['ttfb']['p99']:.1f} ms, "
            f"gap p99 {out['hold']['gap']['p99']:.1f} ms, peak RSS {peak[0] / 2**20:.1f} MB"
        )

        await asyncio.sleep(2.0)
        after = self.sample(sys_.pid)
        if after:
            out["rss_after_load_mb"] = after.rss / 2**20

        # soak: fixed rate (half the measured max, capped), every 4th a stream; RSS sampled
        if sys_.pid and p.soak_seconds > 0 and sys_.name != "direct":
            rate = min(p.soak_max_rps, max(5.0, 0.25 * out["max_rps"]))
            samples: list[tuple[float, float]] = []
            stop = asyncio.Event()
            t0 = time.monotonic()

            async def rss_watch() -> None:
                while not stop.is_set():
                    u = self.sample(sys_.pid)
                    if u:
                        samples.append((time.monotonic() - t0, u.rss / 2**20))
                    try:
                        await asyncio.wait_for(stop.wait(), 5.0)
                    except TimeoutError:
                        pass

            watcher = asyncio.get_running_loop().create_task(rss_watch())
            res, ex = await self.measured(sys_, fixed_rate(t, fast, rate, p.soak_seconds, stream_every=4))
            stop.set()
            await watcher
            # growth: mean of the last quarter minus mean of the first quarter after a 10% settle
            body = [s for s in samples if s[0] >= 0.1 * p.soak_seconds] or samples
            q = max(1, len(body) // 4)
            first = sum(v for _, v in body[:q]) / q
            last = sum(v for _, v in body[-q:]) / q
            out["soak"] = {
                "seconds": p.soak_seconds,
                "rate": rate,
                "requests": float(len(res.samples)),
                "rss_first_mb": first,
                "rss_last_mb": last,
                "growth_mb": last - first,
                "rss_samples": samples,
                **dist(lat_ms(res)),
                **ex,
            }
            log(
                f"soak {p.soak_seconds:.0f}s at {rate:.0f}/s: RSS {first:.1f} -> {last:.1f} MB "
                f"({last - first:+.1f}), errors {res.errors}"
            )
        other = (proc.system_busy_s() - busy0) - (self.own_cpu(mine) - own0)
        out["background_cores"] = max(0.0, other / (time.monotonic() - wall0))
        log(f"other processes on the machine kept {out['background_cores']:.2f} cores busy meanwhile")
        return out

    def own_cpu(self, roots: set[int]) -> float:
        """CPU seconds of the harness's own process trees (loadgen, upstream, system under test)."""
        return sum(proc.usage(r).cpu_s for r in roots if r)

    async def wait_quiet(self, max_wait: float, threshold: float = 0.5) -> float:
        """Wait (up to ``max_wait`` s) until other processes use < ``threshold`` cores; return that load."""
        mine = {os.getpid(), self.upstream_pid or 0}
        deadline = time.monotonic() + max_wait
        while True:
            b0, o0, t0 = proc.system_busy_s(), self.own_cpu(mine), time.monotonic()
            await asyncio.sleep(2.0)
            load = ((proc.system_busy_s() - b0) - (self.own_cpu(mine) - o0)) / (time.monotonic() - t0)
            if load < threshold or time.monotonic() >= deadline:
                return load
            print(f"    waiting for a quieter machine: other processes use {load:.2f} cores", flush=True)

    async def ceiling(self, upstream: systems.System) -> dict[str, float]:
        """The upstream's own ceiling: upstream alone on the gateway core."""
        assert upstream.pid is not None
        proc.pin_tree(upstream.pid, {self.gw_cpu})
        try:
            await closed_loop(upstream.target, "mock", 16, 2000, 5)
            res, ex = await self.measured(
                upstream, closed_loop(upstream.target, "mock", 16, 10**7, self.plan.ceiling_seconds)
            )
            res2, ex2 = await self.measured(
                upstream, closed_loop(upstream.target, "mock-n64", 16, 10**7, self.plan.ceiling_seconds, stream=True)
            )
        finally:
            proc.pin_tree(upstream.pid, {self.lg_cpu})
        return {
            "rps": res.rps,
            "cpu_ms_per_req": ex.get("cpu_ms_per_req", 0.0),
            "cpu_util": ex.get("cpu_util", 0.0),
            "errors": float(res.errors),
            "stream_rps": res2.rps,
            "stream_cpu_ms_per_req": ex2.get("cpu_ms_per_req", 0.0),
        }


def start(name: str, upstream: systems.System, specs: list[str], cpus: str) -> systems.System:
    port = upstream.target.port
    if name == "direct":
        return upstream
    if name == "turnout":
        return systems.start_turnout(port, specs, cpus)
    if name == "litellm":
        return systems.start_litellm(port, specs, cpus)
    if name == "portkey":
        return systems.start_portkey(port, cpus)
    raise ValueError(name)


async def scale_check(
    runner: Runner, upstream: systems.System, specs: list[str], workers: int, seconds: float
) -> dict[str, Any]:
    """``turnout serve --workers N`` on all cores: saturation throughput only."""
    cpus = ",".join(str(c) for c in sorted({runner.gw_cpu, runner.lg_cpu}))
    sys_ = systems.start_turnout(upstream.target.port, specs, cpus, workers=workers, name=f"turnout-w{workers}")
    try:
        await closed_loop(sys_.target, "mock", 16, 500, 15)
        res, ex = await runner.measured(sys_, closed_loop(sys_.target, "mock", 64, 10**7, seconds))
        return {"workers": float(workers), "rps": res.rps, "errors": float(res.errors), **ex, "cpus": cpus}
    finally:
        sys_.stop()


async def main_async(args: argparse.Namespace) -> int:
    plan = QUICK if args.quick else Plan()
    if args.soak_seconds is not None:
        plan = Plan(**{**plan.__dict__, "soak_seconds": args.soak_seconds})
    names = [n.strip() for n in args.only.split(",")] if args.only else list(ALL)
    for n in names:
        if n not in ALL:
            raise SystemExit(f"unknown system {n!r}; choose from {', '.join(ALL)}")
    if "direct" not in names:
        names.insert(0, "direct")  # the floor is always measured
    names = [n for n in ALL if n in names]
    if "turnout" in names and not systems.turnout_available():
        print("  turnout is not importable in this Python (pip install -e .); skipping it", flush=True)
        names.remove("turnout")

    gw, lg = args.gateway_cpu, args.loadgen_cpu
    if args.nice:
        proc.renice(0, args.nice)
        systems.NICE = args.nice  # every process started from here is reniced the same way
    proc.pin({lg})
    nofile = proc.raise_nofile()
    systems.WORK.mkdir(parents=True, exist_ok=True)
    machine = proc.machine()
    placement = {"gateway_cpu": gw, "loadgen_and_upstream_cpu": lg, "nofile": nofile, "nice": args.nice}
    print(f"machine: {machine}", flush=True)
    print(f"placement: gateway on CPU {gw}; load generator and upstream on CPU {lg} (taskset)", flush=True)

    specs = [
        "mock",
        f"mock-n{plan.stream_chunks}",
        f"mock-c{plan.paced_chunk_ms}-n{plan.stream_chunks}",
        f"mock-c{plan.hold_chunk_ms}-n{plan.hold_chunks}",
    ]
    upstream = systems.start_upstream(str(lg))
    runner = Runner(plan, gw, lg, upstream.pid)
    started = time.time()
    results: dict[str, Any] = {
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "placement": placement,
        "plan": plan.__dict__,
        "quick": bool(args.quick),
        "systems": {},
    }
    try:
        print("upstream ceiling (upstream alone on the gateway core) ...", flush=True)
        results["upstream_ceiling"] = await runner.ceiling(upstream)
        c = results["upstream_ceiling"]
        print(
            f"  upstream: {c['rps']:.0f} req/s at {c['cpu_ms_per_req'] * 1000:.0f} us CPU/request; "
            f"streams of {plan.stream_chunks} chunks: {c['stream_rps']:.0f}/s "
            f"at {c['stream_cpu_ms_per_req'] * 1000:.0f} us CPU/stream",
            flush=True,
        )
        for name in names:
            print(f"== {name}", flush=True)
            if args.quiet_wait > 0:
                load = await runner.wait_quiet(args.quiet_wait)
                print(f"    background load before start: {load:.2f} cores", flush=True)
            try:
                sys_ = start(name, upstream, specs, str(gw))
            except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                print(f"  could not start {name}: {e}", flush=True)
                results["systems"][name] = {"name": name, "error": str(e)}
                continue
            try:
                results["systems"][name] = await runner.run_system(sys_, None)
            except Exception as e:
                print(f"  {name} failed: {e!r}", flush=True)
                results["systems"][name] = {"name": name, "error": repr(e)}
            finally:
                if sys_ is not upstream:
                    sys_.stop()
            if name == "turnout" and args.scale_workers > 1 and not args.quick:
                print(f"== turnout --workers {args.scale_workers} (all cores, throughput only)", flush=True)
                try:
                    results["scale"] = await scale_check(runner, upstream, specs, args.scale_workers, plan.conc_seconds)
                    print(f"    {results['scale']['rps']:.0f} req/s with {args.scale_workers} workers", flush=True)
                except Exception as e:
                    print(f"  scale check failed: {e!r}", flush=True)
        u = proc.usage(upstream.pid) if upstream.pid else None
        if u:
            results["upstream_rss_mb"] = u.rss / 2**20
    finally:
        upstream.stop()
    results["duration_s"] = time.time() - started
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    outdir = Path(args.out)
    outdir.mkdir(parents=True, exist_ok=True)
    md = report.markdown(results)
    (outdir / f"{stamp}.json").write_text(json.dumps(results, indent=1) + "\n")
    (outdir / f"{stamp}.md").write_text(md)
    if not args.quick or not (outdir / "latest.md").exists():
        (outdir / "latest.md").write_text(md)
    if not args.quick and args.only is None and outdir == Path(__file__).resolve().parent / "results":
        report.update_readme(Path(__file__).resolve().parent / "README.md", md)
    print()
    print(md)
    print(f"wrote {outdir / stamp}.json and .md ({results['duration_s'] / 60:.1f} min)")
    return 0


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM behaves like Ctrl-C, so every started system is stopped on the way out."""
    raise KeyboardInterrupt


def main() -> None:
    ap = argparse.ArgumentParser(description="turnout benchmark harness (loopback only)")
    ap.add_argument("--quick", action="store_true", help="~3-minute smoke with small bounds")
    ap.add_argument("--only", help=f"comma list from {','.join(ALL)} (direct is always included)")
    ap.add_argument("--soak-seconds", type=float, default=None, help="soak length per gateway (default 180)")
    ap.add_argument(
        "--quiet-wait", type=float, default=45, help="wait up to N s per system for other processes to go quiet"
    )
    ap.add_argument(
        "--nice",
        type=int,
        default=0,
        help="renice the whole run (e.g. -10, needs root) so other work on a shared machine disturbs it less",
    )
    ap.add_argument("--gateway-cpu", type=int, default=0)
    ap.add_argument("--loadgen-cpu", type=int, default=1)
    ap.add_argument("--scale-workers", type=int, default=2, help="turnout --workers N check (0 to skip)")
    ap.add_argument(
        "--local",
        action="store_true",
        help="issue 4 hook: tokens/s through turnout vs the local model binding (not yet wired)",
    )
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = ap.parse_args()
    if args.local:
        print("--local: the local-model scenario is not wired yet (issue 4); see bench/README.md", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        import uvloop
    except ImportError:
        sys.exit(asyncio.run(main_async(args)))
    sys.exit(uvloop.run(main_async(args)))


if __name__ == "__main__":
    main()
