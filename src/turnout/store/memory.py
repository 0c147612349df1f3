"""In-process `Counters`: the default rate-limit store for a single process (no I/O, no await)."""

from __future__ import annotations


class MemoryCounters:
    """Per counter: the current window's index, its total and the previous window's total."""

    def __init__(self, max_names: int = 100_000) -> None:
        self._state: dict[str, list[int]] = {}
        self._max = max_names

    def _slot(self, name: str, window: int, now: float) -> list[int]:
        idx = int(now // window)
        slot = self._state.get(name)
        if slot is None:
            if len(self._state) >= self._max:  # forget the idle ones rather than grow without bound
                self._state = {k: v for k, v in self._state.items() if v[0] >= idx - 1}
            slot = self._state[name] = [idx, 0, 0]
        elif slot[0] != idx:
            slot[2] = slot[1] if slot[0] == idx - 1 else 0
            slot[0], slot[1] = idx, 0
        return slot

    def add_now(self, name: str, amount: int, window: int, now: float) -> tuple[int, int]:
        slot = self._slot(name, window, now)
        slot[1] += amount
        return slot[1], slot[2]

    async def add(self, name: str, amount: int, window: int, now: float) -> tuple[int, int]:
        return self.add_now(name, amount, window, now)

    async def read(self, name: str, window: int, now: float) -> tuple[int, int]:
        slot = self._slot(name, window, now)
        return slot[1], slot[2]

    def add_later(self, name: str, amount: int, window: int, now: float) -> None:
        self.add_now(name, amount, window, now)

    async def close(self) -> None:
        self._state.clear()
