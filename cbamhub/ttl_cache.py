"""A small async cache for both doors' hot reads: time-bounded, single flight, refreshed ahead.

WHY: a customs client checks the same few records thousands of times a second. Each key is loaded
once by however many callers wait for it (single flight), never served older than `ttl` seconds,
and reloaded in the background late in its life (at a random point of its last 20-60 %, so keys
loaded together do not all reload together and stall the event loop at once) while callers keep
getting the current value: an entry under load never expires into a stall. A failed load is not
kept. `invalidate` drops a key at once, and a load that started before it is never kept after it
(a revoked grant must not come back from a refresh that read it a moment earlier).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

_V = TypeVar("_V")


class TtlCache(Generic[_V]):
    def __init__(self, ttl: float, max_entries: int = 50_000) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._entries: dict[Hashable, tuple[float, asyncio.Future[_V], float]] = {}
        """key -> (expires at, the load, refresh from)"""
        self._refreshing: set[Hashable] = set()
        self._generation: dict[Hashable, int] = {}
        """key -> invalidations so far (only keys ever invalidated)"""
        self._resets = 0
        """times `_generation` was emptied to bound it (which invalidated every key)"""

    async def get(self, key: Hashable, load: Callable[[], Awaitable[_V]]) -> _V:
        if self._ttl <= 0:
            return await load()
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is None or hit[0] <= now:
            hit = self._start(key, load, now)
        elif hit[1].done() and hit[1].exception() is None:
            if now >= hit[2] and key not in self._refreshing:
                self._refresh(key, load)
            return hit[1].result()  # the hot path: no new future per call
        try:
            return await asyncio.shield(hit[1])
        except Exception:
            if self._entries.get(key) is hit:
                del self._entries[key]
            raise

    def _entry(
        self, loaded_at: float, load: asyncio.Future[_V]
    ) -> tuple[float, asyncio.Future[_V], float]:
        expires = loaded_at + self._ttl
        return expires, load, expires - self._ttl * random.uniform(0.2, 0.6)

    def invalidate(self, key: Hashable) -> None:
        """Forget `key` now; loads of it already under way are not kept (their callers still get
        their answer)."""
        self._entries.pop(key, None)
        if len(self._generation) >= self._max:  # bounded memory: invalidate everything instead
            self._generation.clear()
            self._entries.clear()
            self._resets += 1
        self._generation[key] = self._generation.get(key, 0) + 1

    def _generation_of(self, key: Hashable) -> tuple[int, int]:
        return self._resets, self._generation.get(key, 0)

    def _start(
        self, key: Hashable, load: Callable[[], Awaitable[_V]], now: float
    ) -> tuple[float, asyncio.Future[_V], float]:
        if len(self._entries) >= self._max:
            self._entries.clear()
        entry = self._entry(now, asyncio.ensure_future(load()))
        self._entries[key] = entry  # `invalidate` removes it, loaded or not
        return entry

    def _refresh(self, key: Hashable, load: Callable[[], Awaitable[_V]]) -> None:
        self._refreshing.add(key)
        started = time.monotonic()
        generation = self._generation_of(key)
        task = asyncio.ensure_future(load())

        def settled(done: asyncio.Future[_V]) -> None:
            self._refreshing.discard(key)
            if done.cancelled() or done.exception() is not None:
                self._entries.pop(key, None)  # the next caller loads (and sees the error)
            elif self._generation_of(key) == generation:
                # valid from when the load started: never older than ttl when served
                self._entries[key] = self._entry(started, done)

        task.add_done_callback(settled)
