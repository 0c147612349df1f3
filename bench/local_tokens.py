"""Benchmark: the local model through turnout vs the binding called directly, in one run.

    python bench/local_tokens.py [--tokens 128] [--runs 3] [--json out.json]

1. *direct*: this process loads xllamacpp with the engine's settings and times
   ``handle_completions`` (streaming, like the engine) on the exact prompt turnout renders.
2. *turnout*: a ``turnout serve`` subprocess on a free loopback port; the same chat request
   is streamed over HTTP (``POST /api/v1/chat/completions``) and timed to ``[DONE]``.
   tokens/s = completion tokens (from usage) / wall time of the request, in both cases.
3. *latency*: ``GET /api/v1/models`` on the same gateway, idle and while the local model
   is generating, to show generation runs off the event loop.
4. *CPU split*: per generated token, CPU used by llama.cpp's decoding thread and by every
   other thread of the gateway (what turnout adds), read from /proc. Unlike wall-clock
   tokens/s it does not depend on what else the machine runs.

Runs alternate between direct and turnout so that load from other processes hits both alike;
on a busy machine, look at the interleaved-pairs ratio and the CPU split.

The two model instances never run at once (direct finishes and is freed first).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

QUESTION = "Count from 1 to 200, separated by commas."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def post_stream(url: str, key: str, body: dict[str, Any]) -> tuple[float, int]:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    t0 = time.perf_counter()
    completion = 0
    with urllib.request.urlopen(req, timeout=600) as resp:
        for raw in resp:
            line = raw.decode().strip()
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                completion = int(chunk["usage"]["completion_tokens"])
    return time.perf_counter() - t0, completion


def latency_ms(url: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        with urllib.request.urlopen(url, timeout=30) as resp:
            resp.read()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return round(s[min(len(s) - 1, int(q * len(s)))], 2)


class Direct:
    """The binding itself, loaded in this process with the engine's settings."""

    def __init__(self, tokens: int, data_dir: Path) -> None:
        from turnout.local.chat import prepare_chat
        from turnout.local.engine import EngineConfig, LocalEngine, SamplingParams
        from turnout.local.weights import ensure_gemma_gguf

        prepared = prepare_chat(
            [{"role": "user", "content": QUESTION}], sampling=SamplingParams(temperature=0, max_tokens=tokens)
        )
        self.engine = LocalEngine(EngineConfig(model_path=ensure_gemma_gguf(data_dir)))
        self.payload = self.engine._payload(prepared.request)  # the exact body the engine sends
        self.engine.load()

    def run(self) -> tuple[float, int]:
        usage: dict[str, Any] = {}

        def cb(chunk: dict[str, Any]) -> bool:
            if chunk.get("usage"):
                usage.update(chunk["usage"])
            return False

        t0 = time.perf_counter()
        self.engine._server.handle_completions(self.payload, cb)
        return time.perf_counter() - t0, int(usage["completion_tokens"])


