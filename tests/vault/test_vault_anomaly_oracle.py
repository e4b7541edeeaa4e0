"""The scoring context gives exactly the answers it gave before decision 0099 made it cheaper.

The oracle is `prepare` and `score` of d93e0ce, kept verbatim beside these tests
(`oracle_anomaly_ingest`). A seeded mix of records — several installations, goods the scorer knows
and one it does not, route codes that map and one that does not, indirect figures or none,
precursors, default values, periods in and out of order, two spellings of one instant (a "Z" and
a "+01:00" start) — over a shard that already holds history and copies, on SQLite and
PostgreSQL: the same rows in the same order, the same features, digests, scores and reasons, and
the same score rows.

Figures are TEST INPUTS (vault_samples.py: BF-BOF steel near 2.0 tCO2e/t direct).
"""

from __future__ import annotations

import dataclasses
import math
import random
from typing import Any

import oracle_anomaly_ingest
from cbamhub.anomaly.record import RecordFeatures
from cbamhub.vault.anomaly_ingest import AnomalyIngest, Prepared, _figures_text
from cbamhub.vault.record_model import parse_record
from hypothesis import given
from hypothesis import strategies as st
from vault_world import ALUMINIUM, STEEL, WIRE, World

PERIODS = (
    ("2024-01-01T00:00:00Z", "2024-12-31T23:59:59Z"),
    ("2025-01-01T00:00:00Z", "2025-12-31T23:59:59Z"),
    ("2025-01-01T01:00:00+01:00", "2025-12-31T23:59:59Z"),  # the same instant as the line above
    ("2025-07-01T00:00:00Z", "2025-12-31T23:59:59Z"),
    ("2026-01-01T00:00:00Z", "2026-12-31T23:59:59Z"),
)
DEFAULTS = {
    "methodology": "defaultValues",
    "dataQualityTier": "default",
    "defaultValueSource": "TEST INPUT default value table",
}
INDIRECT = {
    "specificEmbeddedEmissionsIndirect": 0.3,
    "electricityConsumedMwhPerTonnesGood": 0.6,
    "emissionFactorTonnesCo2PerMwh": 0.5,
    "sourceOfEmissionFactorValue": "TEST INPUT supplier contract",
}
PRECURSOR = {"cnCode": "72011011", "specificEmbeddedEmissionsDirect": 1.6, "dataQualityTier": "measured"}  # fmt: skip


def _document(world: World, site: Any, rng: random.Random) -> dict[str, Any]:
    cn = rng.choice((STEEL, STEEL, STEEL, ALUMINIUM, WIRE))
    start, end = rng.choice(PERIODS)
    see = rng.choice((1.8, 1.9, 2.0, 2.05, 2.1, 9.5))
    changes: dict[str, Any] = {
        "activityData": {"referencePeriodStart": start, "referencePeriodEnd": end, "netMass": 1e3},
        "directEmissions": {"specificEmbeddedEmissionsDirect": see, "attributedEmissions": see * 1e3},
        "productionMethod": {"methodId": rng.choice(("P24", "C", "K", "Z9"))},
    }  # fmt: skip
    if cn == ALUMINIUM or rng.random() < 0.3:
        changes["indirectEmissions"] = dict(INDIRECT)
    if cn == STEEL and rng.random() < 0.2:
        changes["precursors"] = [dict(PRECURSOR)] * rng.randint(1, 3)
    if rng.random() < 0.15:
        changes.update(DEFAULTS)
    return world.record(site, cn, **changes)


def _features(found: RecordFeatures | str) -> Any:
    if isinstance(found, str):
        return found
    return tuple(
        "NaN" if isinstance(v, float) and math.isnan(v) else v for v in dataclasses.astuple(found)
    )


def _view(prepared: Prepared) -> tuple[Any, ...]:
    return (
        [(row, _features(found)) for row, found in prepared.by_row.items()],
        list(prepared.digests.items()),
        [(row, repr(score)) for row, score in prepared.scores.items()],
    )


async def test_the_context_of_a_mixed_batch_is_the_oracles(world: World) -> None:
    rng = random.Random(99)
    maker = await world.org("manufacturer", "CN")
    sites = [await world.site(maker, cn_codes=(STEEL, WIRE, ALUMINIUM)) for _ in range(4)]
    for _ in range(12):  # history and copies in the shard
        site = rng.choice(sites)
        await world.publish(site, _document(world, site, rng))
    batch = [_document(world, site, rng) for site in (rng.choice(sites) for _ in range(80))]
    records = {row: parse_record(document) for row, document in enumerate(batch)}
    rng.shuffle(keys := list(records))
    shuffled = {row: records[row] for row in keys}  # rows need not come in order
    shard = world.router.shard("cn")
    scoring = world.router.scoring
    assert isinstance(scoring, AnomalyIngest)
    oracle = oracle_anomaly_ingest.AnomalyIngest(scoring.scorer, scoring.mapping)
    for chosen in (records, shuffled):
        new = await scoring.prepare(shard, chosen)
        old = await oracle.prepare(shard, chosen)
        assert _view(new) == _view(old)
        kinds = {type(found).__name__ for found in new.by_row.values()}
        assert kinds == {"RecordFeatures", "str"}  # the mix has mapped and unmapped rows
        assert any(
            isinstance(f, RecordFeatures) and f.previous_see_direct is not None
            for f in new.by_row.values()
        )
        assert any(isinstance(f, RecordFeatures) and f.copies for f in new.by_row.values())
        ids = {row: (f"rec_cn_{row}", maker.id) for row in chosen}
        rows = scoring.score(new, ids)
        assert repr(rows) == repr(oracle.score(old, ids))
        assert any(r.explanation is not None for r in rows)


FIGURES = st.floats() | st.sampled_from([0.0, -0.0, math.nan, math.inf, -math.inf, 5e-324, 2.05])


@given(st.text(max_size=12), FIGURES, FIGURES, FIGURES)
def test_the_copies_digest_text_is_the_oracles(route: str, a: float, b: float, c: float) -> None:
    assert _figures_text(route, a, b, c) == oracle_anomaly_ingest._figures_text(route, a, b, c)
