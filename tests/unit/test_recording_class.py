"""A failure that is the gateway's own bug is recorded as an error (500), not as a client disconnect."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from turnout.core.context import RequestContext
from turnout.store.base import GenerationRecord


class Recorder:
    """Stands in for the Accountant: keeps what `record` was given (no HTTP involved)."""

    def __init__(self) -> None:
        self.records: list[GenerationRecord] = []

    def record(self, rec: GenerationRecord, reservation: Any = None) -> None:
        self.records.append(rec)


def context(recorder: Recorder) -> RequestContext:
    return RequestContext(accountant=recorder, key=None, dialect_in="openai", model_id="a/b", streamed=False)  # type: ignore[arg-type]


def test_a_bug_is_recorded_as_an_error() -> None:
    recorder = Recorder()
    ctx = context(recorder)
    with pytest.raises(TypeError), ctx.recording_failures():
        raise TypeError("Integer exceeds 64-bit range")
    [rec] = recorder.records
    assert rec.status == "error"
    assert rec.error_code == 500
    assert rec.error_message == "Internal error"


def test_a_cancellation_is_still_recorded_as_cancelled() -> None:
    recorder = Recorder()
    ctx = context(recorder)
    with pytest.raises(asyncio.CancelledError), ctx.recording_failures():
        raise asyncio.CancelledError
    [rec] = recorder.records
    assert rec.status == "cancelled" and rec.error_code == 499
