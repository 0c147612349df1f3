"""Markdown rendering of a benchmark run.

This module owns how results are shown: one table with a column per system
(direct first), every gateway figure given as the added amount over the direct
call and as a ratio to it, a comparison of turnout with LiteLLM and Portkey,
and a pass/fail list against issue 3's goals. Input is the JSON document that
:mod:`run` writes, so old result files can be re-rendered::

    python bench/report.py bench/results/<stamp>.json [--readme]

``--readme`` also puts the table into bench/README.md between its markers.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ORDER = ("direct", "turnout", "litellm", "portkey")


def _get(d: dict[str, Any], path: str) -> float | None:
    cur: Any = d
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return float(cur) if isinstance(cur, int | float) else None


def _ms(v: float) -> str:
    return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}" if abs(v) < 1000 else f"{v:.0f}"


def _latency_row(res: dict[str, Any], names: list[str], path: str) -> list[str]:
    """Direct: absolute ms. Gateways: +added ms (×ratio)."""
    base = _get(res["systems"].get("direct", {}), path)
    cells = []
    for n in names:
        v = _get(res["systems"].get(n, {}), path)
        if v is None:
            cells.append("–")
        elif n == "direct" or base is None:
            cells.append(_ms(v))
        else:
            ratio = f" (×{v / base:.1f})" if base > 0 else ""
            cells.append(f"+{_ms(v - base)}{ratio}" if v >= base else f"{_ms(v - base)}{ratio}")
    return cells


def _plain_row(res: dict[str, Any], names: list[str], path: str, fmt: str, vs_direct: bool = False) -> list[str]:
    base = _get(res["systems"].get("direct", {}), path)
    cells = []
    for n in names:
        v = _get(res["systems"].get(n, {}), path)
        if v is None:
            cells.append("–")
        elif vs_direct and n != "direct" and base:
            cells.append(f"{v:{fmt}} (×{v / base:.2f})")
        else:
            cells.append(f"{v:{fmt}}")
    return cells


def _hold_cell(s: dict[str, Any]) -> str:
    h = s.get("hold")
    if not isinstance(h, dict):
        return "–"
    return f"{h['completed']:.0f}/{h['streams']:.0f}"


def markdown(res: dict[str, Any]) -> str:
    """Render one run as Markdown."""
    systems: dict[str, Any] = res["systems"]
    names = [n for n in ORDER if n in systems]
    plan = res.get("plan", {})
    m = res.get("machine", {})
    pl = res.get("placement", {})
    out: list[str] = []
    out.append(f"## Benchmark run {res.get('started', '')}{' (quick)' if res.get('quick') else ''}")
    out.append("")
    out.append(
        f"Machine: {m.get('nproc')} CPUs, {m.get('cpu_model')}, {m.get('memory')}, "
        f"kernel {m.get('kernel')}, Python {m.get('python')}. "
        f"Placement: gateway pinned to CPU {pl.get('gateway_cpu')}; load generator and fake upstream "
        f"on CPU {pl.get('loadgen_and_upstream_cpu')}"
        f"{', all reniced to ' + str(pl['nice']) if pl.get('nice') else ''}. Run took {res.get('duration_s', 0) / 60:.1f} min."
    )
    versions = ", ".join(f"{n} {systems[n].get('version', '')}".strip() for n in names if n != "direct")
    if versions:
        out.append(f"Versions: {versions}.")
    c = res.get("upstream_ceiling")
    if c:
        out.append(
            f"Upstream ceiling (upstream alone on the gateway core): {c['rps']:.0f} req/s at "
            f"{c['cpu_ms_per_req'] * 1000:.0f} µs CPU/request; {plan.get('stream_chunks', 64)}-chunk streams "
            f"{c['stream_rps']:.0f}/s at {c['stream_cpu_ms_per_req'] * 1000:.0f} µs CPU/stream."
        )
    for n in names:
        if "error" in systems[n]:
            out.append(f"**{n} did not run:** {systems[n]['error'][:300]}")
    out.append("")
    out.append(
        "Latencies in ms. Direct shows the absolute figure; a gateway shows what it adds over direct, "
        "and (×N) its latency as a multiple of direct."
    )
    out.append("")
    out.append("| figure | " + " | ".join(names) + " |")
    out.append("|---|" + "---|" * len(names))

    def row(label: str, cells: list[str]) -> None:
        out.append(f"| {label} | " + " | ".join(cells) + " |")

    for key, label in (
        ("c1", "concurrency 1"),
        ("rate", f"fixed {plan.get('rate_rps', 50):.0f} req/s"),
        ("c16", "concurrency 16"),
        ("c64", "concurrency 64"),
    ):
        for q in ("p50", "p90", "p99"):
            row(f"latency {label} {q}", _latency_row(res, names, f"{key}.{q}"))
    row("max req/s, zero errors (× direct)", _plain_row(res, names, "max_rps", ".0f", vs_direct=True))
    row(
        "CPU ms/request at saturation (direct: upstream)",
        [
            f"{systems['direct']['c64'].get('cpu_ms_per_req', 0):.3f}"
            if n == "direct" and "c64" in systems[n]
            else _plain_row(res, [n], "cpu_ms_per_req", ".3f")[0]
            for n in names
        ],
    )
    row("gateway core busy at c=64", _plain_row(res, names, "c64.cpu_util", ".2f"))
    row(
        "errors c=16 / c=64",
        [
            f"{_get(systems[n], 'c16.errors') or 0:.0f} / {_get(systems[n], 'c64.errors') or 0:.0f}"
            if "c64" in systems[n]
            else "–"
            for n in names
        ],
    )
    for q in ("p50", "p99"):
        row(f"stream time-to-first-byte {q}", _latency_row(res, names, f"stream.ttfb.{q}"))
    for q in ("p50", "p99"):
        row(f"stream total ({plan.get('stream_chunks', 64)} chunks) {q}", _latency_row(res, names, f"stream.total.{q}"))
    for q in ("p50", "p99"):
        row(
            f"inter-chunk gap, {plan.get('paced_chunk_ms', 2)} ms upstream pacing, {q}",
            _latency_row(res, names, f"paced.gap.{q}"),
        )
    hs = plan.get("hold_streams", 1000)
    row(f"slow streams held of {hs} (all at once)", [_hold_cell(systems[n]) for n in names])
    row("  their time-to-first-byte p99", _latency_row(res, names, "hold.ttfb.p99"))
    row("  their inter-chunk gap p99", _latency_row(res, names, "hold.gap.p99"))
    row("  peak RSS MB while holding", _plain_row(res, names, "hold.peak_rss_mb", ".1f"))
    row("other processes' CPU during the run (cores)", _plain_row(res, names, "background_cores", ".2f"))
    row("RSS MB idle (after warm-up)", _plain_row(res, names, "rss_idle_mb", ".1f"))
    row("RSS MB after the load", _plain_row(res, names, "rss_after_load_mb", ".1f"))
    soak_cells = []
    for n in names:
        s = systems[n].get("soak")
        soak_cells.append(
            f"{s['growth_mb']:+.1f} ({s['rss_first_mb']:.0f}→{s['rss_last_mb']:.0f}, "
            f"{s['requests']:.0f} req at {s['rate']:.0f}/s, {s['errors']:.0f} err)"
            if s
            else "–"
        )
    row(f"RSS growth MB over {plan.get('soak_seconds', 0):.0f} s soak", soak_cells)
    out.append("")

    t = systems.get("turnout")
    if t and "max_rps" in t:
        out.append("### turnout against the others")
        out.append("")
        for other in ("litellm", "portkey"):
            o = systems.get(other)
            if o and o.get("max_rps") and o.get("cpu_ms_per_req"):
                out.append(
                    f"- vs {other}: ×{t['max_rps'] / o['max_rps']:.1f} max req/s, "
                    f"×{o['cpu_ms_per_req'] / t['cpu_ms_per_req']:.1f} less CPU per request, "
                    f"added p50 at c=1 {_added(res, 'turnout', 'c1.p50')} vs {_added(res, other, 'c1.p50')} ms."
                )
        sc = res.get("scale")
        if sc:
            out.append(
                f"- `turnout serve --workers {sc['workers']:.0f}` on CPUs {sc['cpus']} (sharing a core with "
                f"the load generator): {sc['rps']:.0f} req/s at c=64 vs {t['max_rps']:.0f} with one worker "
                f"on one core (×{sc['rps'] / t['max_rps']:.2f}), {sc['errors']:.0f} errors."
            )
        out.append("")
        out.append("### turnout against issue 3's goals")
        out.append("")
        out.extend(goals(res))
        out.append("")
    return "\n".join(out) + "\n"


def _added(res: dict[str, Any], name: str, path: str) -> str:
    v = _get(res["systems"].get(name, {}), path)
    b = _get(res["systems"].get("direct", {}), path)
    return "?" if v is None or b is None else f"{v - b:+.3f}"


def goals(res: dict[str, Any]) -> list[str]:
    """Pass/fail lines for turnout against the issue's goals."""
    s = res["systems"]
    t, d = s["turnout"], s.get("direct", {})
    lines: list[str] = []

    def add(path: str) -> float | None:
        v, b = _get(t, path), _get(d, path)
        return None if v is None or b is None else v - b

    def check(label: str, value: float | None, limit: float, unit: str = "ms", less: bool = True) -> None:
        if value is None:
            lines.append(f"- [ ] {label}: not measured")
            return
        ok = value <= limit if less else value >= limit
        lines.append(f"- [{'x' if ok else ' '}] {label}: {value:.3f} {unit} (goal {'≤' if less else '≥'} {limit:g})")

    check("added p50 at concurrency 1", add("c1.p50"), 0.5)
    check("added p99 at concurrency 1", add("c1.p99"), 1.5)
    check("added p50 at the low fixed rate", add("rate.p50"), 0.5)
    check("added p99 at the low fixed rate", add("rate.p99"), 1.5)
    check("added p99 at concurrency 64", add("c64.p99"), 5.0)
    check("gateway CPU per request", _get(t, "cpu_ms_per_req"), 0.5)
    for other, mult in (("litellm", 20.0), ("portkey", 3.0)):
        o = s.get(other, {})
        if o.get("max_rps"):
            check(f"max req/s vs {other}", t.get("max_rps", 0) / o["max_rps"], mult, "×", less=False)
    check("added stream time-to-first-byte p50", add("stream.ttfb.p50"), 1.0)
    check("added inter-chunk gap p99 (paced stream)", add("paced.gap.p99"), 1.0)
    check("idle RSS", _get(t, "rss_idle_mb"), 100.0, "MB")
    soak = t.get("soak")
    if soak:
        check("RSS growth over the soak", soak["growth_mb"], 5.0, "MB")
    return lines


def update_readme(readme: Path, md: str) -> None:
    """Replace the text between the ``latest`` markers of the README with ``md``."""
    text = readme.read_text()
    start, end = "<!-- latest:start -->", "<!-- latest:end -->"
    if start not in text or end not in text:
        return
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    body = md.replace("## Benchmark run", "### Benchmark run", 1)
    readme.write_text(f"{head}{start}\n{body}{end}{tail}")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--readme"]
    with open(args[0]) as f:
        doc = markdown(json.load(f))
    print(doc)
    if "--readme" in sys.argv:
        update_readme(Path(__file__).resolve().parent / "README.md", doc)
