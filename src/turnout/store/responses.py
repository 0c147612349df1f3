"""The quota arithmetic both SQL stores share for stored responses (store/base.py `save_responses`)."""

from __future__ import annotations

from collections.abc import Iterable


def past_quota(newest_first: Iterable[tuple[str, int]], count: int, size: int) -> list[str]:
    """The ids to drop so that the newest rows keep within `count` rows and `size` bytes."""
    drop, kept, held = [], 0, 0
    for id, bytes_ in newest_first:
        if kept < count and held + bytes_ <= size:
            kept += 1
            held += bytes_
        else:
            drop.append(id)
    return drop


def past_total(oldest_first: Iterable[tuple[str, str, int]], count: int, size: int) -> list[str]:
    """The ids to drop so that all rows keep within `count` and `size`: the key holding the most
    bytes loses its oldest first (as the in-memory cache does), so one key cannot push out another's."""
    by_key: dict[str, list[tuple[str, int]]] = {}
    held: dict[str, int] = {}
    n = total = 0
    for id, key, bytes_ in oldest_first:
        by_key.setdefault(key, []).append((id, bytes_))
        held[key] = held.get(key, 0) + bytes_
        n += 1
        total += bytes_
    drop: list[str] = []
    cursor = dict.fromkeys(by_key, 0)
    while n > count or total > size:
        key = max(held, key=lambda k: (held[k], len(by_key[k]) - cursor[k]))
        id, bytes_ = by_key[key][cursor[key]]
        cursor[key] += 1
        held[key] -= bytes_
        if cursor[key] == len(by_key[key]):
            del held[key]
        drop.append(id)
        n -= 1
        total -= bytes_
    return drop
