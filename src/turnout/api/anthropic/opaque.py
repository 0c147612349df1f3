"""Reasoning details from other providers, carried through a client as opaque strings.

Anthropic's `thinking.signature` / `redacted_thinking.data` and the Responses API's
`encrypted_content` are strings a client must send back unchanged. When the answer came from an
Anthropic upstream they hold Anthropic's own values. When it came from another provider (a
Gemini thought signature that belongs to one tool call, say), the canonical detail (format, id,
data) does not fit in the dialect's fields, so the whole detail travels as
`turnout.v1.<base64url(JSON)>` and is restored exactly when the client sends it back. A string
without the prefix is taken as the provider's own value. The Responses dialect uses the same
wrapping for its list of details.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from turnout.model.chat import JSON

PREFIX = "turnout.v1."
NATIVE_FORMATS = (None, "anthropic-claude-v1")  # details an Anthropic client can hold as they are


def is_native(detail: JSON) -> bool:
    return detail.get("format") in NATIVE_FORMATS


def pack(value: JSON | list[JSON]) -> str:
    return PREFIX + base64.urlsafe_b64encode(orjson.dumps(value)).decode()


def unpack(blob: str | None) -> Any:
    """The packed value, or None when `blob` is not one of ours (or is damaged)."""
    if not blob or not blob.startswith(PREFIX):
        return None
    try:
        return orjson.loads(base64.urlsafe_b64decode(blob[len(PREFIX):].encode()))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        return None


def signature_of(detail: JSON) -> str:
    """What goes in a thinking block's `signature` for a `reasoning.text` detail."""
    if is_native(detail):
        return str(detail.get("signature") or "")
    return pack(detail) if detail.get("signature") else ""


def data_of(detail: JSON) -> str:
    """What goes in a `redacted_thinking` block's `data` for a `reasoning.encrypted` detail."""
    return str(detail.get("data") or "") if is_native(detail) else pack(detail)
