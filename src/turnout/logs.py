"""turnout's own log: one stderr handler on the `turnout` logger, at the `log_level` setting.

`turnout serve` (and every worker it starts) calls `configure` once. Lines are written in small
batches (`BatchedHandler`: at most 50 ms late, warnings and errors at once). An app embedded without it
(tests, another ASGI server) logs through whatever the host configured; the request line is then
off unless the host enables INFO for `turnout`, and costs one level check per request.

`log_format: json` writes one JSON object per line for every record (uvicorn's too, which also
get this handler): `ts`, `level`, `logger`, `message`, and, for a record made while a request
runs, its `generation_id` and `trace_id` (when tracing is on); the request line adds its fields
(model, provider, status, tokens, cost, ...), so a log shipper can join logs, traces and
generation records.

What is logged: start-up and shutdown, provider circuits opening and closing (core/routing/health.py),
and one line per request at INFO (core/context.py). Never a prompt, an answer or a key: a key
appears only as its label (`sk-tn-v1-abc...xyz`), which is not a secret.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sys
import time
from typing import Any

import orjson

LEVELS = {"critical": logging.CRITICAL, "error": logging.ERROR, "warning": logging.WARNING,
          "info": logging.INFO, "debug": logging.DEBUG, "trace": logging.DEBUG}
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_MARK = "_turnout_handler"  # so a second call (a reload, a test) does not add a second handler


def level_of(name: str) -> int:
    level = LEVELS.get(name.strip().lower())
    if level is None:
        raise ValueError(name)
    return level


class JSONFormatter(logging.Formatter):
    """One JSON object per record, on one line (orjson escapes every newline in a value)."""

    def format(self, record: logging.LogRecord) -> str:
        from turnout.observe.observer import CURRENT

        out: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage(),
        }
        fields = getattr(record, "turnout", None)
        if isinstance(fields, dict):
            out.update(fields)
        else:
            slot = CURRENT.get()
            if slot is not None and slot.ctx is not None:
                out["generation_id"] = slot.ctx.id
                out["trace_id"] = slot.trace_id
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


class BatchedHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """stderr, with INFO lines written in batches: a line made on the event loop waits at most
    `WAIT` seconds (or until `BATCH` are waiting) and the lot goes out in one write, rather than a
    write and a flush per request line. A WARNING or worse, or a line from another thread, goes
    out at once with everything waiting before it."""

    WAIT = 0.05
    BATCH = 64

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._lines: list[str] = []
        self._timer: asyncio.AbstractEventLoop | None = None  # the loop a write is scheduled on

    def emit(self, record: logging.LogRecord) -> None:  # called with the handler's lock held
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return
        self._add(line, urgent=record.levelno > logging.INFO)

    def line(self, text: str) -> None:
        """A whole INFO line already formatted (the request line: `direct`), batched like the rest."""
        self.acquire()
        try:
            self._add(text, urgent=False)
        finally:
            self.release()

    def _add(self, text: str, *, urgent: bool) -> None:
        self._lines.append(text)
        if urgent or len(self._lines) >= self.BATCH:
            self._write()
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not on an event loop: nothing would write it later
            self._write()
            return
        if self._timer is not loop:  # none scheduled (or on a loop that has ended)
            self._timer = loop
            loop.call_later(self.WAIT, self._later, context=contextvars.Context())  # no request's context

    def _later(self) -> None:
        self.acquire()
        try:
            self._timer = None
            self._write()
        finally:
            self.release()

    def _write(self) -> None:
        lines, self._lines = self._lines, []
        if lines:
            try:
                self.stream.write("".join(lines))
                self.stream.flush()
            except Exception:  # a closed stderr must not break a request
                pass

    def flush(self) -> None:
        self.acquire()
        try:
            self._write()
        finally:
            self.release()


_TEXT = logging.Formatter(FORMAT)
_second = -1
_stamp = ""


def direct(logger: logging.Logger) -> BatchedHandler | None:
    """The handler a line of `logger` can be handed to already formatted, skipping the record,
    its formatter and the handler chain (a fifth of the gateway's own time per request): only
    when `configure` set the text format up and nobody added a handler, filter or format since."""
    parent = logger.parent
    if logger.handlers or logger.filters or parent is None or parent.filters or len(parent.handlers) != 1:
        return None
    handler = parent.handlers[0]
    if type(handler) is not BatchedHandler or handler.formatter is not _TEXT or handler.filters:
        return None
    return handler


def asctime() -> str:
    """Now, as the text format's `%(asctime)s` shows it (the date part made once a second)."""
    global _second, _stamp
    now = time.time()
    second = int(now)
    if second != _second:
        _second, _stamp = second, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
    return f"{_stamp},{int((now - second) * 1000):03d}"


def flush() -> None:
    """Write the lines still waiting (the end of a lifespan, of `turnout serve`)."""
    for handler in logging.getLogger("turnout").handlers:
        handler.flush()


def configure(level_name: str, log_format: str = "text") -> None:
    logger = logging.getLogger("turnout")
    logger.setLevel(level_of(level_name))
    formatter = JSONFormatter() if log_format == "json" else _TEXT
    # Neither format shows them, and each record would look them up (logging's own advice).
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    mine = [h for h in logger.handlers if getattr(h, _MARK, False)]
    if not mine:
        stream = BatchedHandler(sys.stderr)
        setattr(stream, _MARK, True)
        logger.addHandler(stream)
        mine = [stream]
    for handler in mine:
        handler.setFormatter(formatter)
    logger.propagate = False  # uvicorn configures the root logger too: print each line once


def uvicorn_config(log_format: str) -> dict[str, object] | None:
    """uvicorn's `log_config` for `log_format: json` (its own lines as JSON too); None: its default."""
    if log_format != "json":
        return None
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {"version": 1, "disable_existing_loggers": False,
            "formatters": {"json": {"()": "turnout.logs.JSONFormatter"}},
            "handlers": {"default": handler},
            "loggers": {"uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
                        "uvicorn.error": {"level": "INFO"},
                        "uvicorn.access": {"handlers": ["default"], "level": "INFO", "propagate": False}}}


def safe(text: str | None) -> str:
    """A caller-chosen string (a model id) as one log-safe token: no newline can forge a line."""
    if text is None:
        return "-"
    return text if text.isprintable() and " " not in text else ascii(text)
