"""Secrets out of anything an upstream said: one replace over every configured secret.

An upstream may echo the credentials it was sent ("Incorrect API key provided: sk-…") in an
error body, an error message, or a mid-stream error event; whatever it says is shown to the
client, stored in the generation record and shown on the activity page. The `Scrubber` is built
once at start-up from every secret the configuration holds (provider API keys, credential-like
extra headers, passwords and query values in base URLs, the admin key) and replaces each with
`[redacted]`. It runs only on error paths: successful answers never pass through it.

Secrets shorter than `MIN_SECRET` characters are left alone: replacing every "abc" in every
error message would garble the messages and protect nothing worth protecting.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from turnout.model.errors import GatewayError, UpstreamError

MIN_SECRET = 8
REDACTED = "[redacted]"
# Extra headers whose values are credentials: authorization, x-api-key, api-key, x-auth-token, ...
_CREDENTIAL_HEADER = re.compile(r"auth|key|token|secret|password|cookie", re.IGNORECASE)


def header_secrets(headers: Mapping[str, str]) -> list[str]:
    """The credential values in request headers, without an auth scheme ("Bearer sk-x" -> "sk-x")."""
    out = []
    for name, value in headers.items():
        if _CREDENTIAL_HEADER.search(name):
            out.append(value)
            scheme, _, rest = value.partition(" ")
            if rest and scheme.isalpha():
                out.append(rest.strip())
    return out


def url_secrets(url: str) -> list[str]:
    """A URL's password and query values (some providers take the key as `?key=`)."""
    try:
        parts = urlsplit(url)
        out = [parts.password or ""]
    except ValueError:
        return []
    out += [v for _, v in parse_qsl(parts.query)]
    return out


class Scrubber:
    def __init__(self, secrets: Iterable[str | None]) -> None:
        usable = sorted({s for s in secrets if s and len(s) >= MIN_SECRET}, key=len, reverse=True)  # longest first
        self._known = frozenset(usable)
        self._text = _pattern(usable)
        # Raw bodies are scrubbed before anything is cut from them, so a secret cannot be halved
        # by a truncation; JSON may escape '/' in a secret, so that spelling is matched too.
        spelled = {v for s in usable for v in (s, s.replace("/", "\\/"))}
        self._bytes = re.compile(b"|".join(re.escape(s.encode()) for s in sorted(spelled, key=len, reverse=True))) \
            if usable else None

    def __bool__(self) -> bool:
        return self._text is not None

    def with_sent(self, headers: Mapping[str, str]) -> Scrubber:
        """This scrubber, or one that also knows credentials actually sent but not configured."""
        extra = [s for s in header_secrets(headers) if len(s) >= MIN_SECRET and s not in self._known]
        return Scrubber([*self._known, *extra]) if extra else self

    def text(self, text: str) -> str:
        return text if self._text is None else self._text.sub(REDACTED, text)

    def data(self, body: bytes) -> bytes:
        return body if self._bytes is None else self._bytes.sub(REDACTED.encode(), body)

    def value(self, value: Any) -> Any:
        """Any JSON-like value with every string (keys too) scrubbed; containers are rebuilt
        iteratively, so a deeply nested upstream body cannot exhaust the recursion limit."""
        if self._text is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if not isinstance(value, (dict, list)):
            return value
        root: list[Any] = [value]
        stack: list[tuple[list[Any] | dict[Any, Any], Any, Any]] = [(root, 0, value)]
        while stack:
            parent, slot, item = stack.pop()
            if isinstance(item, dict):
                copy: dict[Any, Any] = {}
                for k, v in item.items():
                    copy[self.text(k) if isinstance(k, str) else k] = v
                parent[slot] = copy
                for k, v in copy.items():
                    if isinstance(v, str):
                        copy[k] = self.text(v)
                    elif isinstance(v, (dict, list)):
                        stack.append((copy, k, v))
            else:
                out = list(item)
                parent[slot] = out
                for i, v in enumerate(out):
                    if isinstance(v, str):
                        out[i] = self.text(v)
                    elif isinstance(v, (dict, list)):
                        stack.append((out, i, v))
        return root[0]

    def error(self, exc: GatewayError) -> GatewayError:
        """Scrub an error's message, metadata and detail in place; returns it."""
        if self._text is None:
            return exc
        exc.message = self.text(exc.message)
        exc.args = (exc.message,)
        exc.metadata = self.value(exc.metadata)
        if isinstance(exc, UpstreamError) and exc.detail:
            exc.detail = self.text(exc.detail)
        return exc


def _pattern(secrets: list[str]) -> re.Pattern[str] | None:
    return re.compile("|".join(map(re.escape, secrets))) if secrets else None


def configured_secrets(providers: Iterable[Any], admin_key: str | None) -> list[str]:
    """Every secret in the configuration: the catalog's providers (keys as resolved from the
    environment, credential headers, base URLs) and the configured admin key."""
    out: list[str] = [admin_key or ""]
    for p in providers:
        out.append(p.api_key or "")
        out += header_secrets(p.headers)
        out += url_secrets(p.base_url)
    return out
