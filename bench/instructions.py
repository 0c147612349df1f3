"""Instructions per chat completion, counted by valgrind: an A/B that machine noise cannot move.

CPU time per request on a shared virtual machine moves by 10-60 % from one minute to the next
(another tenant, the host's frequency); instructions counted by callgrind do not. Each build runs
turnout's ASGI app in one process under ``valgrind --tool=callgrind``, with counting switched on
(``callgrind_control``) only while N chat completions go through it, 8 at a time, against the fake
upstream in its own process: what the app does per request, in user-space instructions (the
kernel's part of a socket call is not counted, nor is uvicorn's: ``floor.py`` measures that).

Ablations switch one part off, to show what it costs (the answers stay 200):

* ``record``: the whole generation record (accounting, store, journal, metrics, log line);
* ``store``: records not queued for the store (the database writes);
* ``observer``: the metrics and the request log line;
* ``journal``: the journal's writes.

    apt-get install valgrind
    python bench/instructions.py                                   # the installed turnout
    python bench/instructions.py --build before=../old/src --build after=src --rounds 3
    python bench/instructions.py --ablate record,store,observer    # what each part costs
    python bench/instructions.py --patch my_ablation.py             # a file run before counting
    python bench/instructions.py --opcodes 40 -n 200                # bytecodes per function, top 40
    python bench/instructions.py --by-object -n 200                 # instructions per shared object

Repeated runs of one build agree within about 1.5 % (batches of the background writers fall
differently); differences smaller than that are not findings.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import proc
import systems

BODY = (b'{"model":"bench/mock","messages":[{"role":"system","content":"You are a terse assistant."},'
        b'{"role":"user","content":"Say hello and name three colours."}],"max_tokens":128,"temperature":0.2}')
ABLATIONS = ("record", "store", "observer", "journal")


def ablate(name: str) -> None:
    """Switch one part of the request path off (in the child, after the app is built)."""
    if name == "record":
        from turnout.core.context import RequestContext

        RequestContext.record = lambda self, status, usage: setattr(self, "recorded", True)  # type: ignore[method-assign]
    elif name == "store":
        from turnout.core.money.accounting import Accountant

        original = Accountant.record

        class Nowhere:
            def put_nowait(self, item: Any) -> None:
                pass

            def qsize(self) -> int:
                return 0

        def record(self: Any, rec: Any, reservation: Any = None, extra: Any = 0) -> None:
            queue, self._queue = self._queue, Nowhere()
            try:
                original(self, rec, reservation, extra)
            finally:
                self._queue = queue

        Accountant.record = record  # type: ignore[method-assign]
    elif name == "observer":
        from turnout.observe.observer import Observer

        Observer.end = lambda self, ctx, record: None  # type: ignore[method-assign]
    elif name == "journal":
        from turnout.core.money.journal import Journal

        Journal._write = lambda self, line: None  # type: ignore[method-assign]
    else:
        raise SystemExit(f"unknown ablation {name!r} (one of {', '.join(ABLATIONS)})")


SLOWDOWN = 40  # how many times slower Python runs under callgrind (measured here: 35-50x)
BATCH_WAITS = (("turnout.core.money.accounting", "BATCH_WAIT"), ("turnout.observe.observer", "SETTLE_WAIT"))


def stretch_batches() -> float:
    """Under valgrind every request takes ~SLOWDOWN times longer, so a batch that waits a fixed time
    (store writes, metrics and log lines) would gather that many times fewer requests, and its
    fixed cost would weigh that much more per request: stretch the waits by the same factor.
    Returns the longest wait, stretched."""
    import importlib

    longest = 0.0
    for module, name in BATCH_WAITS:
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        if hasattr(mod, name):
            setattr(mod, name, getattr(mod, name) * SLOWDOWN)
            longest = max(longest, getattr(mod, name))
    try:
        from turnout.logs import BatchedHandler

        BatchedHandler.WAIT *= SLOWDOWN
        longest = max(longest, BatchedHandler.WAIT)
    except ImportError:
        pass
    return longest


class Opcodes:
    """Python bytecodes executed per function while counting is on (`--opcodes`): where the
    interpreter's time goes, by function, as repeatable as the instruction count (C code that a
    bytecode calls is not split out: a `json.dumps` is one bytecode)."""

    def __init__(self) -> None:
        self.on = False
        self.counts: dict[tuple[str, int, str], int] = {}

    def install(self) -> None:
        import threading

        sys.settrace(self._call)
        threading.settrace(self._call)

    def _call(self, frame: Any, event: str, arg: Any) -> Any:
        if not self.on:
            return None
        frame.f_trace_opcodes = True
        code = frame.f_code
        name = code.co_name
        if code.co_filename == "<string>" and "self" in frame.f_locals:  # a dataclass's generated method
            name = f"{type(frame.f_locals['self']).__name__}.{name}"
        where = (code.co_filename, code.co_firstlineno, name)
        counts = self.counts

        def local(frame: Any, event: str, arg: Any) -> Any:
            if event == "opcode":
                counts[where] = counts.get(where, 0) + 1
            return local

        return local

    def dump(self, path: str) -> None:
        rows = sorted(self.counts.items(), key=lambda kv: -kv[1])
        Path(path).write_text("".join(f"{n}\t{f}:{line}\t{name}\n" for (f, line, name), n in rows))


def child(config: str, key: str, n: int, warm: int, ablation: str) -> None:
    """Runs under valgrind: the app in this process, counting on only around the N requests (and
    the batches they leave, written after them). With TURNOUT_BENCH_OPCODES=FILE, runs without
    valgrind and counts bytecodes per function instead, into FILE."""
    import uvloop

    opcodes_out = os.environ.get("TURNOUT_BENCH_OPCODES")
    opcodes = Opcodes() if opcodes_out else None

    def counting(on: bool) -> None:
        if opcodes is not None:
            opcodes.on = on
        else:
            subprocess.run(["callgrind_control", "-i", "on" if on else "off", str(os.getpid())],
                           capture_output=True, check=False)

    from turnout.app import create_app
    from turnout.settings import load_settings

    try:
        from turnout.logs import configure
    except ImportError:  # builds before turnout/logs.py (2026-11-30) configured logging in the CLI only
        def configure(level: str, fmt: str) -> None:
            pass

    settings = load_settings(config, None, host="127.0.0.1", port=1)  # logging as `turnout serve` (a line per request)
    if hasattr(settings, "log_format"):
        configure(settings.log_level, settings.log_format)
    else:  # builds before the JSON log format: configure(level) alone
        configure(settings.log_level)  # type: ignore[call-arg]
    settle = stretch_batches()
    app = create_app(settings)
    for name in filter(None, ablation.split("+")):
        if name.endswith(".py"):  # --patch: an ablation of one's own
            exec(compile(Path(name).read_text(), name, "exec"), {"__name__": "patch"})
        else:
            ablate(name)
    headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
               (b"authorization", f"Bearer {key}".encode()), (b"content-length", str(len(BODY)).encode())]

    async def one() -> int:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": "/api/v1/chat/completions", "raw_path": b"/api/v1/chat/completions",
                 "query_string": b"", "root_path": "", "headers": list(headers), "client": ("127.0.0.1", 5555),
                 "server": ("127.0.0.1", 1), "state": {}}
        sent = False
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": BODY, "more_body": False}
            await asyncio.Event().wait()  # the client never leaves
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(scope, receive, send)
        return status

    async def worker(count: int) -> int:
        bad = 0
        for _ in range(count):
            bad += await one() != 200
        return bad

    async def main() -> None:
        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        await inbox.put({"type": "lifespan.startup"})
        lifespan = asyncio.ensure_future(app.app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
                                                 inbox.get, outbox.put))
        started = await outbox.get()
        if started["type"] != "lifespan.startup.complete":
            raise SystemExit(f"the app did not start: {started}")
        bad = await worker(warm)
        await asyncio.sleep(settle * 1.5)  # the warm-up's batches written before counting starts
        counting(True)
        bad += sum(await asyncio.gather(*[worker(n // 8) for _ in range(8)]))
        await asyncio.sleep(settle * 1.5)  # ... and these requests' batches before it stops
        counting(False)
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await lifespan
        print(f"BAD {bad}", flush=True)

    if opcodes is not None:
        opcodes.install()
    uvloop.run(main())
    if opcodes is not None and opcodes_out:
        opcodes.dump(opcodes_out)


def opcode_profile(src: str, config: Path, key: str, n: int, warm: int, top: int) -> None:
    """Print the functions that run the most bytecodes per request (`--opcodes`)."""
    out = systems.WORK / f"opcodes-{os.getpid()}.tsv"
    env = {**systems.with_src(dict(os.environ), src), "TURNOUT_BENCH_OPCODES": str(out)}
    r = subprocess.run([sys.executable, __file__, "--child", str(config), key, str(n), str(warm), ""],
                       capture_output=True, text=True, env=env, timeout=1800)
    if r.returncode != 0 or "BAD 0" not in r.stdout:
        raise RuntimeError(f"the run failed ({r.returncode}): {r.stdout[-500:]} {r.stderr[-2000:]}")
    rows = [line.split("\t") for line in out.read_text().splitlines()]
    out.unlink()
    total = sum(int(c) for c, _, _ in rows)
    print(f"{src}: {total / n:,.0f} bytecodes per request; the top {top} functions:")
    for c, where, name in rows[:top]:
        where = where.split("/site-packages/")[-1].split("/src/")[-1]
        print(f"{int(c) / n:8,.0f} {100 * int(c) / total:5.1f} %  {name} ({where})")


def by_object(profile: Path, n: int, top: int = 12) -> None:
    """Print the self cost per shared object (per request) from a callgrind profile: which library
    the instructions are spent in (libpython's interpreter and objects, libsqlite3, msgspec ...)."""
    objects: dict[str, str] = {}
    totals: dict[str, int] = {}
    current, skip = "?", False
    for line in profile.read_text(errors="replace").splitlines():
        if line.startswith("ob="):
            ref, _, name = line[3:].partition(" ")
            if name:
                objects[ref] = name
            current = objects.get(ref, ref)
        elif line.startswith("cob="):
            ref, _, name = line[4:].partition(" ")
            if name:
                objects[ref] = name
        elif line.startswith("calls="):
            skip = True  # the next cost line is the call's inclusive cost, counted where it was spent
        elif line and (line[0].isdigit() or line[0] in "+-*"):
            parts = line.split()
            if skip:
                skip = False
            elif len(parts) >= 2 and parts[1].isdigit():
                totals[current] = totals.get(current, 0) + int(parts[1])
    all_ = sum(totals.values()) or 1
    for name, c in sorted(totals.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {c / n:10,.0f} {100 * c / all_:5.1f} %  {Path(name).name}")


def count(src: str, config: Path, key: str, n: int, warm: int, ablation: str, keep: Path | None = None) -> float:
    """Instructions per request for the build at `src`, with `ablation` switched off; callgrind's
    profile is kept at `keep` when given (for ``callgrind_annotate`` or ``--by-object``)."""
    env = systems.with_src(dict(os.environ), src)
    out = systems.WORK / f"callgrind-{os.getpid()}.out"
    python = os.path.realpath(sys.executable)  # valgrind must run the interpreter itself, not a shim
    cmd = ["taskset", "-c", "0", "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}", python, __file__,
           "--child", str(config), key, str(n), str(warm), ablation]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    if keep is not None and out.exists():
        shutil.move(out, keep)
    out.unlink(missing_ok=True)
    found = re.search(r"Collected : (\d+)", r.stderr)
    if r.returncode != 0 or found is None or "BAD 0" not in r.stdout:
        raise RuntimeError(f"the count failed ({r.returncode}): {r.stdout[-500:]} {r.stderr[-2000:]}")
    return int(found.group(1)) / n


def setup(upstream_port: int) -> tuple[Path, str]:
    """The config routing bench/mock to the fake upstream and a key (systems.prepare_turnout); its
    data dir in this process's environment, which the counted children inherit."""
    config, key, env = systems.prepare_turnout(upstream_port, ["mock"], "instructions")
    os.environ.update(env)
    return config, key


def main() -> None:
    if len(sys.argv) == 7 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", action="append", default=[], help="NAME=SRC (repeatable); default: the installed one")
    ap.add_argument("--ablate", default="", help=f"also count with each of these off: {','.join(ABLATIONS)}")
    ap.add_argument("--patch", action="append", default=[],
                    help="a Python file run in the app's process before counting (an ablation of one's own)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("-n", type=int, default=400, help="requests counted per run")
    ap.add_argument("--warm", type=int, default=300, help="requests before counting starts")
    ap.add_argument("--opcodes", type=int, default=0, metavar="TOP",
                    help="no valgrind: count Python bytecodes per function instead and print the TOP functions")
    ap.add_argument("--by-object", action="store_true",
                    help="also print where the instructions are: the interpreter, SQLite, msgspec, the C "
                         "library ... (self cost per shared object, from callgrind's profile)")
    args = ap.parse_args()
    if not args.opcodes and (shutil.which("valgrind") is None or shutil.which("callgrind_control") is None):
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    builds = [b.split("=", 1) for b in args.build] or [["installed", "."]]
    runs = [(name, src, "") for name, src in builds]
    runs += [(f"{name} -{a}", src, a) for name, src in builds for a in filter(None, args.ablate.split(","))]
    runs += [(f"{name} {Path(p).stem}", src, str(Path(p).resolve())) for name, src in builds for p in args.patch]
    proc.pin({1})
    systems.WORK.mkdir(parents=True, exist_ok=True)
    upstream = systems.start_upstream("1")
    results: dict[str, list[float]] = {name: [] for name, _, _ in runs}
    try:
        config, key = setup(upstream.target.port)
        if args.opcodes:
            for _, src in builds:
                opcode_profile(src, config, key, args.n, args.warm, args.opcodes)
            return
        for rnd in range(args.rounds):
            for name, src, ablation in runs:
                started = time.monotonic()
                keep = systems.WORK / f"callgrind-{os.getpid()}.kept" if args.by_object else None
                per = count(src, config, key, args.n, args.warm, ablation, keep)
                results[name].append(per)
                print(f"round {rnd + 1} {name}: {per:,.0f} instructions/request ({time.monotonic() - started:.0f} s)",
                      flush=True)
                if keep is not None:
                    by_object(keep, args.n)
                    keep.unlink(missing_ok=True)
    finally:
        upstream.stop()
    print("\nmedian over rounds:")
    first = statistics.median(results[runs[0][0]])
    for name, _, _ in runs:
        value = statistics.median(results[name])
        print(f"{name:32} {value:12,.0f}  {100 * (value - first) / first:+6.1f} %")


if __name__ == "__main__":
    main()
