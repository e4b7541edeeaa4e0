"""The access log's group commit: concurrent requests share a transaction, and each request returns
only once its own reads are committed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cbamhub.gateway.access_log_batches import AccessLogBatches
from cbamhub.vault import schema
from cbamhub.vault.access_log import Read, reads_of_manufacturer
from cbamhub.vault.errors import VaultError
from cbamhub.vault.ids import new_id
from cbamhub.vault.shards import ShardRouter
from sqlalchemy import select

from tests.gateway.gateway_world import world_settings

MANUFACTURER = "org_row_manufacturer"


def read(region: str = "row", reader: str = "org_eu_importer") -> Read:
    return Read(
        new_id("rec", region), MANUFACTURER, reader, None, ("see_direct",), datetime.now(UTC)
    )


@pytest.fixture
async def router(tmp_path: Path) -> AsyncIterator[ShardRouter]:
    router = await ShardRouter.open(world_settings(tmp_path))
    yield router
    await router.close()


def count_commits(router: ShardRouter, region: str) -> list[int]:
    """Transactions of the region's access log: each `append` of its shard is one."""
    commits = [0]
    direct = router.shard(region).direct
    append = direct.append

    async def counted(table: Any, rows: Sequence[Mapping[str, Any]]) -> None:
        await append(table, rows)
        commits[0] += 1

    direct.append = counted  # type: ignore[method-assign]
    return commits


async def test_a_lone_request_is_committed_before_it_returns(router: ShardRouter) -> None:
    batches = AccessLogBatches(router)
    one = read()
    await batches.write([one])
    logged = await reads_of_manufacturer(router, MANUFACTURER)
    assert [r.record_id for r in logged] == [one.record_id]


async def test_concurrent_requests_share_transactions_and_lose_nothing(
    router: ShardRouter,
) -> None:
    batches = AccessLogBatches(router)
    commits = count_commits(router, "row")
    requests = [[read(), read()] for _ in range(40)]
    await asyncio.gather(*(batches.write(reads) for reads in requests))
    logged = await reads_of_manufacturer(router, MANUFACTURER, limit=1000)
    assert sorted(r.record_id for r in logged) == sorted(r.record_id for rs in requests for r in rs)
    assert 1 <= commits[0] < len(requests)


async def test_reads_of_several_regions_reach_their_home_shards(router: ShardRouter) -> None:
    batches = AccessLogBatches(router)
    eu, cn = read("eu"), read("cn")
    await asyncio.gather(batches.write([eu]), batches.write([cn]))
    for region, expected in (("eu", eu), ("cn", cn)):
        async with router.shard(region).engine.connect() as conn:
            ids = (await conn.execute(select(schema.access_log.c.record_id))).scalars().all()
        assert ids == [expected.record_id]


async def test_a_failed_write_fails_its_requests_and_the_next_write_works(
    router: ShardRouter,
) -> None:
    batches = AccessLogBatches(router)
    bad = Read("not-a-record-id", MANUFACTURER, "org_eu_importer", None, None, datetime.now(UTC))
    results = await asyncio.gather(
        batches.write([read()]), batches.write([bad]), return_exceptions=True
    )
    assert any(isinstance(r, VaultError) for r in results)
    later = read()
    await batches.write([later])
    logged = await reads_of_manufacturer(router, MANUFACTURER)
    assert later.record_id in {r.record_id for r in logged}


async def test_nothing_to_write_touches_no_shard(router: ShardRouter) -> None:
    batches = AccessLogBatches(router)
    commits = count_commits(router, "row")
    await batches.write([])
    await batches.close()
    assert commits[0] == 0
