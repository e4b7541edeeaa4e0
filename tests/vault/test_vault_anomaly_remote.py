"""Ingest scoring on a remote AnomalyScoring service (a real gRPC server on loopback), on SQLite and
PostgreSQL: the same scores as in process, computed before the shard's writer is taken, and an
unreachable or slow scorer leaves explicit "unscored" rows while the whole batch still publishes.

Figures are TEST INPUTS (vault_samples.py): BF-BOF steel at 2.0 tCO2e/t direct sits inside the
reference band 1.6-2.2 (shared/reference/cbam_facts.md §8); 2,000 is that figure in kg.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from cbamhub.anomaly.batch_scorer import InProcessScorer, load_scorer
from cbamhub.anomaly.record import RecordFeatures
from cbamhub.anomaly.remote import RemoteScorer
from cbamhub.anomaly.scoring import Score, Scorer
from cbamhub.anomaly.service import ScoringServer, start_scoring_server
from cbamhub.vault import publishing
from cbamhub.vault.anomaly_ingest import AnomalyIngest
from cbamhub.vault.ids import region_of
from cbamhub.vault.record_model import parse_record
from cbamhub.vault.record_scores import SCORED, UNSCORED, StoredScore, scores_of
from cbamhub.vault.shards import Shard, ShardRouter
from vault_world import Site, World, count

NORMAL = {"specificEmbeddedEmissionsDirect": 2.0, "attributedEmissions": 2000.0}
SLIP = {"specificEmbeddedEmissionsDirect": 2000.0, "attributedEmissions": 2000000.0}
LOW = {"specificEmbeddedEmissionsDirect": 1.7, "attributedEmissions": 1700.0}


async def _score(router: ShardRouter, record_id: str) -> StoredScore:
    shard = router.shard(region_of(record_id, "rec"))
    return (await scores_of(shard, [record_id]))[record_id]


def _model() -> Scorer:
    return load_scorer(None, None, 0.5)


@pytest.fixture
async def scoring_server() -> AsyncIterator[ScoringServer]:
    server = await start_scoring_server(_model())
    try:
        yield server
    finally:
        await server.stop()


@contextlib.asynccontextmanager
async def _use(world: World, scorer: RemoteScorer) -> AsyncIterator[None]:
    local = world.router.scoring
    assert local is not None
    world.router.scoring = AnomalyIngest(scorer, local.mapping)
    try:
        yield
    finally:
        await scorer.aclose()


async def _publish_batch(world: World, sites: Sequence[Site], figures: Sequence[Any]) -> list[str]:
    docs = [world.record(s, directEmissions=f) for s, f in zip(sites, figures, strict=True)]
    signed = [s.owner.sign(d) for s, d in zip(sites, docs, strict=True)]
    subs = [publishing.Submission(x.payload, x.signature, x.key_id) for x in signed]
    return [p.record_id for p in await publishing.publish_batch(world.router, subs)]


async def test_remote_scores_equal_in_process_scores(
    world: World, scoring_server: ScoringServer
) -> None:
    remote = RemoteScorer(f"127.0.0.1:{scoring_server.port}", None, 10.0)
    maker = await world.org("manufacturer", "CN")
    sites = [await world.site(maker) for _ in range(3)]
    figures = [NORMAL, SLIP, LOW]
    async with _use(world, remote):
        ids = await _publish_batch(world, sites, figures)
    stored = [await _score(world.router, i) for i in ids]
    assert [s.status for s in stored] == [SCORED] * 3
    assert [s.flagged for s in stored] == [False, True, False]

    # The same records scored in process: no history (same period) and no copies (own installation
    # only), so the context is what it was at publication.
    local = AnomalyIngest(InProcessScorer(_model()))
    shard = world.router.shard("cn")
    for site, figure, record_id, remote_score in zip(sites, figures, ids, stored, strict=True):
        record = parse_record(world.record(site, directEmissions=figure))
        prepared = await local.prepare(shard, {0: record})
        [expected] = local.score(prepared, {0: (record_id, maker.id)})
        assert expected.status == SCORED
        got = (remote_score.model_version, remote_score.probability, remote_score.flagged,
               remote_score.rule_flagged, remote_score.explanation)  # fmt: skip
        assert got == (expected.model_version, expected.probability, expected.flagged,
                       expected.rule_flagged, expected.explanation)  # fmt: skip
    assert stored[1].explanation is not None
    assert stored[1].explanation["reasons"][0]["quantity"] == "direct"


async def test_an_unreachable_scorer_leaves_unscored_rows_and_the_batch_publishes(
    world: World, free_port: int
) -> None:
    remote = RemoteScorer(f"127.0.0.1:{free_port}", None, 5.0)
    maker = await world.org("manufacturer", "CN")
    sites = [await world.site(maker) for _ in range(2)]
    async with _use(world, remote):
        ids = await _publish_batch(world, sites, [NORMAL, SLIP])

    assert await count(world.router, "cn", "records") == 2
    assert await count(world.router, "cn", "anomaly_notifications") == 0
    for record_id in ids:
        score = await _score(world.router, record_id)
        assert (score.status, score.flagged, score.probability) == (UNSCORED, False, None)
        assert score.unscored_reason is not None
        assert score.unscored_reason.startswith(
            f"unscored: remote scorer 127.0.0.1:{free_port} failed: UNAVAILABLE"
        ), score.unscored_reason


class _SlowScorer(Scorer):
    """The real model, answering late (the service runs it on a worker thread)."""

    def score_batch(self, records: Sequence[RecordFeatures]) -> list[Score]:
        time.sleep(3.0)
        return super().score_batch(records)


async def test_a_slow_scorer_is_cut_off_at_the_deadline(world: World) -> None:
    model = _model()
    slow = await start_scoring_server(_SlowScorer(model=model.model, config=model.config))
    remote = RemoteScorer(f"127.0.0.1:{slow.port}", None, 0.3)
    maker = await world.org("manufacturer", "CN")
    sites = [await world.site(maker) for _ in range(3)]
    try:
        async with _use(world, remote):
            started = time.monotonic()
            ids = await _publish_batch(world, sites, [NORMAL, SLIP, LOW])
            took = time.monotonic() - started
    finally:
        await slow.stop(grace=0)
    assert took < 2.5, took  # the 3 s answer was not waited for
    assert await count(world.router, "cn", "records") == 3
    reasons = {(await _score(world.router, i)).unscored_reason for i in ids}
    assert reasons == {
        f"unscored: remote scorer 127.0.0.1:{slow.port} did not answer within 0.3 s "
        "(DEADLINE_EXCEEDED)"
    }


class _WriterProbe:
    """The in-process scorer, first checking that the shard's writer is free: scoring inside the
    write transaction would make this wait on itself until the timeout."""

    description = "in process, probing the writer"

    def __init__(self, shard: Shard) -> None:
        self.shard = shard
        self.inner = InProcessScorer(_model())
        self.free: list[bool] = []

    async def score_batch(self, records: Sequence[RecordFeatures]) -> list[Score]:
        try:
            async with asyncio.timeout(2.0), self.shard.log.writer():
                self.free.append(True)
        except TimeoutError:
            self.free.append(False)
        return await self.inner.score_batch(records)

    async def aclose(self) -> None:
        return None


async def test_scoring_runs_before_the_shards_writer_is_taken(world: World) -> None:
    probe = _WriterProbe(world.router.shard("cn"))
    local = world.router.scoring
    assert local is not None
    world.router.scoring = AnomalyIngest(probe, local.mapping)
    maker = await world.org("manufacturer", "CN")
    site = await world.site(maker)
    published = await world.publish(site, world.record(site, directEmissions=NORMAL))
    assert probe.free == [True]
    assert (await _score(world.router, published.record_id)).status == SCORED


async def test_a_router_from_settings_scores_remotely_when_a_url_is_set(
    world: World, scoring_server: ScoringServer
) -> None:
    settings = world.router.settings.with_overrides(
        anomaly_scorer_url=f"127.0.0.1:{scoring_server.port}",
        anomaly_scorer_deadline_seconds=7.5,
    )
    ingest = AnomalyIngest.from_settings(settings)
    try:
        assert isinstance(ingest.scorer, RemoteScorer)
        assert ingest.scorer.deadline_seconds == 7.5
        assert ingest.scorer.description == f"remote scorer 127.0.0.1:{scoring_server.port}"
    finally:
        await ingest.aclose()
    empty = AnomalyIngest.from_settings(settings.with_overrides(anomaly_scorer_url=""))
    assert isinstance(empty.scorer, InProcessScorer)
