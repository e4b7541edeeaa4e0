"""List queries on SQLite and PostgreSQL: scopes pushed down into one indexed WHERE per shard,
parallel shards merged in a stable order, keyset cursors, filters, and `as_of` reads that show what
a reader saw at an instant."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from cbamhub.vault import grants, lifecycle, querying
from cbamhub.vault.errors import BadInput
from cbamhub.vault.lifecycle import RecordStatus
from cbamhub.vault.publishing import Submission, publish_batch
from cbamhub.vault.querying import RecordFilters, RecordScope, find_records, records_by_ids
from cbamhub.vault.shards import ShardRouter
from vault_world import STEEL, WIRE, Site, World, iso


async def _publish_many(world: World, site: Site, n: int, cn_code: str = STEEL) -> list[str]:
    signed = [
        site.owner.sign(world.record(site, cn_code, operatorCbamId=f"OPR-{site.line.id[-6:]}-{i}"))
        for i in range(n)
    ]
    published = await publish_batch(
        world.router, [Submission(s.payload, s.signature, s.key_id) for s in signed]
    )
    return [p.record_id for p in published]


async def _all_pages(router: ShardRouter, scopes: Any, limit: int, **kwargs: Any) -> list[str]:
    seen: list[str] = []
    after = None
    while True:
        page = await find_records(router, scopes, after=after, limit=limit, **kwargs)
        seen.extend(r.id for r in page.records)
        if not page.has_next_page:
            return seen
        after = page.end_cursor


async def test_scopes_select_only_granted_records_across_shards(world: World) -> None:
    maker = await world.org("manufacturer", "DE")
    other = await world.org("manufacturer", "DE")
    cn_site, eu_site = await world.site(maker, "CN"), await world.site(maker, "DE")
    foreign = await world.site(other, "CN")
    cn = await _publish_many(world, cn_site, 4) + await _publish_many(world, cn_site, 2, WIRE)
    eu = await _publish_many(world, eu_site, 3)
    await _publish_many(world, foreign, 5)

    scopes = [
        RecordScope(maker.id, cn_site.installation.id, cn_site.line.id, (WIRE,)),
        RecordScope(maker.id, eu_site.installation.id, eu_site.line.id, None),
    ]
    found = await _all_pages(world.router, scopes, limit=2)
    assert sorted(found) == sorted(cn[4:] + eu)
    page = await find_records(world.router, scopes, limit=50)
    keys = [(r.recorded_at, r.id) for r in page.records]
    assert keys == sorted(keys) and not page.has_next_page
    assert {r.region for r in page.records} == {"cn", "eu"}

    assert (await find_records(world.router, [], limit=10)).records == ()  # no grant, nothing
    everything = await _all_pages(world.router, None, limit=7)
    assert len(everything) == len(set(everything)) == 14
    own = await _all_pages(world.router, [RecordScope(manufacturer_id=maker.id)], limit=3)
    assert sorted(own) == sorted(cn + eu)
    only_steel = await find_records(
        world.router, [RecordScope(manufacturer_id=maker.id)], filters=RecordFilters(cn_code=STEEL)
    )
    assert sorted(r.id for r in only_steel.records) == sorted(cn[:4] + eu)


async def test_cursors_are_stable_while_records_arrive(world: World) -> None:
    maker = await world.org("manufacturer", "DE")
    site = await world.site(maker, "CN")
    first = await _publish_many(world, site, 5)
    scope = [RecordScope(product_line_id=site.line.id)]
    page = await find_records(world.router, scope, limit=3)
    # One batch shares its recorded_at: the id breaks the tie.
    assert [r.id for r in page.records] == sorted(first)[:3]
    later = await _publish_many(world, site, 2, WIRE)
    rest = await find_records(world.router, scope, after=page.end_cursor, limit=10)
    assert [r.id for r in page.records + rest.records] == sorted(first) + sorted(later)
    with pytest.raises(BadInput):
        await find_records(world.router, scope, after="not-a-cursor")
    with pytest.raises(BadInput):
        await find_records(world.router, scope, limit=0)


async def test_what_an_importer_saw_at_several_instants(world: World) -> None:
    maker = await world.org("manufacturer", "DE")
    verifier = await world.org("verifier", "DE")
    importer = await world.org("importer", "DE")
    site = await world.site(maker, "CN")
    t0 = datetime.now(UTC)
    v1 = (await world.publish(site, world.record(site))).record_id
    t1 = datetime.now(UTC)
    grant_doc = {
        "action": "grant.create",
        "manufacturer": maker.id,
        "importer": importer.id,
        "product_line": site.line.id,
        "purpose": "CBAM declaration",
        "valid_from": iso(t0 - timedelta(days=1)),
        "valid_until": iso(t0 + timedelta(days=30)),
    }
    grant = await grants.grant_access(world.router, maker.sign(grant_doc))
    t2 = datetime.now(UTC)
    await lifecycle.request_verification(
        world.router,
        maker.sign(
            {"action": "record.request_verification", "record": v1, "verifier": verifier.id}
        ),
    )
    await lifecycle.attest(
        world.router,
        verifier.sign(
            {
                "action": "record.attest",
                "record": v1,
                "verifier": verifier.id,
                "opinion": "qualified",
            }
        ),
    )
    t3 = datetime.now(UTC)
    v2 = (
        await world.publish(
            site, world.record(site, supersedesRecordId=v1, methodology="measurementBased")
        )
    ).record_id
    t4 = datetime.now(UTC)
    await grants.revoke_grant(
        world.router, maker.sign({"action": "grant.revoke", "grant": grant.id})
    )
    t5 = datetime.now(UTC)

    async def saw(at: datetime, **filters: Any) -> list[tuple[str, RecordStatus]]:
        known = await grants.grants_for_importer(world.router, importer.id, at=at)
        scopes = querying.scopes_of_grants(known, at)
        page = await find_records(world.router, scopes, as_of=at, filters=RecordFilters(**filters))
        return [(r.id, r.status) for r in page.records]

    assert await saw(t0) == []
    assert await saw(t1) == []  # the record existed, the grant did not yet
    assert await saw(t2) == [(v1, RecordStatus.SUBMITTED)]
    assert await saw(t2, verified_only=True) == []
    assert await saw(t3) == [(v1, RecordStatus.VERIFIED)]
    assert await saw(t3, verified_only=True) == [(v1, RecordStatus.VERIFIED)]
    assert await saw(t4) == [(v2, RecordStatus.SUBMITTED)]
    assert await saw(t4, include_superseded=True) == [
        (v1, RecordStatus.SUPERSEDED),
        (v2, RecordStatus.SUBMITTED),
    ]
    assert await saw(t5) == []  # revoked

    states = [await lifecycle.record_state(world.router, v1, as_of=t) for t in (t1, t3, t4)]
    assert [s.status for s in states] == [
        RecordStatus.SUBMITTED,
        RecordStatus.VERIFIED,
        RecordStatus.SUPERSEDED,
    ]
    with pytest.raises(Exception, match="not yet recorded"):
        await lifecycle.record_state(world.router, v2, as_of=t3)
    assert (await lifecycle.record_state(world.router, v2, as_of=t4)).version == 2

    by_id = await records_by_ids(world.router, [v2, "rec_eu_" + "0" * 32, v1], as_of=t3)
    assert by_id[1] is None and by_id[0] is None  # v2 was not recorded at t3
    assert by_id[2] is not None and by_id[2].status is RecordStatus.VERIFIED
    assert by_id[2].document is not None and by_id[2].document["productLineId"] == site.line.id


async def test_filters_on_period_and_quality_tier(world: World) -> None:
    maker = await world.org("manufacturer", "DE")
    site = await world.site(maker, "CN")
    q1 = {
        "referencePeriodStart": "2026-01-01T00:00:00Z",
        "referencePeriodEnd": "2026-03-31T23:59:59Z",
    }
    early = await world.publish(site, world.record(site, activityData={**q1, "netMass": 1000.0}))
    late = await world.publish(site, world.record(site, dataQualityTier="estimated"))
    scope = [RecordScope(manufacturer_id=maker.id)]

    def window(start: str, end: str) -> RecordFilters:
        return RecordFilters(period=(datetime.fromisoformat(start), datetime.fromisoformat(end)))

    found = await find_records(
        world.router,
        scope,
        filters=window("2026-06-01T00:00:00+00:00", "2026-06-30T00:00:00+00:00"),
    )
    assert [r.id for r in found.records] == [late.record_id]
    found = await find_records(
        world.router,
        scope,
        filters=window("2026-02-01T00:00:00+00:00", "2026-02-02T00:00:00+00:00"),
    )
    assert sorted(r.id for r in found.records) == sorted([early.record_id, late.record_id])
    tiers = await find_records(world.router, scope, filters=RecordFilters(quality_tier="estimated"))
    assert [r.id for r in tiers.records] == [late.record_id]


async def _plan(router: ShardRouter, region: str, query: sa.Select[Any]) -> list[str]:
    """The database's own plan for `query` (ids and codes inlined: the query has no times).

    PostgreSQL is ANALYZEd, as autovacuum does in service; SQLite is not, as the hub never runs
    ANALYZE on a shard (its planner then assumes an equality picks few rows; with this test's one
    huge line and three tiny ones its stat1 averages would say the opposite)."""
    async with router.shard(region).engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(sa.text("ANALYZE"))
        sql = query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
        if conn.dialect.name == "sqlite":
            return [str(r[-1]) for r in await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]
        return [str(r[0]) for r in await conn.exec_driver_sql(f"EXPLAIN {sql}")]


async def test_an_importer_with_three_grants_does_not_scan_the_rest(world: World) -> None:
    maker = await world.org("manufacturer", "DE")
    big = await world.site(maker, "CN")
    for _ in range(3):
        await _publish_many(world, big, 700)
    small = [await world.site(maker, "CN") for _ in range(3)]
    for site in small:
        await _publish_many(world, site, 3)
    scopes = [RecordScope(maker.id, s.installation.id, s.line.id, None) for s in small]
    dialect = world.router.shard("cn").engine.dialect.name
    for filters in (RecordFilters(), RecordFilters(verified_only=True, quality_tier="measured")):
        query = querying.shard_query(scopes, filters, None, None, 51, dialect)
        plan = await _plan(world.router, "cn", query)
        text = "\n".join(plan)
        if dialect == "sqlite":
            on_records = [line for line in plan if " records " in f" {line} "]
            assert on_records and all(line.startswith("SEARCH") for line in on_records), text
            assert "ix_records_scope_line" in text or "ix_records_line_time" in text, text
        else:
            assert "Seq Scan on records" not in text, text
            if not filters.verified_only:  # else it may start from the (empty) verified events
                assert "ix_records_scope_line" in text or "ix_records_line_time" in text, text
    page = await find_records(world.router, scopes, limit=50)
    assert len(page.records) == 9


async def test_a_page_of_one_large_line_walks_its_index_and_sorts_nothing(world: World) -> None:
    maker = await world.org("manufacturer", "DE")
    big = await world.site(maker, "CN")
    batches = [await _publish_many(world, big, 700) for _ in range(3)]
    scope = [RecordScope(maker.id, big.installation.id, big.line.id, None)]
    dialect = world.router.shard("cn").engine.dialect.name
    query = querying.shard_query(scope, RecordFilters(), None, None, 51, dialect, documents=False)
    text = "\n".join(await _plan(world.router, "cn", query))
    if dialect == "sqlite":
        assert "ix_records_line_time" in text and "TEMP B-TREE" not in text, text
    else:
        assert "Sort" not in text and "Seq Scan on records" not in text, text
    page = await find_records(world.router, scope, limit=50)
    # oldest recorded first; a batch shares one recorded time, and ids order within it
    assert [r.id for r in page.records] == sorted(batches[0])[:50]
    assert page.records[0].document is None


@pytest.mark.parametrize("record_id", ["rec_eu_0123abcd", 'rec"with\\quotes', "rec_é"])
def test_a_cursor_is_the_base64_of_the_json_it_always_was(record_id: str) -> None:
    """Cursors handed out earlier stay valid: the fast path writes what json.dumps writes."""
    at = datetime(2026, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
    cursor = querying.encode_cursor(at, record_id)
    padded = cursor + "=" * (-len(cursor) % 4)
    assert base64.urlsafe_b64decode(padded) == json.dumps([at.isoformat(), record_id]).encode()
