"""The context ingest gives the scorer, on SQLite and PostgreSQL: copies counted against the shard's
earlier batches through an indexed, keyed digest of the rounded figures, and the precursor features
fed from what a record carries (the count) and left missing where the reference lacks the figure
(the shares).

Figures are TEST INPUTS (vault_samples.py): BF-BOF steel at 2.0 tCO2e/t direct inside the reference
band 1.6-2.2 (shared/reference/cbam_facts.md §8); the pig-iron precursor's 1.6 tCO2e/t and masses
are made up so that (attributed + precursor emissions) / activity level = 2.0.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from cbamhub.anomaly.features import (
    FEATURE_NAMES,
    build_lookup,
    columns_from_records,
    feature_matrix,
)
from cbamhub.anomaly.record import RecordFeatures
from cbamhub.vault import publishing, schema
from cbamhub.vault.anomaly_ingest import (
    AnomalyIngest,
    figures_digest,
    history_query,
    reporting_query,
)
from cbamhub.vault.ids import region_of
from cbamhub.vault.record_model import parse_record
from cbamhub.vault.record_scores import SCORED, scores_of
from cbamhub.vault.shards import ShardRouter
from vault_world import Site, World

NORMAL = {"specificEmbeddedEmissionsDirect": 2.0, "attributedEmissions": 2000.0}
OTHER = {"specificEmbeddedEmissionsDirect": 1.93, "attributedEmissions": 1930.0}
EARLIER = {
    "referencePeriodStart": "2025-01-01T00:00:00Z",
    "referencePeriodEnd": "2025-12-31T23:59:59Z",
    "netMass": 1000.0,
}
PIG_IRON = {
    "cnCode": "72011011",
    "netMass": 500.0,
    "specificEmbeddedEmissionsDirect": 1.6,
    "countryCode": "CN",
    "dataQualityTier": "measured",
}


def _ingest(world: World) -> AnomalyIngest:
    assert world.router.scoring is not None
    return world.router.scoring


async def _features(world: World, document: dict[str, Any]) -> RecordFeatures:
    prepared = await _ingest(world).prepare(world.router.shard("cn"), {0: parse_record(document)})
    found = prepared.by_row[0]
    assert isinstance(found, RecordFeatures), found
    return found


async def _publish(world: World, site: Site, **changes: Any) -> str:
    return (await world.publish(site, world.record(site, **changes))).record_id


async def _digests(router: ShardRouter, record_ids: list[str]) -> list[bytes | None]:
    t = schema.record_scores
    async with router.shard(region_of(record_ids[0], "rec")).engine.connect() as conn:
        found = dict(
            (await conn.execute(
                sa.select(t.c.record_id, t.c.figures_digest).where(t.c.record_id.in_(record_ids))
            )).all()
        )  # fmt: skip
    return [found[i] for i in record_ids]


async def test_copies_are_counted_across_batches_and_installations(world: World) -> None:
    maker = await world.org("manufacturer", "CN")
    first, second, third = [await world.site(maker) for _ in range(3)]
    published = await _publish(world, first, directEmissions=NORMAL)  # batch 1, installation 1

    # batch 2, installation 2, the same figures: one other installation reports them
    same = await _features(world, world.record(second, directEmissions=NORMAL))
    assert same.copies == 1
    other = await _features(world, world.record(third, directEmissions=OTHER))
    assert other.copies == 0
    # the first installation's own next period repeats its figures: no copy of anyone
    again = await _features(world, world.record(first, directEmissions=NORMAL))
    assert again.copies == 0

    copied = await _publish(world, second, directEmissions=NORMAL)
    d1, d2 = await _digests(world.router, [published, copied])
    assert d1 is not None and d1 == d2
    # now two other installations hold these figures for a third one
    assert (await _features(world, world.record(third, directEmissions=NORMAL))).copies == 2


async def test_copies_within_and_across_batches_add_up(world: World) -> None:
    maker = await world.org("manufacturer", "CN")
    sites = [await world.site(maker) for _ in range(3)]
    await _publish(world, sites[0], directEmissions=NORMAL)
    docs = [world.record(s, directEmissions=NORMAL) for s in sites[1:]]
    prepared = await _ingest(world).prepare(
        world.router.shard("cn"), {i: parse_record(d) for i, d in enumerate(docs)}
    )
    copies = [f.copies for f in prepared.by_row.values() if isinstance(f, RecordFeatures)]
    assert copies == [2, 2]  # one installation in the shard, one in the same batch


async def test_default_values_are_not_copies(world: World) -> None:
    maker = await world.org("manufacturer", "CN")
    first, second = await world.site(maker), await world.site(maker)
    defaults = {
        "directEmissions": NORMAL,
        "methodology": "defaultValues",
        "dataQualityTier": "default",
        "defaultValueSource": "TEST INPUT default value table",
    }
    record_id = await _publish(world, first, **defaults)
    assert await _digests(world.router, [record_id]) == [None]
    assert (await _features(world, world.record(second, **defaults))).copies == 0
    assert (await _features(world, world.record(second, directEmissions=NORMAL))).copies == 0


async def test_the_figures_digest_is_rounded_and_keyed(world: World) -> None:
    maker = await world.org("manufacturer", "CN")
    site = await world.site(maker)
    f = await _features(world, world.record(site, directEmissions=NORMAL))
    key = world.router.shard("cn").index_key
    base = figures_digest(key, f)
    assert figures_digest(key, replace(f, see_direct=2.0 + 1e-12)) == base  # float noise
    assert figures_digest(key, replace(f, see_direct=2.01)) != base
    assert figures_digest(key, replace(f, see_indirect=0.0)) != base  # 0 is not "not reported"
    assert figures_digest(key, replace(f, route="scrap_eaf")) != base
    assert figures_digest(bytes(32), f) != base  # another shard's key: another digest


async def _publish_forty(world: World, site: Site) -> list[dict[str, Any]]:
    docs = [world.record(site, directEmissions={
        "specificEmbeddedEmissionsDirect": 1.8 + i / 1000, "attributedEmissions": 1800.0 + i})
        for i in range(40)]  # fmt: skip
    signed = [site.owner.sign(d) for d in docs]
    await publishing.publish_batch(
        world.router, [publishing.Submission(x.payload, x.signature, x.key_id) for x in signed]
    )
    return docs


async def _plan(conn: Any, query: Any) -> str:
    """The query's plan: SQLite's EXPLAIN QUERY PLAN; PostgreSQL's EXPLAIN with sequential scans
    off (tiny tables: it answers whether the index can serve the query at all)."""
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = tuple(compiled.params[name] for name in compiled.positiontup or ())
    if conn.dialect.name == "sqlite":
        rows = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", params)
        return "\n".join(str(r[-1]) for r in rows)
    await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
    rows = await conn.exec_driver_sql(f"EXPLAIN {compiled}", params)
    return "\n".join(str(r[0]) for r in rows)


async def test_the_copy_lookup_is_an_index_search(world: World) -> None:
    maker = await world.org("manufacturer", "CN")
    await _publish_forty(world, await world.site(maker))
    query = reporting_query([b"\x01" * 32, b"\x02" * 32])
    async with world.router.shard("cn").engine.connect() as conn:
        plan = await _plan(conn, query)
        assert "ix_record_scores_figures" in plan, plan
        if conn.dialect.name == "sqlite":
            assert "SEARCH" in plan, plan
            assert "SCAN record_scores" not in plan and "SCAN s" not in plan, plan


async def test_precursors_feed_the_count_and_leave_the_shares_missing(world: World) -> None:
    maker = await world.org("manufacturer", "CN")
    site = await world.site(maker)
    direct = {"specificEmbeddedEmissionsDirect": 2.0, "attributedEmissions": 400.0}
    two = [PIG_IRON, {**PIG_IRON, "installationCbamId": "O3CI-INST-000099"}]
    with_two = await _features(world, world.record(site, directEmissions=direct, precursors=two))
    without = await _features(world, world.record(site, directEmissions=NORMAL))

    assert len(with_two.precursor_shares) == 2
    assert all(math.isnan(s) for s in with_two.precursor_shares)
    assert without.precursor_shares == ()
    lookup = build_lookup()
    m = feature_matrix(columns_from_records([with_two, without], lookup), lookup)
    count, share = (
        FEATURE_NAMES.index("precursor_count"),
        FEATURE_NAMES.index("precursor_share_sum"),
    )
    assert m[0, count] == 2 and np.isnan(m[0, share])
    assert m[1, count] == 0 and np.isnan(m[1, share])

    published = await world.publish(
        site, world.record(site, directEmissions=direct, precursors=two)
    )
    stored = (await scores_of(world.router.shard("cn"), [published.record_id]))[published.record_id]
    assert stored.status == SCORED and not stored.flagged  # a plausible record stays plausible


async def test_history_and_copies_together_come_from_earlier_batches(world: World) -> None:
    maker = await world.org("manufacturer", "CN")
    first, second = await world.site(maker), await world.site(maker)
    await _publish(world, first, activityData=EARLIER, directEmissions=OTHER)
    await _publish(world, second, directEmissions=NORMAL)
    f = await _features(world, world.record(first, directEmissions=NORMAL))
    assert (f.previous_see_direct, f.copies) == (1.93, 1)


async def test_the_history_lookup_is_an_index_search_per_pair(world: World) -> None:
    """An installation's latest earlier report is one seek, however long its history (revision
    0008): reading every record of the pair made each publish slower than the last."""
    maker = await world.org("manufacturer", "CN")
    site = await world.site(maker)
    docs = await _publish_forty(world, site)
    later, cn = datetime(2030, 1, 1, tzinfo=UTC), docs[0]["cnCode"]
    query = history_query([((site.installation.id, cn), later), (("ins_cn_other", cn), later)])
    async with world.router.shard("cn").engine.connect() as conn:
        plan = await _plan(conn, query)
        if conn.dialect.name == "sqlite":
            assert plan.count("ix_records_history") == 2, plan
            assert "SCAN records" not in plan, plan
        else:
            assert "ix_records_history" in plan, plan
        found = (await conn.execute(query)).all()
    assert [(r.installation_id, r.cn_code) for r in found] == [(site.installation.id, cn)]
