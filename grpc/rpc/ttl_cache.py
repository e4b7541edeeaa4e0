"""A small async cache for the RPC door's hot reads: time-bounded, single flight, refreshed ahead.

WHY: a customs client checks the same few records thousands of times a second. Each key is loaded
once by however many callers wait for it (single flight), never served older than `ttl` seconds,
and reloaded in the background late in its life (at a random point of its last 20-60 %, so keys
loaded together do not all reload together and stall the event loop at once) while callers keep
getting the current value: an entry under load never expires into a stall. A failed load is not
kept.
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

    def _start(
        self, key: Hashable, load: Callable[[], Awaitable[_V]], now: float
    ) -> tuple[float, asyncio.Future[_V], float]:
        if len(self._entries) >= self._max:
            self._entries.clear()
        entry = self._entry(now, asyncio.ensure_future(load()))
        self._entries[key] = entry
        return entry

    def _refresh(self, key: Hashable, load: Callable[[], Awaitable[_V]]) -> None:
        self._refreshing.add(key)
        started = time.monotonic()
        task = asyncio.ensure_future(load())

        def settled(done: asyncio.Future[_V]) -> None:
            self._refreshing.discard(key)
            if done.cancelled() or done.exception() is not None:
                self._entries.pop(key, None)  # the next caller loads (and sees the error)
            else:
                # valid from when the load started: never older than ttl when served
                self._entries[key] = self._entry(started, done)

        task.add_done_callback(settled)
