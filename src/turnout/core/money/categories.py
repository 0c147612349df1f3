"""App categories (`X-OpenRouter-Categories`): what an app says it is, recorded with its attribution.

Only OpenRouter's categories are kept (others are dropped without an error, as unknown attribution
is), at most `MAX_PER_REQUEST` a request from a header of at most `MAX_HEADER` characters. The
(app, category) pairs are noted in memory when a request is recorded and written to the store by
the runtime's refresher (runtime._refresh): never a store write on the request path. Memory is
bounded: pairs already written are remembered up to `MAX_KNOWN`, pending ones up to `MAX_PENDING`.
"""

from __future__ import annotations

import threading

CATEGORIES = (
    "cli-agent", "ide-extension", "cloud-agent", "programming-app", "native-app-builder", "creative-writing",
    "video-gen", "image-gen", "audio-gen", "writing-assistant", "general-chat", "personal-agent", "legal",
    "roleplay", "game",
)
KNOWN = frozenset(CATEGORIES)
MAX_HEADER = 1024
MAX_PER_REQUEST = 5
MAX_KNOWN = 50_000
MAX_PENDING = 5_000


def parse(raw: str | None) -> tuple[str, ...]:
    """The known categories of a header value, in order, without repeats."""
    if not raw or len(raw) > MAX_HEADER:
        return ()
    out: list[str] = []
    for part in raw.split(","):
        name = part.strip().lower()
        if name in KNOWN and name not in out:
            out.append(name)
            if len(out) == MAX_PER_REQUEST:
                break
    return tuple(out)


class AppCategories:
    """(app, category) pairs seen, and those still to be written."""

    def __init__(self) -> None:
        self._known: set[tuple[str, str]] = set()
        self._pending: set[tuple[str, str]] = set()
        self._lock = threading.Lock()  # noted on the loop, drained from the refresher's thread

    def note(self, app: str | None, categories: tuple[str, ...]) -> None:
        if not app or not categories:
            return
        for c in categories:
            pair = (app, c)
            if pair in self._known or pair in self._pending or len(self._pending) >= MAX_PENDING:
                continue
            with self._lock:
                self._pending.add(pair)

    def drain(self) -> list[tuple[str, str]]:
        """The pairs to write now; they count as known from here on."""
        with self._lock:
            pending, self._pending = self._pending, set()
        if len(self._known) + len(pending) > MAX_KNOWN:
            self._known = set()
        self._known |= pending
        return sorted(pending)

    def retry(self, pairs: list[tuple[str, str]]) -> None:
        """A write failed: note the pairs again."""
        self._known -= set(pairs)
        with self._lock:
            self._pending |= set(pairs[: MAX_PENDING - len(self._pending)])
