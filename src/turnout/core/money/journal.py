"""The write-ahead journal that makes reservations and usage records survive a crash.

Each serving process owns one directory under `<data_dir>/journal/`, locked with `flock` for as
long as the process lives, holding numbered segment files of JSON lines:

    ["R", id, {...}]   a reservation: written before the request goes upstream
    ["U", id, {...}]   a stream's usage and cost, the moment they are known (before the usage chunk
                       goes out): what an interrupted stream is settled from
    ["S", [...]]       the request's generation record (fields in `RECORD_FIELDS` order): written
                       when it ends, before it is queued

Both are a single `os.write` to an O_APPEND file on the event loop: no fsync and no database on
the request path. Once `write` returns the bytes are in the kernel's page cache, so they survive
the process being killed (SIGKILL, OOM); `fsync` runs in a background thread every
`FSYNC_INTERVAL`, which bounds what an operating-system crash or power cut can take.

A segment is deleted once every record written to it is committed to the store. Segments are
rotated every `ROTATE_SECONDS`; the new one starts with the reservations still open, so an old
segment never has to outlive its records. On start-up, `recover()` replays every directory whose
lock nobody holds (a dead process): records go to the store (`write_generations` ignores ids it
has), and each reservation without a record becomes an "interrupted" record: charged the usage
its stream had reported if there is a "U" line, else the estimated prompt cost that the
reservation noted. Then the directory is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import shutil
import time
import uuid
from dataclasses import fields
from decimal import Decimal
from operator import attrgetter
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from turnout.store.base import GenerationRecord, Store

log = logging.getLogger("turnout.journal")

FSYNC_INTERVAL = 0.1
ROTATE_SECONDS = 10.0
INTERRUPTED = "interrupted: turnout stopped before the request finished; charged the estimated prompt cost"
INTERRUPTED_LATE = "interrupted: turnout stopped as the stream ended; charged the usage it reported"


RECORD_FIELDS = tuple(f.name for f in fields(GenerationRecord))
_COST = RECORD_FIELDS.index("cost")
_values = attrgetter(*RECORD_FIELDS)  # a flat list dumps ~100x faster than dataclasses.asdict


def _default(v: Any) -> Any:
    if isinstance(v, Decimal):
        return str(v)
    raise TypeError


class Journal:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._lock_fd = -1
        self._fd = -1
        self._segment = 0
        self._dirty = False
        self._fresh = False  # the current segment has lines besides carried-forward reservations
        self._pending: dict[int, int] = {}  # segment -> records written but not yet committed
        self._open: dict[str, bytes] = {}  # generation id -> its reservation line (and usage line, if any)
        self._task: asyncio.Task[None] | None = None
        self._rotated_at = time.monotonic()
        self._warned_at = -1e9

    # lifecycle

    def open(self) -> None:
        # Locked under a hidden name first, so a recovering process never sees it unlocked.
        hidden = self.root / f".{self.dir.name}"
        hidden.mkdir(parents=True)
        self._lock_fd = os.open(hidden / "lock", os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        hidden.rename(self.dir)
        self._open_segment(1)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="turnout-journal")

    async def close(self) -> None:
        """After the accountant has drained: everything is committed, so the journal goes."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._fd < 0:
            return
        os.fsync(self._fd)
        os.close(self._fd)
        self._fd = -1
        clean = not self._open and not any(self._pending.values())
        if clean:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:  # left for the next start-up to recover
            log.warning("journal kept at %s: %d open reservations", self.dir, len(self._open))
        os.close(self._lock_fd)
        self._lock_fd = -1

    # the request path

    def lag(self) -> int:
        """Records journalled but not yet committed to the store (a metric)."""
        return sum(self._pending.values())

    def reserve(self, gen_id: str, entry: dict[str, Any]) -> None:
        line = orjson.dumps(["R", gen_id, entry], default=_default) + b"\n"
        self._open[gen_id] = line
        self._write(line)

    def usage(self, gen_id: str, entry: dict[str, Any]) -> None:
        """A stream's usage, journalled before the client sees it (carried forward with its reservation)."""
        reservation = self._open.get(gen_id)
        if reservation is None:
            return
        line = orjson.dumps(["U", gen_id, entry], default=_default) + b"\n"
        self._open[gen_id] = reservation.split(b"\n", 1)[0] + b"\n" + line
        self._write(line)

    def settle(self, rec: GenerationRecord) -> int:
        """Journal the record; returns its segment, to hand to `committed()` once it is stored."""
        self._open.pop(rec.id, None)
        values = list(_values(rec))
        values[_COST] = str(values[_COST])
        self._write(orjson.dumps(["S", values]) + b"\n")
        seg = self._segment
        self._pending[seg] = self._pending.get(seg, 0) + 1
        return seg

    def committed(self, segments: dict[int, int]) -> None:
        for seg, n in segments.items():
            left = self._pending.get(seg, 0) - n
            self._pending[seg] = left
            if left <= 0 and seg != self._segment:
                self._drop(seg)

    def _write(self, line: bytes) -> None:
        if self._fd < 0:
            return
        try:
            os.write(self._fd, line)
        except OSError as exc:  # a full or broken disk must not fail requests; the queue still holds the record
            now = time.monotonic()
            if now - self._warned_at > 60:
                self._warned_at = now
                log.error("journal write failed (%s): records are not crash-safe until it recovers", exc.strerror)
            return
        self._dirty = self._fresh = True

    # background: fsync and rotation

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(FSYNC_INTERVAL)
            try:
                if self._dirty:
                    self._dirty = False
                    await asyncio.to_thread(os.fsync, self._fd)
                if time.monotonic() - self._rotated_at >= ROTATE_SECONDS and self._fresh:
                    await self._rotate()
            except OSError:
                log.exception("journal fsync or rotation failed")

    async def _rotate(self) -> None:
        old_fd, old = self._fd, self._segment
        self._open_segment(old + 1)
        for line in list(self._open.values()):  # carry open reservations forward
            self._write(line)
        self._fresh = False
        await asyncio.to_thread(os.fsync, self._fd)
        await asyncio.to_thread(os.fsync, old_fd)
        os.close(old_fd)
        if self._pending.get(old, 0) <= 0:
            self._drop(old)

    def _open_segment(self, n: int) -> None:
        self._segment = n
        self._fd = os.open(self.dir / f"{n:08d}.log", os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
        self._rotated_at = time.monotonic()

    def _drop(self, seg: int) -> None:
        self._pending.pop(seg, None)
        with contextlib.suppress(FileNotFoundError):
            (self.dir / f"{seg:08d}.log").unlink()


def read_dir(path: Path) -> tuple[dict[str, dict[str, Any]], dict[str, GenerationRecord]]:
    """Reservations (with the usage a stream reported, under "usage") and records in a journal
    directory (a torn last line is skipped)."""
    reservations: dict[str, dict[str, Any]] = {}
    usages: dict[str, dict[str, Any]] = {}
    records: dict[str, GenerationRecord] = {}
    for seg in sorted(path.glob("*.log")):
        for raw in seg.read_bytes().split(b"\n"):
            if not raw.strip():
                continue
            try:
                entry = orjson.loads(raw)
            except (orjson.JSONDecodeError, IndexError, KeyError, TypeError, ValueError):
                log.warning("skipping a torn journal line in %s", seg)
                continue
            if entry[0] == "R":
                reservations[entry[1]] = {**entry[2], "id": entry[1]}
            elif entry[0] == "U":
                usages[entry[1]] = entry[2]
            elif entry[0] == "S":
                # a record journalled before a field was added has fewer values: the new ones default
                r = dict(zip(RECORD_FIELDS, entry[1], strict=False))
                r["cost"] = Decimal(r["cost"])
                records[r["id"]] = GenerationRecord(**r)
    for gen_id, usage in usages.items():
        if gen_id in reservations:
            reservations[gen_id]["usage"] = usage
    return reservations, records


def interrupted_record(entry: dict[str, Any]) -> GenerationRecord:
    """What a reservation whose request never finished is settled as: from the usage its stream
    reported when there is one, else from the estimated prompt alone."""
    u = entry.get("usage") or {}
    return GenerationRecord(
        id=entry["id"], created_at=entry["created_at"], key_hash=entry.get("key_hash"), model=entry["model"],
        provider=u.get("provider"), upstream_model=u.get("upstream_model"), dialect_in=entry.get("dialect_in", "openai"),
        dialect_out=u.get("dialect_out"), streamed=bool(entry.get("streamed")), status="error", finish_reason="error",
        native_finish_reason=None, prompt_tokens=int(u.get("prompt_tokens", entry.get("prompt_tokens", 0))),
        completion_tokens=int(u.get("completion_tokens", 0)), cached_tokens=int(u.get("cached_tokens", 0)),
        cache_write_tokens=int(u.get("cache_write_tokens", 0)), reasoning_tokens=int(u.get("reasoning_tokens", 0)),
        usage_estimated=bool(u.get("estimated", True)), cost=Decimal(u.get("cost", entry.get("prompt_cost", "0"))),
        latency_ms=None, generation_time_ms=0.0, error_code=500, error_message=INTERRUPTED_LATE if u else INTERRUPTED,
        app_title=entry.get("app_title"), app_referer=entry.get("app_referer"), attempts=[],
    )


class Recovery(NamedTuple):
    missing: int  # journalled records the store did not have yet
    interrupted: int  # reservations without a record, settled as interrupted
    releases: list[tuple[str, str, Decimal]]  # (shared scope, generation id, cost) to release in `Holds`


def recover(root: Path, store: Store) -> Recovery:
    """Replay the journals of dead processes into the store."""
    out = Recovery(0, 0, [])
    if not root.exists():
        return out
    missing = interrupted = 0
    for path in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            fd = os.open(path / "lock", os.O_CREAT | os.O_RDWR, 0o600)
        except OSError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live process owns it
            reservations, records = read_dir(path)
            lost = [interrupted_record(e) for gid, e in reservations.items() if gid not in records]
            written = store.write_generations(list(records.values()))
            lost_written = store.write_generations(lost)
            missing += written
            interrupted += lost_written
            settled = {**{r.id: r for r in lost}, **records}
            for gid, entry in reservations.items():
                for scope in entry.get("scopes") or ():
                    out.releases.append((scope, gid, settled[gid].cost))
            log.warning("recovered journal %s: %d of %d records were not yet stored; %d interrupted requests settled",
                        path.name, written, len(records), lost_written)
            shutil.rmtree(path, ignore_errors=True)
        finally:
            os.close(fd)
    return Recovery(missing, interrupted, out.releases)
