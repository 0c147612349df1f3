"""turnout's log: the request line (fields, no secrets, no forged lines), circuit changes, configure()."""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from pathlib import Path

import pytest

from turnout.api.catalog_wire import model_wire
from turnout.core.catalog.catalog import build_catalog
from turnout.core.context import log_request
from turnout.core.money.keys import KeyState
from turnout.core.routing.health import BREAKER_THRESHOLD, HealthTracker
from turnout.logs import configure
from turnout.runtime import date_models
from turnout.store.base import GenerationRecord
from turnout.store.sqlite import SQLiteStore

KEY = KeyState("hash", "laptop", "sk-tn-v1-abc...xyz", None, Decimal(0), False)


def record(model: str = "acme/echo", status: str = "ok", error_code: int | None = None) -> GenerationRecord:
    return GenerationRecord(
        id="gen-1-abc", created_at=time.time(), key_hash="hash", model=model, provider="Acme", upstream_model="u",
        dialect_in="openai", dialect_out="openai", streamed=False, status=status, finish_reason="stop",
        native_finish_reason="stop", prompt_tokens=12, completion_tokens=48, cached_tokens=0, cache_write_tokens=0,
        reasoning_tokens=0, usage_estimated=False, cost=Decimal("0.00000012"), latency_ms=1.0,
        generation_time_ms=412.4, error_code=error_code, error_message=None, app_title=None, app_referer=None,
        attempts=[],
    )


def test_the_request_line_has_the_fields_and_nothing_secret(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="turnout"):
        log_request(record(), KEY, "acme")
        log_request(record(status="error", error_code=502), None, None)
    assert [r.getMessage() for r in caplog.records] == [
        "gen-1-abc key=sk-tn-v1-abc...xyz model=acme/echo provider=acme status=ok latency_ms=412 tokens=12+48 cost=0.00000012",
        "gen-1-abc key=- model=acme/echo provider=- status=error 502 latency_ms=412 tokens=12+48 cost=0.00000012",
    ]
    assert caplog.records[0].name == "turnout.requests" and "hash" not in caplog.text


def test_a_model_id_from_the_caller_cannot_forge_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="turnout"):
        log_request(record(model="x\n2026-01-01 INFO turnout.requests: gen-forged"), KEY, "acme")
    assert "\n" not in caplog.records[0].getMessage()
    assert "model='x\\n2026-01-01 INFO turnout.requests: gen-forged'" in caplog.records[0].getMessage()


def test_circuit_changes_are_logged_once_each(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    health = HealthTracker(clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="turnout"):
        for _ in range(BREAKER_THRESHOLD + 3):  # the extra failures while open change nothing
            health.failure("acme|acme/echo|m")
        now[0] = 10.0
        health.claim_probe("acme|acme/echo|m")
        health.success("acme|acme/echo|m")
        health.success("acme|acme/echo|m")
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "circuit open for acme|acme/echo|m after 5 consecutive failures; next probe in 5s"),
        ("INFO", "circuit closed for acme|acme/echo|m: a probe succeeded"),
    ]


def test_configure_sets_the_level_and_adds_one_handler() -> None:
    logger = logging.getLogger("turnout")
    before = (logger.level, list(logger.handlers), logger.propagate)
    try:
        configure("warning")
        configure("WARNING")
        assert logger.level == logging.WARNING and not logger.isEnabledFor(logging.INFO)
        assert len([h for h in logger.handlers if getattr(h, "_turnout_handler", False)]) == 1
        configure("info")
        assert logging.getLogger("turnout.requests").isEnabledFor(logging.INFO)
    finally:
        logger.setLevel(before[0])
        logger.handlers[:] = before[1]
        logger.propagate = before[2]


def test_models_without_created_get_the_time_this_gateway_first_saw_them(tmp_path: Path) -> None:
    providers = {"acme": {"dialect": "openai", "base_url": "http://127.0.0.1:1/v1"}}
    models = {"acme/new": {"context_length": 10, "endpoints": [{"provider": "acme"}]},
              "acme/dated": {"context_length": 10, "created": 1735689600, "endpoints": [{"provider": "acme"}]}}
    store = SQLiteStore(tmp_path / "t.db")
    store.migrate()
    try:
        first = build_catalog(providers, models, env={})
        before = time.time()
        date_models(first, store)
        seen = first.models["acme/new"].created
        assert int(before) <= seen <= time.time() and model_wire(first.models["acme/new"])["created"] == seen
        assert first.models["acme/dated"].created == 1735689600
        assert first.models["z-ai/glm-4.6"].created == 1759190400  # built-in dates stay
        time.sleep(1.1)
        again = build_catalog(providers, models, env={})  # a restart: the same time, not a new one
        date_models(again, store)
        assert again.models["acme/new"].created == seen
    finally:
        store.close()


def test_the_request_line_written_directly_is_the_formatted_record_and_goes_out_in_batches() -> None:
    """`configure` (text) lets the request line skip the record path (logs.direct): the same text as
    the formatter makes, held for a moment and written with the lines around it in one piece."""
    import asyncio
    import io
    import re

    from turnout.logs import BatchedHandler, direct

    logger = logging.getLogger("turnout")
    before = (logger.level, list(logger.handlers), logger.propagate)
    try:
        for h in list(logger.handlers):
            logger.removeHandler(h)
        configure("info")
        (handler,) = logger.handlers
        assert isinstance(handler, BatchedHandler)
        out = io.StringIO()
        handler.setStream(out)
        requests = logging.getLogger("turnout.requests")
        assert direct(requests) is handler
        log_request(record(), KEY, "acme")  # off an event loop: written at once
        first = out.getvalue()
        out.seek(0)
        out.truncate()

        async def on_the_loop() -> tuple[str, str]:
            log_request(record(), KEY, "acme")
            waiting = out.getvalue()
            await asyncio.sleep(BatchedHandler.WAIT * 3)
            return waiting, out.getvalue()

        waiting, fast = asyncio.run(on_the_loop())
        assert waiting == "" and fast[23:] == first[23:]  # held, then written by the handler's timer
        stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"
        body = (" INFO turnout.requests: gen-1-abc key=sk-tn-v1-abc...xyz model=acme/echo provider=acme status=ok "
                "latency_ms=412 tokens=12+48 cost=0.00000012\n")
        assert re.fullmatch(stamp + re.escape(body), fast), fast
        # a filter on the logger: the record path again, with the same text
        requests.addFilter(lambda r: True)
        try:
            assert direct(requests) is None
            out.seek(0)
            out.truncate()
            log_request(record(), KEY, "acme")
            handler.flush()
            assert re.fullmatch(stamp + re.escape(body), out.getvalue()), out.getvalue()
        finally:
            requests.filters.clear()
        # a warning goes out at once, with what waited before it
        out.seek(0)
        out.truncate()
        log_request(record(), KEY, "acme")
        logging.getLogger("turnout.health").warning("circuit open")
        lines = out.getvalue().splitlines()
        assert len(lines) == 2 and lines[0].endswith("cost=0.00000012") and lines[1].endswith("circuit open")
    finally:
        for h in list(logger.handlers):
            logger.removeHandler(h)
        for h in before[1]:
            logger.addHandler(h)
        logger.setLevel(before[0])
        logger.propagate = before[2]
