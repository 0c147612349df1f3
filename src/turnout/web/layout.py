"""The page frame every UI page shares (head, navigation, footer) and the value formatters.

Pages are server-rendered strings: every value that came from data goes through `esc()` (or a
formatter that returns escaped text) before it lands in HTML. Nothing here loads anything from
the network; the only assets are the package's own files under /ui/static/.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from decimal import Decimal

from starlette.responses import HTMLResponse

from turnout.web.markdown import render_markdown

STATIC = "/ui/static"
ASSET_VERSION = "7"  # bump to bust browser caches when static files change
NAV = (("/models", "Models"), ("/chat", "Chat"), ("/activity", "Activity"), ("/admin", "Admin"))
MILLION = Decimal(1_000_000)


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def render_description(text: str) -> str:
    """A catalog description's Markdown as safe HTML (see web/markdown.py for the subset)."""
    return render_markdown(text)


def per_million(price: Decimal | None) -> str:
    """USD per token as dollars per million tokens: 0.00000043 -> "$0.43"."""
    if price is None:
        return "—"
    value = price * MILLION
    if value == 0:
        return "$0"
    text = format(value.normalize(), "f")
    whole, _, frac = text.partition(".")
    return f"${whole}.{frac.ljust(2, '0')}"


def money(amount: Decimal) -> str:
    """A spend figure: cents for large amounts, up to eight decimals for small ones."""
    if amount == 0:
        return "$0"
    if abs(amount) >= 1:
        return f"${amount:,.2f}"
    text = format(amount.quantize(Decimal("0.00000001")).normalize(), "f")
    return "$" + (text if text != "0" else "<0.00000001")


def short_tokens(n: int | float) -> str:
    """131072 -> "131K", 21_400_000_000 -> "21.4B", 8192 -> "8.2K" (the seeds' style)."""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= size:
            value = n / size
            text = f"{value:.0f}" if value >= 100 else f"{value:.1f}"
            return (text.rstrip("0").rstrip(".") if "." in text else text) + suffix
    return f"{n:g}"


def grouped(n: int | None) -> str:
    return "—" if n is None else f"{n:,}"


def day(ts: float | int) -> str:
    """Epoch seconds as the seeds print dates: "Sep 30, 2025" (UTC)."""
    if not ts:
        return "—"
    d = datetime.fromtimestamp(ts, UTC)
    return f"{d:%b} {d.day}, {d.year}"


def moment(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def page(title: str, body: str, *, active: str = "", scripts: tuple[str, ...] = (), status: int = 200) -> HTMLResponse:
    nav = "".join(
        f'<a href="{href}"{" aria-current=page" if href == active else ""}>{label}</a>' for href, label in NAV
    )
    js = "".join(f'<script src="{STATIC}/{name}?v={ASSET_VERSION}" defer></script>' for name in scripts)
    document = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)} · turnout</title>
<link rel="stylesheet" href="{STATIC}/turnout.css?v={ASSET_VERSION}">
<link rel="icon" href="{STATIC}/favicon.svg">{js}
</head><body>
<header class="top"><a class="brand" href="/">turnout</a><nav>{nav}</nav></header>
<main>{body}</main>
<footer>turnout · self-hosted LLM gateway · <a href="/api/v1/models">/api/v1/models</a></footer>
</body></html>"""
    return HTMLResponse(document, status_code=status)


def not_found(what: str) -> HTMLResponse:
    body = f'<h1>Not found</h1><p>{esc(what)}</p><p><a href="/models">Browse the models</a></p>'
    return page("Not found", body, status=404)
