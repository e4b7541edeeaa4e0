"""TtlCache, the hot-read cache of both front doors: one load per key however many wait, nothing
older than its ttl, failures not kept, and an invalidation that no earlier load can undo."""

from __future__ import annotations

import asyncio

import pytest

from cbamhub.ttl_cache import TtlCache


class Source:
    """A value that changes when told, counting its loads; `gate` holds loads until set."""

    def __init__(self) -> None:
        self.value = "v1"
        self.loads = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def load(self) -> str:
        self.loads += 1
        value = self.value
        await self.gate.wait()
        return value


async def test_concurrent_callers_share_one_load() -> None:
    cache: TtlCache[str] = TtlCache(10)
    source = Source()
    source.gate.clear()
    waiting = [asyncio.create_task(cache.get("k", source.load)) for _ in range(20)]
    await asyncio.sleep(0.01)
    source.gate.set()
    assert await asyncio.gather(*waiting) == ["v1"] * 20
    assert source.loads == 1


async def test_a_value_is_never_served_older_than_its_ttl() -> None:
    cache: TtlCache[str] = TtlCache(0.1)
    source = Source()
    assert await cache.get("k", source.load) == "v1"
    source.value = "v2"
    await asyncio.sleep(0.12)
    assert await cache.get("k", source.load) == "v2"


async def test_a_hot_key_is_reloaded_ahead_of_its_expiry() -> None:
    cache: TtlCache[str] = TtlCache(2.0)
    source = Source()
    await cache.get("k", source.load)
    source.value = "v2"
    await asyncio.sleep(1.7)  # past the refresh point (in the last 20-60 % of its life)
    assert await cache.get("k", source.load) == "v1"  # served at once, reloading behind
    await asyncio.sleep(0.01)
    assert await cache.get("k", source.load) == "v2"
    assert source.loads == 2


async def test_a_failed_load_is_not_kept() -> None:
    cache: TtlCache[str] = TtlCache(10)
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("shard away")
        return "ok"

    with pytest.raises(ConnectionError):
        await cache.get("k", flaky)
    assert await cache.get("k", flaky) == "ok"


async def test_invalidate_drops_the_value_at_once() -> None:
    cache: TtlCache[str] = TtlCache(10)
    source = Source()
    await cache.get("k", source.load)
    source.value = "v2"
    cache.invalidate("k")
    assert await cache.get("k", source.load) == "v2"


async def test_a_refresh_under_way_at_an_invalidation_is_not_kept() -> None:
    cache: TtlCache[str] = TtlCache(2.0)
    source = Source()
    await cache.get("k", source.load)
    await asyncio.sleep(1.7)
    source.gate.clear()
    assert await cache.get("k", source.load) == "v1"  # starts a refresh that reads "v1"
    cache.invalidate("k")  # e.g. the grant was revoked while that refresh was reading
    source.value = "v2"
    source.gate.set()
    await asyncio.sleep(0.01)  # the stale refresh finishes now
    assert await cache.get("k", source.load) == "v2"


async def test_a_zero_ttl_caches_nothing() -> None:
    cache: TtlCache[str] = TtlCache(0)
    source = Source()
    await cache.get("k", source.load)
    await cache.get("k", source.load)
    assert source.loads == 2
