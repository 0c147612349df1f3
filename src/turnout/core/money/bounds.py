"""How much of a request's caller-chosen text turnout keeps: every string of a generation record.

A generation record outlives its request (the store, the crash journal, the web UI), and many of
its strings come from the caller: the model id (an unknown one is recorded too), `X-Title`,
`HTTP-Referer`, error messages that quote the request. Each is clipped here to a fixed length, so a
record's size is bounded whatever the request held. The referer is kept as its origin only
(`scheme://host[:port]`): paths and query strings can carry a tenant's private data.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from turnout.store.base import GenerationRecord

MAX_ID = 256  # model ids, upstream model ids, provider names, finish reasons
MAX_TITLE = 128  # X-Title
MAX_REFERER = 256  # the referer's origin
MAX_MESSAGE = 1024  # error messages
MAX_ATTEMPTS = 32  # attempts kept per record (a request tries at most a few endpoints per model)
MAX_ATTEMPT_TEXT = 256  # each string of an attempt
ELLIPSIS = "…"


def clip(text: str | None, limit: int) -> str | None:
    """`text` cut to at most `limit` characters (the cut marked with an ellipsis)."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + ELLIPSIS


def printable(text: str) -> str:
    """Control characters (newlines, escapes) replaced: a title is shown on one line, in HTML and terminals."""
    return "".join(c if c.isprintable() else " " for c in text) if not text.isprintable() else text


def app_title(raw: str | None) -> str | None:
    """The `X-Title` as recorded: one printable line, clipped; None when empty."""
    if not raw:
        return None
    title = printable(raw).strip()
    return clip(title, MAX_TITLE) or None


def origin(raw: str | None) -> str | None:
    """The `HTTP-Referer` as recorded: `scheme://host[:port]` of an http(s) URL, else None.

    Credentials, path, query and fragment are dropped; anything that is not an http(s) URL with a
    host is not an app's address and is not kept.
    """
    if not raw:
        return None
    try:
        parts = urlsplit(raw[:2048].strip())  # the origin is at the start; the rest is not kept
        scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
    except ValueError:  # a malformed port or IPv6 literal
        return None
    if scheme not in ("http", "https") or not host or not printable(host) == host or " " in host:
        return None
    if ":" in host:  # IPv6
        host = f"[{host}]"
    shown = f"{scheme}://{host}" + (f":{port}" if port is not None else "")
    return shown if len(shown) <= MAX_REFERER else None


def _attempt(a: dict[str, Any]) -> dict[str, Any]:
    return {k: clip(v, MAX_ATTEMPT_TEXT) if isinstance(v, str) else v for k, v in a.items()}


def bounded(rec: GenerationRecord) -> GenerationRecord:
    """The record with every caller-influenced string clipped (a new record only when needed)."""
    model = clip(rec.model, MAX_ID) or ""
    upstream = clip(rec.upstream_model, MAX_ID)
    provider = clip(rec.provider, MAX_ID)
    finish = clip(rec.native_finish_reason, MAX_ID)
    message = clip(rec.error_message, MAX_MESSAGE)
    title = clip(rec.app_title, MAX_TITLE)
    referer = clip(rec.app_referer, MAX_REFERER)
    attempts = rec.attempts
    if len(attempts) > MAX_ATTEMPTS or any(
        isinstance(v, str) and len(v) > MAX_ATTEMPT_TEXT for a in attempts for v in a.values()
    ):
        attempts = [_attempt(a) for a in attempts[:MAX_ATTEMPTS]]
    if (model, upstream, provider, finish, message, title, referer, attempts) == (
        rec.model, rec.upstream_model, rec.provider, rec.native_finish_reason, rec.error_message, rec.app_title,
        rec.app_referer, rec.attempts,
    ):
        return rec
    return replace(rec, model=model, upstream_model=upstream, provider=provider, native_finish_reason=finish,
                   error_message=message, app_title=title, app_referer=referer, attempts=attempts)
