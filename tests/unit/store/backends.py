"""Which storage backends the tests actually exercised, printed when the session ends.

A backend counts once a test using it has passed its setup (so a skipped Redis test is not
claimed). Both tests/unit/store and tests/accounts report here; the summary is printed once.
"""

from __future__ import annotations

import pytest

RAN: set[str] = set()
ORDER = ("sqlite", "memory", "redis", "postgres")
_printed = False


def ran(name: str) -> None:
    RAN.add(name)


def terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    global _printed
    if _printed or not RAN:
        return
    _printed = True
    names = [n for n in ORDER if n in RAN] + sorted(RAN - set(ORDER))
    terminalreporter.write_line(f"backends: {', '.join(names)}")
