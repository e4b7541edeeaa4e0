"""The scoring context of a mixed batch, pinned (decision 0094 made `prepare` cheaper; its answers
must not move), on SQLite and PostgreSQL:

- history from the shard (the latest earlier period, not an older one), from the batch itself (a
  later period of the same installation in the same batch), a declared technology change, none;
- copies counted within the batch and against the shard, default values never copies;
- a record that cannot be mapped keeps its reason;
- and the reads are batched: the number of SQL statements `prepare` issues does not grow with the
  number of installations in the batch.

Figures are TEST INPUTS (vault_samples.py, BF-BOF steel near 2.0 tCO2e/t direct).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import sqlalchemy as sa
from cbamhub.anomaly.record import RecordFeatures
from cbamhub.vault.anomaly_ingest import AnomalyIngest, Prepared, figures_digest
from cbamhub.vault.record_model import parse_record
from vault_world import WIRE, World

YEAR_2024 = {
    "referencePeriodStart": "2024-01-01T00:00:00Z",
    "referencePeriodEnd": "2024-12-31T23:59:59Z",
}
YEAR_2025 = {
    "referencePeriodStart": "2025-01-01T00:00:00Z",
    "referencePeriodEnd": "2025-12-31T23:59:59Z",
}
SECOND_HALF = {
    "referencePeriodStart": "2026-07-01T00:00:00Z",
    "referencePeriodEnd": "2026-12-31T23:59:59Z",
}


def _direct(see: float) -> dict[str, Any]:
    return {"specificEmbeddedEmissionsDirect": see, "attributedEmissions": see * 1000}


def _period(period: dict[str, str]) -> dict[str, Any]:
    return {**period, "netMass": 1000.0}


DEFAULTS = {
    "methodology": "defaultValues",
    "dataQualityTier": "default",
    "defaultValueSource": "TEST INPUT default value table",
}


def _view(prepared: Prepared) -> dict[int, Any]:
    """What prepare decided per row, without the scorer's transient record ids."""
    out: dict[int, Any] = {}
    for row, found in sorted(prepared.by_row.items()):
        if isinstance(found, str):
            out[row] = found
            continue
        features = dataclasses.asdict(found)
        del features["record_id"], features["installation_id"]
        features["methodology"] = found.methodology.value
        features["tier"] = found.tier.value
        features["precursor_shares"] = len(found.precursor_shares)
        for name, value in features.items():  # NaN (unknown) is not equal to itself
            if isinstance(value, float) and math.isnan(value):
                features[name] = "NaN"
        out[row] = (
            features,
            row in prepared.digests,
            type(prepared.scores.get(row)).__name__,
        )
    return out


def _ingest(world: World) -> AnomalyIngest:
    assert world.router.scoring is not None
    return world.router.scoring


async def test_a_mixed_batch_gets_the_pinned_context(world: World) -> None:
    maker = await world.org("manufacturer", "CN")
    a, b, c, d, e = [await world.site(maker) for _ in range(5)]
    for site, changes in (
        (a, {"activityData": _period(YEAR_2024), "directEmissions": _direct(1.7)}),
        (a, {"activityData": _period(YEAR_2025), "directEmissions": _direct(1.9),
             "indirectEmissions": {"specificEmbeddedEmissionsIndirect": 0.3}}),
        (b, {"activityData": _period(YEAR_2025), "directEmissions": _direct(1.95),
             "productionMethod": {"methodId": "C"}}),
        (c, {"activityData": _period(YEAR_2025), "directEmissions": _direct(2.0), **DEFAULTS}),
        (c, {"activityData": _period(YEAR_2024), "directEmissions": _direct(2.05)}),
        (e, {"activityData": _period(YEAR_2025), "directEmissions": {
            "specificEmbeddedEmissionsDirect": {"value": 1850, "unit": "kg co2eq / t"},
            "attributedEmissions": 1850.0}}),  # stored with its unit: history in t/t
    ):  # fmt: skip
        await world.publish(site, world.record(site, **changes))
    batch = [
        world.record(a, directEmissions=_direct(2.05)),  # shard history 1.9; copy of c's 2024
        world.record(a, WIRE),  # no band for wire rod: unscored
        world.record(b, directEmissions=_direct(2.1)),  # history 1.95 under another route code
        world.record(b, activityData=_period(SECOND_HALF), directEmissions=_direct(2.2)),
        world.record(c, directEmissions=_direct(2.0), **DEFAULTS),  # defaults: no digest
        world.record(d, directEmissions=_direct(2.1)),  # copy of b's row 2 in the batch
        world.record(d, activityData=_period(YEAR_2025), directEmissions=_direct(1.8)),
        world.record(e, directEmissions=_direct(1.9)),  # history 1.85 from a {value, unit}
    ]
    prepared = await _ingest(world).prepare(
        world.router.shard("cn"), {i: parse_record(doc) for i, doc in enumerate(batch)}
    )
    view = _view(prepared)
    assert view == PINNED, view
    shard = world.router.shard("cn")
    for row, digest in prepared.digests.items():
        features = prepared.by_row[row]
        assert isinstance(features, RecordFeatures)
        assert digest == figures_digest(shard.index_key, features)


