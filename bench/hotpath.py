"""What turnout adds to one chat completion: CPU per request and added latency, A/B.

The figures of issue 16's goal, for one or more builds of turnout side by side in one run:

* CPU per request at saturation (closed loop, c=16): the gateway process tree's utime+stime
  over the requests it answered;
* added p50/p99 at a fixed 20 and 50 requests/s (open loop: each request sent on its own
  schedule, so a request that finds the process idle pays for waking it), against the fake
  upstream measured directly in the same round;
* added p50 at c=1 (closed loop), the figure that hides the idle-wake cost.

Builds are given as ``NAME=SRC`` (a ``src`` folder put first on the server's ``PYTHONPATH``;
``.`` for the installed one); rounds alternate between them so that machine noise falls on all
alike. Placement as in run.py: the gateway alone on CPU 0, this process and the upstream on CPU 1.

    python bench/hotpath.py                                  # the installed turnout
    python bench/hotpath.py --build before=/work/wt/base/src --build after=src --rounds 3
    python bench/hotpath.py --env TURNOUT_LOG_LEVEL=warning  # env for every build's server
    python bench/hotpath.py --floor canned,proxy              # and servers that do almost nothing (floor.py)
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import floor
import proc
import systems
from loadgen import Result, Target, closed_loop, fixed_rate, pct


def p(values: list[float], q: float) -> float:
    return pct(values, q) if values else float("nan")


def lat_ms(r: Result) -> list[float]:
    return [s.latency_ns / 1e6 for s in r.ok]


async def measure(gw: systems.System, direct: Target, args: argparse.Namespace) -> dict[str, Any]:
    t = gw.target
    out: dict[str, Any] = {}
    await closed_loop(t, "mock", 8, 2000, 3)  # warm-up: pools, caches, first-request paths
    # saturation
    gc.collect()
    before = proc.usage(gw.pid) if gw.pid else None
    res = await closed_loop(t, "mock", 16, 10**7, args.saturation)
    after = proc.usage(gw.pid) if gw.pid else None
    out["max_rps"] = res.rps
    out["errors"] = res.errors
    if before and after and res.ok:
        out["cpu_ms_per_req"] = 1000 * (after.cpu_s - before.cpu_s) / len(res.ok)
    if args.saturation_only:
        return out
    # c=1
    d1 = await closed_loop(direct, "mock", 1, 10**7, args.c1)
    g1 = await closed_loop(t, "mock", 1, 10**7, args.c1)
    out["c1_added_p50"] = p(lat_ms(g1), 50) - p(lat_ms(d1), 50)
    # open loop
    for rate in args.rates:
        dr = await fixed_rate(direct, "mock", rate, args.open)
        before = proc.usage(gw.pid) if gw.pid else None
        gr = await fixed_rate(t, "mock", rate, args.open)
        after = proc.usage(gw.pid) if gw.pid else None
        out[f"r{rate:g}_added_p50"] = p(lat_ms(gr), 50) - p(lat_ms(dr), 50)
        out[f"r{rate:g}_added_p99"] = p(lat_ms(gr), 99) - p(lat_ms(dr), 99)
        out[f"r{rate:g}_p50"] = p(lat_ms(gr), 50)
        if before and after and gr.ok:
            out[f"r{rate:g}_cpu_ms_per_req"] = 1000 * (after.cpu_s - before.cpu_s) / len(gr.ok)
        out["errors"] += gr.errors
    out["rss_mb"] = (proc.usage(gw.pid).rss / 2**20) if gw.pid else float("nan")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", action="append", default=[], help="NAME=SRC (repeatable); default: the installed one")
    ap.add_argument("--env", action="append", default=[], help="K=V for every server (repeatable)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--saturation", type=float, default=8, help="seconds at c=16")
    ap.add_argument("--c1", type=float, default=4, help="seconds at c=1")
    ap.add_argument("--open", type=float, default=10, help="seconds per open-loop rate")
    ap.add_argument("--rates", type=float, nargs="*", default=[20, 50])
    ap.add_argument("--saturation-only", action="store_true", help="only CPU per request and max req/s (quick A/B)")
    ap.add_argument("--gateway-cpu", type=int, default=0)
    ap.add_argument("--loadgen-cpu", type=int, default=1)
    ap.add_argument("--floor", default="", help="also measure these floor servers (floor.py: raw,canned,proxy)")
    ap.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = ap.parse_args()
    builds = [b.split("=", 1) for b in args.build] or [["installed", "."]]
    builds += [[f"floor-{kind}", f"floor:{kind}"] for kind in filter(None, args.floor.split(","))]
    extra_env = dict(e.split("=", 1) for e in args.env)

    proc.pin({args.loadgen_cpu})
    proc.raise_nofile()
    systems.WORK.mkdir(parents=True, exist_ok=True)
    upstream = systems.start_upstream(str(args.loadgen_cpu))
    results: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in builds}
    base_env = dict(os.environ)
    try:
        for rnd in range(args.rounds):
            for name, src in builds:
                os.environ.clear()
                os.environ.update(base_env)
                os.environ.update(extra_env)
                if src.startswith("floor:"):
                    gw = floor.start(src.split(":", 1)[1], upstream.target.port, str(args.gateway_cpu))
                else:
                    os.environ.update(systems.with_src(dict(os.environ), src))
                    gw = systems.start_turnout(upstream.target.port, ["mock"], str(args.gateway_cpu), name=f"hotpath-{name}")
                try:
                    time.sleep(1.0)
                    idle = proc.usage(gw.pid).rss / 2**20 if gw.pid else float("nan")
                    fig = asyncio.run(measure(gw, upstream.target, args))
                    fig["idle_rss_mb"] = idle
                finally:
                    gw.stop()
                results[name].append(fig)
                print(f"round {rnd + 1} {name}: " + ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                                                         for k, v in fig.items()), flush=True)
    finally:
        os.environ.clear()
        os.environ.update(base_env)
        upstream.stop()
    print("\nmedian over rounds:")
    keys = list(next(iter(results.values()))[0].keys())
    print(f"{'figure':24}" + "".join(f"{name:>14}" for name, _ in builds))
    for k in keys:
        row = [statistics.median(r[k] for r in results[name]) for name, _ in builds]
        print(f"{k:24}" + "".join(f"{v:14.3f}" for v in row))
    if args.out:
        args.out.write_text(json.dumps({"builds": dict(builds), "env": extra_env, "results": results}, indent=1))


if __name__ == "__main__":
    main()
