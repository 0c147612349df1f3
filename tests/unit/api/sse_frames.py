"""Reading back what an encoder wrote: (event name, data) pairs of SSE frames."""

from __future__ import annotations

import json
from typing import Any


def frames(raw: bytes) -> list[tuple[str | None, Any]]:
    out: list[tuple[str | None, Any]] = []
    for block in raw.decode().split("\n\n"):
        if not block:
            continue
        if block.startswith(":"):
            out.append((None, block))
            continue
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        out.append((fields.get("event"), json.loads(fields["data"]) if fields["data"] != "[DONE]" else "[DONE]"))
    return out
