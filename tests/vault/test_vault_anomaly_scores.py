"""Anomaly scores at ingest: every accepted record gets a score row in its own transaction, or an
explicit "unscored" row saying why; scoring never rejects, changes or drops a record.

Figures are TEST INPUTS (vault_samples.py): a BF-BOF steel record at 2.0 tCO2e/t direct sits inside
the reference band 1.6-2.2 (shared/reference/cbam_facts.md §8); 2,000 is that figure in kg, a 1000x
unit slip.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from cbamhub.anomaly.batch_scorer import InProcessScorer
from cbamhub.anomaly.record import RecordFeatures
from cbamhub.anomaly.scoring import Score, Scorer
from cbamhub.vault import publishing, schema
from cbamhub.vault.anomaly_ingest import AnomalyIngest
from cbamhub.vault.ids import region_of
from cbamhub.vault.reading import record_with_proof
from cbamhub.vault.record_model import parse_record
from cbamhub.vault.record_scores import SCORED, UNSCORED, StoredScore, scores_of
from cbamhub.vault.shards import ShardRouter
from vault_world import STEEL, WIRE, World, count

NORMAL = {"specificEmbeddedEmissionsDirect": 2.0, "attributedEmissions": 2000.0}
SLIP = {"specificEmbeddedEmissionsDirect": 2000.0, "attributedEmissions": 2000000.0}


def _model(router: ShardRouter) -> Scorer:
    """The in-process model the world's router scores with."""
    assert router.scoring is not None and isinstance(router.scoring.scorer, InProcessScorer)
    return router.scoring.scorer.scorer


async def _score(router: ShardRouter, record_id: str) -> StoredScore:
    shard = router.shard(region_of(record_id, "rec"))
    return (await scores_of(shard, [record_id]))[record_id]


async def _notifications(router: ShardRouter, region: str) -> list[Any]:
    async with router.shard(region).engine.connect() as conn:
        return list(await conn.execute(sa.select(schema.anomaly_notifications)))


async def test_a_plausible_record_is_scored_and_not_flagged(world: World) -> None:
    maker = await world.org("manufacturer", "CN")
    site = await world.site(maker)
    published = await world.publish(site, world.record(site, directEmissions=NORMAL))

    score = await _score(world.router, published.record_id)
    assert score.status == SCORED
    assert score.model_version == _model(world.router).model.version
    assert score.probability is not None and score.probability < 0.5
    assert not score.flagged and score.rule_flagged is False
    assert score.explanation is not None and score.explanation["reasons"] == []
    assert "standard deviations" in score.explanation["rule"]["text"]
    assert await _notifications(world.router, "cn") == []


async def test_a_unit_slip_is_flagged_explained_by_direct_emissions_and_notified(
    world: World,
) -> None:
    maker = await world.org("manufacturer", "CN")
    site = await world.site(maker)
    document = world.record(site, directEmissions=SLIP)
    published = await world.publish(site, document)

    score = await _score(world.router, published.record_id)
    assert score.flagged and score.probability is not None and score.probability >= 0.5
    assert score.rule_flagged is True
    assert score.explanation is not None
    reasons = score.explanation["reasons"]
    assert reasons and reasons[0]["quantity"] == "direct", reasons
    assert "direct emissions 2e+03" in reasons[0]["text"]
    [note] = await _notifications(world.router, "cn")
    assert (note.record_id, note.manufacturer_id, note.kind) == (
        published.record_id,
        maker.id,
        "flagged",
    )
    assert note.acknowledged_at is None
    # the record is stored exactly as signed: scoring changed nothing
    read = await record_with_proof(world.router, published.record_id)
    assert read.document == document


async def test_the_figures_a_score_quotes_are_sealed_at_rest(world: World) -> None:
    maker = await world.org("manufacturer", "CN")
    site = await world.site(maker)
    await world.publish(site, world.record(site, directEmissions=SLIP))
    async with world.router.shard("cn").engine.connect() as conn:
        blob = (await conn.execute(sa.select(schema.record_scores.c.explanation))).scalar_one()
    assert b"direct" not in blob and b"2e+03" not in blob


async def test_records_that_cannot_be_mapped_get_an_explicit_unscored_row(world: World) -> None:
    maker = await world.org("manufacturer", "DE")
    in_germany = await world.site(maker, "DE")  # no grid factor for DE in the reference
    in_china = await world.site(maker, "CN")
    no_band = await world.publish(in_china, world.record(in_china, WIRE))  # wire rod: no band
    no_grid = await world.publish(in_germany, world.record(in_germany, directEmissions=NORMAL))

    germany = await _score(world.router, no_grid.record_id)
    assert (germany.status, germany.flagged, germany.probability) == (UNSCORED, False, None)
    assert germany.unscored_reason == (
        "unscored: no grid emission factor for country DE in the reference"
    )
    wire = await _score(world.router, no_band.record_id)
    assert wire.status == UNSCORED
    assert wire.unscored_reason is not None and f"CN {WIRE}" in wire.unscored_reason


