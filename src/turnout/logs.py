"""turnout's own log: one stderr handler on the `turnout` logger, at the `log_level` setting.

`turnout serve` (and every worker it starts) calls `configure` once. An app embedded without it
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

import logging
import sys
import time

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


def configure(level_name: str, log_format: str = "text") -> None:
    logger = logging.getLogger("turnout")
    logger.setLevel(level_of(level_name))
    formatter = JSONFormatter() if log_format == "json" else logging.Formatter(FORMAT)
    mine = [h for h in logger.handlers if getattr(h, _MARK, False)]
    if not mine:
        stream = logging.StreamHandler(sys.stderr)
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