class Gateway:
    """``turnout serve`` in a subprocess, with a fresh data dir and key."""

    def __init__(self, tokens: int, data_dir: Path) -> None:
        env = dict(os.environ, TURNOUT_DATA_DIR=str(data_dir))
        cmd = [sys.executable, "-m", "turnout", "keys", "create", "--name", "bench"]
        self.key = (
            subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        )
        port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "turnout", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.base = f"http://127.0.0.1:{port}/api/v1"
        self.body = {
            "model": "google/gemma-3-270m",
            "messages": [{"role": "user", "content": QUESTION}],
            "temperature": 0,
            "max_tokens": tokens,
            "stream": True,
        }
        for _ in range(600):
            try:
                latency_ms(f"{self.base}/models", 1)
                break
            except OSError:
                time.sleep(0.1)

    def run(self, **over: Any) -> tuple[float, int]:
        return post_stream(f"{self.base}/chat/completions", self.key, dict(self.body, **over))

    def thread_cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each thread of the gateway process (Linux /proc)."""
        out: dict[str, float] = {}
        tick = os.sysconf("SC_CLK_TCK")
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            with contextlib.suppress(OSError):
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
                out[task.name] = (int(fields[11]) + int(fields[12])) / tick
        return out

    def cpu_split(self) -> dict[str, float]:
        """One run's CPU per generated token: the busiest thread (llama.cpp decoding) vs all the others."""
        before = self.thread_cpu()
        _, completion = self.run()
        after = self.thread_cpu()
        deltas = sorted((after[k] - before.get(k, 0.0) for k in after), reverse=True)
        return {
            "completion_tokens": completion,
            "llama_cpu_ms_per_token": 1000 * deltas[0] / completion,
            "gateway_cpu_ms_per_token": 1000 * sum(deltas[1:]) / completion,
        }

    def latency(self, tokens: int) -> dict[str, Any]:
        idle = latency_ms(f"{self.base}/models", 50)
        busy: list[float] = []
        done = threading.Event()

        def generate() -> None:
            try:
                self.run(max_tokens=max(tokens, 256))
            finally:
                done.set()

        worker = threading.Thread(target=generate)
        worker.start()
        time.sleep(0.5)
        while not done.is_set() and len(busy) < 200:
            busy.extend(latency_ms(f"{self.base}/models", 1))
        worker.join()
        return {
            "idle": {"p50": pct(idle, 0.5), "p95": pct(idle, 0.95), "n": len(idle)},
            "while_generating": {"p50": pct(busy, 0.5), "p95": pct(busy, 0.95), "n": len(busy)},
        }

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="turnout-bench-") as tmp:
        data_dir = Path(tmp)
        direct = Direct(args.tokens, data_dir)
        gateway = Gateway(args.tokens, data_dir)
        try:
            direct.run()
            gateway.run()  # loads the gateway's model; both warm their prompt cache
            rates: dict[str, list[float]] = {"direct": [], "turnout": []}
            for _ in range(args.runs):  # interleaved, so load from elsewhere hits both alike
                for name, runner in (("direct", direct.run), ("turnout", gateway.run)):
                    wall, completion = runner()
                    rates[name].append(completion / wall)
            lat = gateway.latency(args.tokens)
            cpu = gateway.cpu_split()
        finally:
            gateway.close()
            info = direct.engine.info()
            direct.engine.close()
    d, t = statistics.median(rates["direct"]), statistics.median(rates["turnout"])
    pairs = statistics.median(b / a for a, b in zip(rates["direct"], rates["turnout"], strict=True))
    report = {
        "tokens": args.tokens,
        "runs": rates,
        "direct_tokens_per_second": d,
        "turnout_tokens_per_second": t,
        "ratio": t / d,
        "median_pairwise_ratio": pairs,
        "goal": 0.95,
        "cpu_per_token": cpu,
        "models_latency_ms": lat,
        "engine": info,
        "cpus": os.cpu_count(),
        "loadavg": os.getloadavg(),
    }
    print(f"direct  : {d:.1f} tokens/s (median; runs {[round(x, 1) for x in rates['direct']]})")
    print(f"turnout : {t:.1f} tokens/s (median; runs {[round(x, 1) for x in rates['turnout']]})")
    print(f"ratio   : {t / d:.1%} of medians, {pairs:.1%} median of interleaved pairs (goal >= 95%)")
    print(
        f"CPU/token in the gateway process: llama.cpp {cpu['llama_cpu_ms_per_token']:.2f} ms, "
        f"everything else (HTTP, routing, accounting, SSE) {cpu['gateway_cpu_ms_per_token']:.2f} ms"
    )
    print(
        f"GET /models idle p50/p95: {lat['idle']['p50']}/{lat['idle']['p95']} ms; "
        f"while generating: {lat['while_generating']['p50']}/{lat['while_generating']['p95']} ms"
    )
    print(f"engine  : load {info['load_seconds']:.2f} s, +{info['memory_bytes'] / 2**20:.0f} MiB RSS")
    print(f"loadavg : {report['loadavg']}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