# Computed by prepare before decision 0094.
PINNED: dict[int, Any] = {
    0: (
        {
            "route": "bf_bof",
            "country": "China",
            "cn_code": "72081000",
            "see_direct": 2.05,
            "see_indirect": "NaN",
            "electricity_mwh_per_t": "NaN",
            "electricity_ef": "NaN",
            "precursor_shares": 0,
            "methodology": 1,
            "tier": 2,
            "previous_see_direct": 1.9,
            "previous_see_indirect": 0.3,
            "technology_change": False,
            "copies": 1,
        },
        True,
        "Score",
    ),
    1: "unscored: CN 72139110 is not a good the scorer has reference bands for",
    2: (
        {
            "route": "bf_bof",
            "country": "China",
            "cn_code": "72081000",
            "see_direct": 2.1,
            "see_indirect": "NaN",
            "electricity_mwh_per_t": "NaN",
            "electricity_ef": "NaN",
            "precursor_shares": 0,
            "methodology": 1,
            "tier": 2,
            "previous_see_direct": 1.95,
            "previous_see_indirect": None,
            "technology_change": True,
            "copies": 1,
        },
        True,
        "Score",
    ),
    3: (
        {
            "route": "bf_bof",
            "country": "China",
            "cn_code": "72081000",
            "see_direct": 2.2,
            "see_indirect": "NaN",
            "electricity_mwh_per_t": "NaN",
            "electricity_ef": "NaN",
            "precursor_shares": 0,
            "methodology": 1,
            "tier": 2,
            "previous_see_direct": 2.1,
            "previous_see_indirect": None,
            "technology_change": False,
            "copies": 0,
        },
        True,
        "Score",
    ),
    4: (
        {
            "route": "bf_bof",
            "country": "China",
            "cn_code": "72081000",
            "see_direct": 2.0,
            "see_indirect": "NaN",
            "electricity_mwh_per_t": "NaN",
            "electricity_ef": "NaN",
            "precursor_shares": 0,
            "methodology": 0,
            "tier": 0,
            "previous_see_direct": 2.0,
            "previous_see_indirect": None,
            "technology_change": False,
            "copies": 0,
        },
        False,
        "Score",
    ),
    5: (
        {
            "route": "bf_bof",
            "country": "China",
            "cn_code": "72081000",
            "see_direct": 2.1,
            "see_indirect": "NaN",
            "electricity_mwh_per_t": "NaN",
            "electricity_ef": "NaN",
            "precursor_shares": 0,
            "methodology": 1,
            "tier": 2,
            "previous_see_direct": 1.8,
            "previous_see_indirect": None,
            "technology_change": False,
            "copies": 1,
        },
        True,
        "Score",
    ),
    6: (
        {
            "route": "bf_bof",
            "country": "China",
            "cn_code": "72081000",
            "see_direct": 1.8,
            "see_indirect": "NaN",
            "electricity_mwh_per_t": "NaN",
            "electricity_ef": "NaN",
            "precursor_shares": 0,
            "methodology": 1,
            "tier": 2,
            "previous_see_direct": None,
            "previous_see_indirect": None,
            "technology_change": False,
            "copies": 0,
        },
        True,
        "Score",
    ),
    7: (
        {
            "route": "bf_bof",
            "country": "China",
            "cn_code": "72081000",
            "see_direct": 1.9,
            "see_indirect": "NaN",
            "electricity_mwh_per_t": "NaN",
            "electricity_ef": "NaN",
            "precursor_shares": 0,
            "methodology": 1,
            "tier": 2,
            "previous_see_direct": 1.85,
            "previous_see_indirect": None,
            "technology_change": False,
            "copies": 0,
        },
        True,
        "Score",
    ),
}


async def test_the_context_reads_do_not_grow_with_the_installations(world: World) -> None:
    maker = await world.org("manufacturer", "CN")
    sites = [await world.site(maker) for _ in range(6)]
    for site in sites:
        await world.publish(
            site, world.record(site, activityData=_period(YEAR_2025), directEmissions=_direct(1.9))
        )
    shard = world.router.shard("cn")
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    async def reads(n: int) -> int:
        statements.clear()
        records = {i: parse_record(world.record(s)) for i, s in enumerate(sites[:n])}
        sa.event.listen(shard.engine.sync_engine, "before_cursor_execute", count)
        try:
            prepared = await _ingest(world).prepare(shard, records)
        finally:
            sa.event.remove(shard.engine.sync_engine, "before_cursor_execute", count)
        assert all(isinstance(f, RecordFeatures) for f in prepared.by_row.values())
        assert all(f.previous_see_direct == 1.9 for f in prepared.by_row.values())  # type: ignore[union-attr]
        return len([s for s in statements if s.lstrip().upper().startswith("SELECT")])

    assert await reads(6) == await reads(1)


async def test_of_two_reports_of_the_same_period_the_first_published_is_the_history(
    world: World,
) -> None:
    """Two stored records of one installation, CN code and period, neither correcting the other:
    the history is the first published, on every backend (the per-pair query before decision
    0094 left the tie to the database; SQLite read it in that order)."""
    maker = await world.org("manufacturer", "CN")
    site = await world.site(maker)
    for see in (1.7, 1.9):
        await world.publish(
            site, world.record(site, activityData=_period(YEAR_2025), directEmissions=_direct(see))
        )
    prepared = await _ingest(world).prepare(
        world.router.shard("cn"), {0: parse_record(world.record(site))}
    )
    features = prepared.by_row[0]
    assert isinstance(features, RecordFeatures)
    assert features.previous_see_direct == 1.7
