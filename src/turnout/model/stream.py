"""Canonical stream events: what a provider's stream decoder yields and a dialect encoder consumes.

A well-formed stream is any number of deltas, at most one `UsageReport`, then exactly one `Finish`
or one `StreamFailure`, and nothing after it. `core/streaming.py` enforces that order.
`Heartbeat` marks upstream silence so the encoder can keep the client connection alive.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from turnout.model.chat import JSON
from turnout.model.errors import GatewayError
from turnout.model.result import Usage


@dataclass(slots=True)
class TextDelta:
    text: str


@dataclass(slots=True)
class ReasoningDelta:
    text: str | None = None
    details: list[JSON] | None = None


@dataclass(slots=True)
class ToolCallDelta:
    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(slots=True)
class UsageReport:
    usage: Usage
    cost: Decimal | None = None  # filled in by core/streaming.py from the serving endpoint's prices


@dataclass(slots=True)
class Finish:
    reason: str
    native_reason: str | None = None


@dataclass(slots=True)
class StreamFailure:
    error: GatewayError


@dataclass(slots=True)
class Heartbeat:
    pass


StreamEvent = TextDelta | ReasoningDelta | ToolCallDelta | UsageReport | Finish | StreamFailure | Heartbeat
