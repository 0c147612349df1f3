"""Process accounting from /proc for the benchmark harness.

This module owns how the harness measures a system under test: CPU time
(utime+stime) and resident memory summed over a process and all of its
descendants (so a gateway that forks workers, or a CLI that spawns a server,
is charged in full), plus helpers for CPU placement and file limits.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode(errors="replace")
    except OSError:
        return None
    # fields after "(comm)"; index 0 is state
    return raw[raw.rindex(")") + 2 :].split()


def descendants(root: int) -> list[int]:
    """``root`` and every live descendant, found by scanning /proc ppids."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = _stat(int(name))
        if st is None:
            continue
        children.setdefault(int(st[1]), []).append(int(name))
    out: list[int] = []
    todo = [root]
    while todo:
        pid = todo.pop()
        if pid in out or _stat(pid) is None:
            continue
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


@dataclass(frozen=True)
class Usage:
    """CPU seconds and RSS bytes of a process tree at one instant."""

    cpu_s: float
    rss: int
    pids: int


def usage(root: int) -> Usage:
    """Sum CPU (user+system) and RSS over ``root``'s process tree."""
    ticks = 0
    rss = 0
    pids = descendants(root)
    for pid in pids:
        st = _stat(pid)
        if st is None:
            continue
        ticks += int(st[11]) + int(st[12])  # utime, stime
        rss += int(st[21]) * PAGE
    return Usage(ticks / CLK_TCK, rss, len(pids))


def system_busy_s() -> float:
    """Busy CPU seconds of the whole machine so far (all cores, from /proc/stat)."""
    with open("/proc/stat") as f:
        vals = [int(v) for v in f.readline().split()[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    return (sum(vals[:8]) - idle) / CLK_TCK


def renice(pid: int, nice: int) -> None:
    """Renice ``pid`` and, where the kernel groups sessions (autogroup), its whole group.

    With ``kernel.sched_autogroup_enabled`` the CPU is shared fairly between sessions
    first, so a plain nice value only matters inside a session; the group's own nice
    in /proc/<pid>/autogroup is what competes with other people's work.
    """
    try:
        os.setpriority(os.PRIO_PROCESS, pid, nice)
    except OSError:
        pass
    try:
        with open(f"/proc/{pid or 'self'}/autogroup", "w") as f:
            f.write(str(nice))
    except OSError:
        pass


def pin(cpus: set[int], pid: int = 0) -> None:
    """Pin ``pid`` (0 = this process) to ``cpus``."""
    os.sched_setaffinity(pid, cpus)


def pin_tree(root: int, cpus: set[int]) -> None:
    """Pin every thread of every process in ``root``'s tree."""
    for pid in descendants(root):
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                os.sched_setaffinity(int(tid), cpus)
        except OSError:
            pass


def raise_nofile() -> int:
    """Raise this process's open-file soft limit to the hard limit; return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def machine() -> dict[str, str]:
    """Facts about the machine for the report."""
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "unknown"
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    import platform

    return {
        "nproc": str(os.cpu_count()),
        "cpu_model": model,
        "memory": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
    }
