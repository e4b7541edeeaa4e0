"""A cache of raw policy answers, keyed by principal, grants version and question.

The interface is what a Redis-backed cache shared by gateway replicas must provide; the in-process
implementation here bounds size (LRU) and age (TTL). Entries carry tags (the organisations whose
grants they depend on) so a grant change can evict them at once: `invalidate(tag)` is the hook a
grant mutation calls (through `Authorizer.grants_changed`), and what a replica calls on a pub/sub
message. Values are JSON documents, so any shared store can hold them.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol


class DecisionCache(Protocol):
    async def get(self, key: str) -> Any | None: ...

    async def put(self, key: str, value: Any, ttl_seconds: float, tags: Iterable[str]) -> None: ...

    async def invalidate(self, tag: str) -> None: ...

    async def clear(self) -> None: ...


@dataclass(frozen=True)
class _Entry:
    value: Any
    expires_at: float
    tags: frozenset[str]


class InProcessDecisionCache:
    """LRU with a maximum number of entries and a per-entry expiry."""

    def __init__(
        self, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._by_tag: dict[str, set[str]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> Any | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at <= self._clock():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry.value

    async def put(self, key: str, value: Any, ttl_seconds: float, tags: Iterable[str]) -> None:
        if ttl_seconds <= 0:
            return
        self._drop(key)
        entry = _Entry(value, self._clock() + ttl_seconds, frozenset(tags))
        self._entries[key] = entry
        for tag in entry.tags:
            self._by_tag.setdefault(tag, set()).add(key)
        while len(self._entries) > self.max_entries:
            self._drop(next(iter(self._entries)))

    async def invalidate(self, tag: str) -> None:
        for key in list(self._by_tag.get(tag, ())):
            self._drop(key)

    async def clear(self) -> None:
        self._entries.clear()
        self._by_tag.clear()

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        for tag in entry.tags:
            keys = self._by_tag.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_tag[tag]
