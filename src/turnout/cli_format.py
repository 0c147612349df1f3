"""How the `turnout` command prints: aligned tables with a header row, names made safe for a
terminal, and prices in the web UI's own format (`$0.60` per million tokens)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

from turnout.web.layout import money, per_million

__all__ = ["money", "per_million", "print_table", "printable", "quiet_broken_pipe"]


def printable(text: str) -> str:
    """`text` with control characters (escape sequences, newlines, tabs) shown escaped, so a key
    or model name cannot move the cursor, recolour the terminal or break a table's rows."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Columns padded to their widest cell, a header row first; the last column is not padded."""
    cells = [[printable(str(c)) for c in row] for row in (header, *rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        line = "  ".join(c.ljust(w) for c, w in zip(row[:-1], widths, strict=False))
        print(f"{line}  {row[-1]}" if len(row) > 1 else row[-1])


def quiet_broken_pipe(run: Callable[[], int]) -> int:
    """Run a printing command; when its reader goes away (`turnout keys list | head`), stop
    quietly as Unix tools do, instead of a BrokenPipeError traceback."""
    try:
        code = run()
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # Python would try to flush stdout again at exit and fail once more: point it at /dev/null.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a tool its reader closed
