"""Requests per organisation per minute: in process, or shared by every replica through Redis.

A fixed one-minute window per subject (organisation id, or the client address of anonymous
requests). Fixed windows admit at most twice the limit across a window edge; that is acceptable for
a fairness limit and costs one Redis round trip (INCR + EXPIRE in one pipeline) per request.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    remaining: int
    retry_after: int


class RateLimiter(Protocol):
    limit: int

    async def hit(self, subject: str) -> Verdict: ...


def _verdict(limit: int, count: int, now: float) -> Verdict:
    retry = max(1, math.ceil(WINDOW_SECONDS - now % WINDOW_SECONDS))
    return Verdict(count <= limit, max(0, limit - count), retry)


class InProcessRateLimiter:
    def __init__(self, limit: int, clock: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self._clock = clock
        self._counts: dict[str, tuple[int, int]] = {}

    async def hit(self, subject: str) -> Verdict:
        now = self._clock()
        window = int(now // WINDOW_SECONDS)
        if len(self._counts) > 100_000:  # forget finished windows; bounded memory
            self._counts = {k: v for k, v in self._counts.items() if v[0] == window}
        seen_window, count = self._counts.get(subject, (window, 0))
        count = count + 1 if seen_window == window else 1
        self._counts[subject] = (window, count)
        return _verdict(self.limit, count, now)


class RedisRateLimiter:
    def __init__(self, redis: Redis, limit: int, clock: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self._redis = redis
        self._clock = clock

    async def hit(self, subject: str) -> Verdict:
        now = self._clock()
        key = f"cbamhub:ratelimit:{subject}:{int(now // WINDOW_SECONDS)}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, 2 * WINDOW_SECONDS, nx=True)
            count, _ = await pipe.execute()
        return _verdict(self.limit, int(count), now)
