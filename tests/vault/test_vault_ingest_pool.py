"""The parallel check phase of bulk ingest (vault/ingest_pool.py, decision 0096), on SQLite and
PostgreSQL with real worker processes: a batch checked in the workers is rejected with exactly the
report the in-process check gives, nothing written; a good one is stored so that it opens, proves
and replays like a record checked in process; a worker that dies fails its batch cleanly and the
pool is replaced."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cbamhub.ledger.evidence import verify_evidence
from cbamhub.vault import publishing
from cbamhub.vault.errors import BadInput, DuplicateSubmission
from cbamhub.vault.ingest_pool import IngestUnavailable
from cbamhub.vault.publishing import Submission
from cbamhub.vault.reading import record_with_proof
from cbamhub.vault.shards import ShardRouter, load_log_signer
from cbamhub.vault.signing import OrganisationKey
from vault_samples import PERIOD
from vault_world import STEEL, WIRE, Site, World, count, world_settings

POOLED = {"ingest_processes": 2, "ingest_process_min_batch": 8, "ingest_process_chunk": 16}


@pytest.fixture
async def world(region_urls: dict[str, str], tmp_path: Path) -> AsyncIterator[World]:
    settings = world_settings(region_urls, tmp_path).with_overrides(**POOLED)
    router = await ShardRouter.open(settings)
    try:
        yield World(router)
    finally:
        await router.close()


def _good(world: World, site: Site, i: int) -> Submission:
    mass = 1000.0 + i
    figures = {"specificEmbeddedEmissionsDirect": 2.0, "attributedEmissions": 2.0 * mass}
    document = world.record(site, activityData={**PERIOD, "netMass": mass}, directEmissions=figures)
    signed = site.owner.sign(document)
    return Submission(signed.payload, signed.signature, signed.key_id)


async def _report(world: World, rows: list[Submission], **settings: Any) -> tuple[str, Any]:
    base = world.router.settings
    world.router.settings = base.with_overrides(**settings)
    try:
        with pytest.raises(BadInput) as raised:
            await publishing.publish_batch(world.router, rows)
    finally:
        world.router.settings = base
    return raised.value.message, raised.value.details


async def test_bad_rows_found_in_the_workers_are_reported_as_in_process(world: World) -> None:
    maker = await world.org("manufacturer", "CN")
    site = await world.site(maker, "CN", (STEEL,))
    stranger = OrganisationKey.generate()
    wrong_line = maker.sign(world.record(site, cn_code=WIRE))
    loose = json.dumps(json.loads(_good(world, site, 9).payload), indent=1).encode()
    by_stranger = stranger.sign_document(world.record(site))
    invalid = maker.sign(world.record(site, dataQualityTier="Guessed", cnCode="7208"))
    rows = [
        _good(world, site, 0),
        Submission(
            _good(world, site, 1).payload, _good(world, site, 2).signature, maker.key.key_id
        ),
        Submission(wrong_line.payload, _good(world, site, 3).signature, maker.key.key_id),
        Submission(wrong_line.payload, wrong_line.signature, wrong_line.key_id),
        Submission(by_stranger.payload, by_stranger.signature, by_stranger.key_id),  # no key
        Submission(b"{not json", _good(world, site, 4).signature, maker.key.key_id),
        Submission(loose, maker.key.sign_document({"x": 1}).signature, maker.key.key_id),
        Submission(invalid.payload, invalid.signature, invalid.key_id),
        *(_good(world, site, 10 + i) for i in range(60)),  # several chunks per worker
    ]
    in_process = await _report(world, rows, ingest_processes=0)
    assert world.router.ingest_pool.pids() == []  # the workers never started
    pooled = await _report(world, rows)
    assert len(world.router.ingest_pool.pids()) == 2  # ... and now they checked the batch
    assert pooled == in_process
    message, details = pooled
    assert message == "7 of 68 rows are invalid: nothing was published"
    assert [(p["row"], p["code"], p["field"]) for p in details["problems"]][:6] == [
        (1, "INVALID_SIGNATURE", "(submission)"),
        (2, "INVALID_SIGNATURE", "(submission)"),  # the signature is checked before the line
        (3, "BAD_USER_INPUT", "cnCode"),
        (4, "UNKNOWN_KEY", "(submission)"),
        (5, "BAD_USER_INPUT", "(submission)"),
        (6, "BAD_USER_INPUT", "(submission)"),
    ]
    assert {p["field"] for p in details["problems"] if p["row"] == 7} >= {"cnCode"}
    assert details["problems"][4]["reason"].startswith("payload is not JSON")
    assert "RFC 8785" in details["problems"][5]["reason"]
    assert await count(world.router, "cn", "records") == 0
    assert await count(world.router, "cn", "record_scores") == 0


async def test_a_batch_checked_in_the_workers_opens_proves_and_replays(world: World) -> None:
    maker = await world.org("manufacturer", "CN")
    china = await world.site(maker, "CN", (STEEL,))
    germany = await world.site(maker, "DE", (STEEL,))
    rows = [_good(world, china if i % 2 else germany, i) for i in range(40)]
    published = await publishing.publish_batch(world.router, rows)
    assert world.router.ingest_pool.pids()
    assert [p.region for p in published] == ["eu", "cn"] * 20
    assert not any(p.replayed for p in published)
    assert await count(world.router, "cn", "records") == 20
    assert await count(world.router, "eu", "records") == 20
    assert await count(world.router, "cn", "record_scores") == 20
    # sealed in a worker under the region's key and row: opens here, and both commitments hold
    for row in (0, 1, 39):
        stored = await record_with_proof(world.router, published[row].record_id)
        assert stored.document == json.loads(rows[row].payload)
        assert stored.signature == rows[row].signature
        verify_evidence(
            stored.evidence, load_log_signer(world.router.settings, stored.region).vkey()
        )
        assert stored.evidence.proof is not None
    # the worker's replay digest is the shard's: the same batch again is all replays ...
    again = await publishing.publish_batch(world.router, rows)
    assert [(p.record_id, p.replayed) for p in again] == [(p.record_id, True) for p in published]
    # ... and one of its payloads published alone, checked in process, is a duplicate
    with pytest.raises(DuplicateSubmission) as raised:
        await publishing.publish(world.router, rows[3].payload, rows[3].signature, rows[3].key_id)
    assert raised.value.details["recordId"] == published[3].record_id
    assert await count(world.router, "cn", "records") == 20


async def test_a_worker_that_dies_fails_the_batch_and_is_replaced(world: World) -> None:
    maker = await world.org("manufacturer", "CN")
    site = await world.site(maker, "CN", (STEEL,))
    rows = [_good(world, site, i) for i in range(64)]
    pool = world.router.ingest_pool
    workers = await pool.start()
    assert workers == pool.pids() and len(workers) == 2
    for pid in workers:  # held still, so the batch is certainly in flight when one dies
        os.kill(pid, signal.SIGSTOP)
    batch = asyncio.create_task(publishing.publish_batch(world.router, rows))
    try:
        await asyncio.sleep(0.5)
        assert not batch.done()
    finally:
        os.kill(workers[0], signal.SIGKILL)
        for pid in workers:  # the executor may have ended the other one already
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
    with pytest.raises(IngestUnavailable) as raised:
        await batch
    assert raised.value.code == "UNAVAILABLE"
    assert "worker process died" in raised.value.message
    assert "nothing was published" in raised.value.message
    assert await count(world.router, "cn", "records") == 0
    assert await count(world.router, "cn", "record_scores") == 0

    published = await publishing.publish_batch(world.router, rows)  # a fresh pool
    assert len(published) == 64 and not any(p.replayed for p in published)
    assert set(pool.pids()).isdisjoint(workers)
    assert await count(world.router, "cn", "records") == 64


async def test_a_closed_router_stops_its_workers(
    region_urls: dict[str, str], tmp_path: Path
) -> None:
    router = await ShardRouter.open(world_settings(region_urls, tmp_path).with_overrides(**POOLED))
    try:
        workers = await router.ingest_pool.start()
    finally:
        await router.close()
    for pid in workers:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert router.ingest_pool.pids() == []


async def test_a_worker_that_died_between_batches_fails_the_next_one_only(world: World) -> None:
    maker = await world.org("manufacturer", "CN")
    site = await world.site(maker, "CN", (STEEL,))
    pool = world.router.ingest_pool
    workers = await pool.start()
    os.kill(workers[1], signal.SIGKILL)
    for _ in range(100):  # the executor notices the death on its own thread
        await asyncio.sleep(0.02)
        if not set(pool.pids()) >= set(workers):
            break
    rows = [_good(world, site, i) for i in range(16)]
    with pytest.raises(IngestUnavailable):
        await publishing.publish_batch(world.router, rows)
    assert await count(world.router, "cn", "records") == 0
    assert len(await publishing.publish_batch(world.router, rows)) == 16
    assert await count(world.router, "cn", "records") == 16


async def test_single_records_and_small_batches_never_start_the_workers(world: World) -> None:
    maker = await world.org("manufacturer", "CN")
    site = await world.site(maker, "CN", (STEEL,))
    rows = [_good(world, site, i) for i in range(POOLED["ingest_process_min_batch"] - 1)]
    await publishing.publish_batch(world.router, rows)
    await world.publish(site, world.record(site, operatorCbamId="OPR-single"))
    assert world.router.ingest_pool.pids() == []
    assert await count(world.router, "cn", "records") == len(rows) + 1


async def test_a_batch_under_way_when_the_router_closes_fails_cleanly(
    region_urls: dict[str, str], tmp_path: Path
) -> None:
    router = await ShardRouter.open(world_settings(region_urls, tmp_path).with_overrides(**POOLED))
    try:
        world = World(router)
        maker = await world.org("manufacturer", "CN")
        site = await world.site(maker, "CN", (STEEL,))
        rows = [_good(world, site, i) for i in range(400)]  # 25 chunks for 2 workers
        workers = await router.ingest_pool.start()
        for pid in workers:  # held still: every chunk is queued when the pool closes
            os.kill(pid, signal.SIGSTOP)
        batch = asyncio.create_task(publishing.publish_batch(router, rows))
        await asyncio.sleep(0.5)
        closing = asyncio.create_task(router.ingest_pool.close())
        await asyncio.sleep(0.2)
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        await closing
        with pytest.raises(IngestUnavailable):
            await batch
        assert await count(router, "cn", "records") == 0
    finally:
        await router.close()
