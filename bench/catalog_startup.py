"""Start-up time and idle memory of `turnout serve` with and without the catalog dataset.

    python bench/catalog_startup.py [--runs 5]

Each run starts a fresh `python -m turnout serve` (no local model preloaded, a fresh data dir,
the dataset cache already built), polls `/health` until it answers, and reads VmRSS from
/proc once the process has settled. It alternates the two settings so that machine noise hits
both alike, and prints the medians.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def one(dataset: bool) -> tuple[float, float, int]:
    port = free_port()
    env = dict(os.environ, TURNOUT_CATALOG_DATASET="1" if dataset else "0", TURNOUT_PRELOAD_LOCAL="0",
               TURNOUT_DATA_DIR=tempfile.mkdtemp(prefix="turnout-startup-"))
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "turnout", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.01)
        ready = time.perf_counter() - started
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/models?all=true", timeout=10) as r:
            listed = len(r.read())
        time.sleep(1.0)
        return ready, rss_mb(proc.pid), listed
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    one(True)  # builds the dataset cache once
    results: dict[bool, list[tuple[float, float, int]]] = {True: [], False: []}
    for _ in range(args.runs):
        for dataset in (False, True):
            results[dataset].append(one(dataset))
    for dataset in (False, True):
        runs = results[dataset]
        print(f"dataset {'on ' if dataset else 'off'}: start-up to /health {statistics.median(r[0] for r in runs) * 1000:.0f} ms, "
              f"idle RSS {statistics.median(r[1] for r in runs):.1f} MB, /models?all body {runs[0][2] / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
