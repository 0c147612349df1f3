"""Profile turnout under the bench workload with py-spy.

This module owns the profiling helper for the gateway author: it starts the
fake upstream and turnout exactly as ``run.py`` does (same placement, same
config, auth and accounting on), drives a bounded closed-loop load against it
while ``py-spy record`` samples the gateway, and writes

* ``bench/results/profile-<kind>-<stamp>.txt`` -- the top functions by own
  samples and by inclusive samples (aggregated per function from py-spy's
  collapsed stacks; the raw stacks stay in ``bench/.work/`` for a flame graph
  tool).

py-spy is installed on first use into ``bench/.venv-tools`` (not committed).

Usage::

    python bench/profile.py                     # non-streaming, c=16, 20 s
    python bench/profile.py --stream --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import proc
import systems
from loadgen import closed_loop

TOOLS = systems.BENCH / ".venv-tools"


def pyspy() -> Path:
    """Path of py-spy, installing it into bench/.venv-tools when missing."""
    exe = TOOLS / "bin" / "py-spy"
    if not exe.exists():
        print("  installing py-spy into bench/.venv-tools ...", flush=True)
        if not (TOOLS / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(TOOLS)], check=True)
        subprocess.run([str(TOOLS / "bin" / "pip"), "install", "-q", "py-spy"], check=True)
    return exe


def summarize(collapsed: Path, top: int) -> str:
    """Top functions by own and by inclusive samples from a collapsed-stack file."""
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        # "func (path/file.py:123)" -> "func (path/file.py)": aggregate per function
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        own[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    out = [f"{total} samples", "", f"top {top} by own samples:"]
    out += [f"  {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    out += ["", f"top {top} by inclusive samples:"]
    out += [f"  {100 * n / total:5.1f}%  {f}" for f, n in incl.most_common(top)]
    return "\n".join(out) + "\n"


async def drive(target: systems.Target, seconds: float, concurrency: int, stream: bool) -> None:
    model = "mock-n64" if stream else "mock"
    res = await closed_loop(target, model, concurrency, 10**7, seconds, stream=stream)
    print(f"  load: {res.rps:.0f} req/s, {res.errors} errors", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description="py-spy profile of turnout under bench load (loopback only)")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--stream", action="store_true")
    ap.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--blocking", action="store_true", help="pause the gateway for each sample: whole stacks, slower")
    ap.add_argument("--gateway-cpu", type=int, default=0)
    ap.add_argument("--loadgen-cpu", type=int, default=1)
    args = ap.parse_args()

    exe = pyspy()
    proc.pin({args.loadgen_cpu})
    proc.raise_nofile()
    systems.WORK.mkdir(parents=True, exist_ok=True)
    specs = ["mock", "mock-n64"]
    upstream = systems.start_upstream(str(args.loadgen_cpu))
    gw = None
    try:
        gw = systems.start_turnout(upstream.target.port, specs, str(args.gateway_cpu))
        assert gw.pid is not None
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        kind = "stream" if args.stream else "chat"
        outdir = systems.BENCH / "results"
        outdir.mkdir(exist_ok=True)
        raw = systems.WORK / f"profile-{kind}-{stamp}.collapsed"
        asyncio.run(drive(gw.target, 3, 4, args.stream))  # warm-up
        spy = subprocess.Popen(
            [
                "taskset",
                "-c",
                str(args.loadgen_cpu),
                str(exe),
                "record",
                "--pid",
                str(gw.pid),
                "--rate",
                str(args.rate),
                "--duration",
                str(int(args.seconds)),
                "--format",
                "raw",
                "-o",
                str(raw),
                *([] if args.blocking else ["--nonblocking"]),
            ],
        )
        time.sleep(1.0)
        asyncio.run(drive(gw.target, args.seconds, args.concurrency, args.stream))
        spy.wait(args.seconds + 60)
        summary = summarize(raw, args.top)
        (outdir / f"profile-{kind}-{stamp}.txt").write_text(
            f"turnout {gw.version}, {kind}, c={args.concurrency}, {args.seconds:.0f} s, py-spy"
            f"{'' if args.blocking else ' --nonblocking'}\n\n"
            + summary
        )
        print(summary)
        print(f"wrote {outdir / f'profile-{kind}-{stamp}.txt'} (raw stacks: {raw})")
    finally:
        if gw is not None:
            gw.stop()
        upstream.stop()


if __name__ == "__main__":
    main()
