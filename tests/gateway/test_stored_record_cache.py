"""A replica's cache of records with their proofs (`StoredRecordCache`).

Records are read once however many requests miss them at once, a failed read is shared by its
waiters and not kept, a request that goes away does not cancel the others' read; and a listed
record is rendered for a reader once per view while it stays the cached record: the same record,
reader's fields and status give the same (immutable) object; any of the three changing, or a
fresher load of the record, gives a new one."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from cbamhub.gateway.graphql_types import POLICY_FIELD, Record
from cbamhub.gateway.record_queries import StoredRecordCache
from cbamhub.vault import reading
from cbamhub.vault.shards import ShardRouter
from gateway_hub import Hub

PUBLISH = """mutation($input: SignedRecordInput!) { publishRecord(input: $input) { recordId } }"""


async def publish(hub: Hub, count: int) -> list[str]:
    ids = []
    for i in range(count):
        document = hub.record(see_direct=1.5 + i / 100)
        body = await hub.gql(PUBLISH, input=hub.signed_input(document))
        ids.append(body["data"]["publishRecord"]["recordId"])
    return ids


class CountedReads:
    """`reading.records_with_proof` as it is, counting calls; `gate` holds reads until set."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, fail: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.gate = asyncio.Event()
        original = reading.records_with_proof

        async def counted(router: ShardRouter, ids: list[str]) -> Any:
            self.calls.append(list(ids))
            await self.gate.wait()
            if fail:
                raise RuntimeError("the shard did not answer")
            return await original(router, ids)

        monkeypatch.setattr(reading, "records_with_proof", counted)


async def test_requests_missing_the_same_records_at_once_share_one_read(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, c = await publish(hub, 3)
    router = await ShardRouter.open(hub.settings)
    try:
        reads = CountedReads(monkeypatch)
        cache = StoredRecordCache(ttl=60)
        first = asyncio.ensure_future(cache.load(router, [a, b]))
        second = asyncio.ensure_future(cache.load(router, [b, c, a]))
        await asyncio.sleep(0.01)
        first.cancel()  # the request that started the read went away
        reads.gate.set()
        found = await second
        assert [s.record_id if s else None for s in found] == [b, c, a]
        assert sorted(map(sorted, reads.calls)) == sorted([sorted([a, b]), [c]])
        assert await cache.load(router, [c, a]) == [found[1], found[2]]  # cached: no new read
        assert len(reads.calls) == 2
    finally:
        await router.close()


async def test_a_failed_read_fails_its_waiters_and_is_not_kept(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    (a,) = await publish(hub, 1)
    router = await ShardRouter.open(hub.settings)
    try:
        failing = CountedReads(monkeypatch, fail=True)
        cache = StoredRecordCache(ttl=60)
        waiters = [asyncio.ensure_future(cache.load(router, [a])) for _ in range(3)]
        await asyncio.sleep(0.01)
        failing.gate.set()
        outcomes = await asyncio.gather(*waiters, return_exceptions=True)
        assert all(isinstance(o, RuntimeError) for o in outcomes) and len(failing.calls) == 1
        monkeypatch.undo()
        (stored,) = await cache.load(router, [a])  # read again, now that the shard answers
        assert stored is not None and stored.record_id == a
    finally:
        await router.close()


async def test_a_view_is_rendered_once_per_record_fields_and_status(hub: Hub) -> None:
    (record_id,) = await publish(hub, 1)
    router = await ShardRouter.open(hub.settings)
    try:
        cache = StoredRecordCache(ttl=60)
        (stored,) = await cache.load(router, [record_id])
        assert stored is not None
        full = cache.render(stored, None, "submitted")
        assert full == Record.from_stored(stored, None, "submitted")
        assert cache.render(stored, None, "submitted") is full

        emissions_only = frozenset({POLICY_FIELD["see_direct"]})
        masked = cache.render(stored, emissions_only, "submitted")
        assert masked.see_direct == full.see_direct and masked.country_code is None
        assert full.country_code == "TR" and masked.signature is None
        assert cache.render(stored, emissions_only, "submitted") is masked
        assert cache.render(stored, None, "verified").status == "verified"
        assert cache.render(stored, None, "submitted") is full  # the other views did not evict it

        reloaded = await reading.record_with_proof(router, record_id)
        assert reloaded is not stored
        assert cache.render(reloaded, None, "submitted") is not full  # rendered from the new load

        uncached = StoredRecordCache(ttl=0)
        assert uncached.render(stored, None, "submitted") is not uncached.render(
            stored, None, "submitted"
        )
    finally:
        await router.close()
