"""turnout's own log: one stderr handler on the `turnout` logger, at the `log_level` setting.

`turnout serve` (and every worker it starts) calls `configure` once. An app embedded without it
(tests, another ASGI server) logs through whatever the host configured; the request line is then
off unless the host enables INFO for `turnout`, and costs one level check per request.

What is logged: start-up and shutdown, provider circuits opening and closing (core/health.py),
and one line per request at INFO (core/context.py). Never a prompt, an answer or a key: a key
appears only as its label (`sk-tn-v1-abc...xyz`), which is not a secret.
"""

from __future__ import annotations

import logging
import sys

LEVELS = {"critical": logging.CRITICAL, "error": logging.ERROR, "warning": logging.WARNING,
          "info": logging.INFO, "debug": logging.DEBUG, "trace": logging.DEBUG}
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_MARK = "_turnout_handler"  # so a second call (a reload, a test) does not add a second handler


def level_of(name: str) -> int:
    level = LEVELS.get(name.strip().lower())
    if level is None:
        raise ValueError(name)
    return level


def configure(level_name: str) -> None:
    logger = logging.getLogger("turnout")
    logger.setLevel(level_of(level_name))
    if not any(getattr(h, _MARK, False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT))
        setattr(handler, _MARK, True)
        logger.addHandler(handler)
    logger.propagate = False  # uvicorn configures the root logger too: print each line once


def safe(text: str | None) -> str:
    """A caller-chosen string (a model id) as one log-safe token: no newline can forge a line."""
    if text is None:
        return "-"
    return text if text.isprintable() and " " not in text else ascii(text)