async def test_a_route_code_the_mapping_does_not_know_is_unscored_not_guessed(
    world: World,
) -> None:
    maker = await world.org("manufacturer", "CN")
    site = await world.site(maker)
    # the site's installation lists BF-BOF: without it, "P24" alone would not map
    ingest = world.router.scoring
    assert ingest is not None
    record = parse_record(world.record(site))
    routes = ingest.mapping.resolve("CN", STEEL, ["P24"])
    assert not hasattr(routes, "route")
    prepared = await ingest.prepare(world.router.shard("cn"), {0: record})
    assert isinstance(prepared.by_row[0], RecordFeatures)
    assert prepared.by_row[0].route == "bf_bof"


class _CountingScorer(Scorer):
    def __init__(self, base: Scorer) -> None:
        super().__init__(model=base.model, config=base.config, lookup=base.lookup)
        self.calls: list[int] = []

    def score_batch(self, records: Any) -> list[Score]:
        self.calls.append(len(records))
        return super().score_batch(records)


async def test_a_batch_is_scored_with_one_score_batch_and_copies_are_seen(world: World) -> None:
    ingest = world.router.scoring
    assert ingest is not None
    counting = _CountingScorer(_model(world.router))
    world.router.scoring = AnomalyIngest(InProcessScorer(counting), ingest.mapping)
    maker = await world.org("manufacturer", "CN")
    sites = [await world.site(maker) for _ in range(3)]
    docs = [world.record(s, directEmissions=NORMAL) for s in sites]
    signed = [s.owner.sign(d) for s, d in zip(sites, docs, strict=True)]
    subs = [publishing.Submission(x.payload, x.signature, x.key_id) for x in signed]
    published = await publishing.publish_batch(world.router, subs)

    assert counting.calls == [3]
    scores = [await _score(world.router, p.record_id) for p in published]
    assert all(s.status == SCORED for s in scores)
    prepared = await world.router.scoring.prepare(
        world.router.shard("cn"), {i: parse_record(d) for i, d in enumerate(docs)}
    )
    copies = [f.copies for f in prepared.by_row.values() if isinstance(f, RecordFeatures)]
    assert copies == [2, 2, 2]  # identical figures at three installations


class _BrokenScorer(Scorer):
    def score_batch(self, records: Any) -> list[Score]:
        raise RuntimeError("model file unreadable")


async def test_a_failing_scorer_leaves_the_record_published_and_says_so(world: World) -> None:
    ingest = world.router.scoring
    assert ingest is not None
    model = _model(world.router)
    broken = _BrokenScorer(model=model.model, lookup=model.lookup)
    world.router.scoring = AnomalyIngest(InProcessScorer(broken), ingest.mapping)
    maker = await world.org("manufacturer", "CN")
    site = await world.site(maker)
    published = await world.publish(site, world.record(site, directEmissions=SLIP))

    assert await count(world.router, "cn", "records") == 1
    score = await _score(world.router, published.record_id)
    assert score.status == UNSCORED and not score.flagged
    assert score.unscored_reason == "unscored: RuntimeError('model file unreadable')"


async def test_history_is_the_installations_previous_period(world: World) -> None:
    maker = await world.org("manufacturer", "CN")
    site = await world.site(maker)
    earlier = {
        "referencePeriodStart": "2025-01-01T00:00:00Z",
        "referencePeriodEnd": "2025-12-31T23:59:59Z",
        "netMass": 1000.0,
    }
    await world.publish(
        site,
        world.record(
            site,
            activityData=earlier,
            directEmissions={"specificEmbeddedEmissionsDirect": 1.9, "attributedEmissions": 1900.0},
        ),
    )
    ingest = world.router.scoring
    assert ingest is not None
    now = parse_record(world.record(site, directEmissions=NORMAL))
    changed = parse_record(
        world.record(site, directEmissions=NORMAL, productionMethod={"methodId": "C"})
    )
    prepared = await ingest.prepare(world.router.shard("cn"), {0: now})
    first = prepared.by_row[0]
    assert isinstance(first, RecordFeatures)
    assert (first.previous_see_direct, first.technology_change) == (1.9, False)
    prepared = await ingest.prepare(world.router.shard("cn"), {0: changed})
    second = prepared.by_row[0]
    assert isinstance(second, RecordFeatures) and second.technology_change  # P24 -> C


async def test_a_replay_writes_no_second_score(world: World) -> None:
    maker = await world.org("manufacturer", "CN")
    site = await world.site(maker)
    signed = maker.sign(world.record(site, directEmissions=SLIP))
    sub = publishing.Submission(signed.payload, signed.signature, signed.key_id)
    await publishing.publish_batch(world.router, [sub])
    await publishing.publish_batch(world.router, [sub])
    assert await count(world.router, "cn", "record_scores") == 1
    assert await count(world.router, "cn", "anomaly_notifications") == 1


async def test_scoring_can_be_turned_off(world: World) -> None:
    settings = world.router.settings.model_copy(update={"anomaly_scoring": False})
    router = await ShardRouter.open(settings)
    try:
        assert router.scoring is None
    finally:
        await router.close()
