"""The anomaly review queue and notifications: a flagged record is open until an assigned verifier
or a regulator reviews it with a signed note (a ledger entry); the manufacturer is told both times
and acknowledges. Figures are TEST INPUTS (vault_samples.py); 2,000 tCO2e/t is a 1000x unit slip of
a BF-BOF figure inside the reference band (shared/reference/cbam_facts.md §8)."""

from __future__ import annotations

from typing import Any

import pytest
from cbamhub.ledger.statements import StatementKind
from cbamhub.vault import lifecycle
from cbamhub.vault.anomaly_reviews import (
    acknowledge,
    notifications_of,
    review,
    review_document,
    review_queue,
)
from cbamhub.vault.errors import Forbidden, InvalidTransition, NotFound
from vault_world import Org, Site, World, entries

SLIP = {"specificEmbeddedEmissionsDirect": 2000.0, "attributedEmissions": 2000000.0}
NORMAL = {"specificEmbeddedEmissionsDirect": 2.0, "attributedEmissions": 2000.0}


def _review(record: str, reviewer: Org, note: str = "unit slip: kg reported as t") -> Any:
    return reviewer.sign(
        {"action": "record.anomaly_review", "record": record, "reviewer": reviewer.id, "note": note}
    )


async def _flagged(world: World) -> tuple[Org, Site, str]:
    maker = await world.org("manufacturer", "CN")
    site = await world.site(maker)
    published = await world.publish(site, world.record(site, directEmissions=SLIP))
    return maker, site, published.record_id


async def _assign(world: World, maker: Org, record: str, verifier: Org) -> None:
    request = {"action": "record.request_verification", "record": record, "verifier": verifier.id}
    await lifecycle.request_verification(world.router, maker.sign(request))


async def test_the_queue_lifecycle_for_an_assigned_verifier(world: World) -> None:
    maker, site, record = await _flagged(world)
    calm = await world.publish(site, world.record(site, directEmissions=NORMAL))
    verifier = await world.org("verifier")
    other = await world.org("verifier")
    await _assign(world, maker, record, verifier)
    await _assign(world, maker, calm.record_id, verifier)

    [item] = await review_queue(
        world.router, verifier.id, "verifier"
    )  # the calm one is not flagged
    assert (item.score.record_id, item.status) == (record, "open")
    assert item.score.explanation is not None
    assert item.score.explanation["reasons"][0]["quantity"] == "direct"
    assert await review_queue(world.router, other.id, "verifier") == []  # not assigned to it

    with pytest.raises(Forbidden):
        await review(world.router, _review(record, other))
    done = await review(world.router, _review(record, verifier))
    assert done.reviewer_id == verifier.id
    assert await review_queue(world.router, verifier.id, "verifier") == []
    [closed] = await review_queue(world.router, verifier.id, "verifier", include_reviewed=True)
    assert closed.status == "reviewed" and closed.review == done and closed.score.reviewed

    # a second, different review is refused (a replay of the first is idempotent, below)
    with pytest.raises(InvalidTransition):
        await review(world.router, _review(record, verifier, "on second thought"))
    kinds = [e.kind for e in await entries(world.router, "cn")]
    assert kinds.count(StatementKind.ANOMALY_REVIEWED) == 1
    document = await review_document(world.router, record)
    assert document is not None and b"unit slip" in document.payload


async def test_a_replayed_review_returns_the_first(world: World) -> None:
    _, _, record = await _flagged(world)
    regulator = await world.org("regulator")
    signed = _review(record, regulator)
    first = await review(world.router, signed)
    assert await review(world.router, signed) == first


async def test_a_regulator_sees_every_flagged_record_and_others_have_no_queue(
    world: World,
) -> None:
    _, _, record = await _flagged(world)
    regulator = await world.org("regulator")
    importer = await world.org("importer")
    assert [
        i.score.record_id for i in await review_queue(world.router, regulator.id, "regulator")
    ] == [record]
    with pytest.raises(Forbidden):
        await review_queue(world.router, importer.id, "importer")
    with pytest.raises(Forbidden):
        await review(world.router, _review(record, importer))


async def test_only_flagged_records_can_be_reviewed(world: World) -> None:
    maker = await world.org("manufacturer", "CN")
    site = await world.site(maker)
    calm = await world.publish(site, world.record(site, directEmissions=NORMAL))
    regulator = await world.org("regulator")
    with pytest.raises(NotFound):
        await review(world.router, _review(calm.record_id, regulator))


async def test_the_manufacturer_is_notified_and_acknowledges(world: World) -> None:
    maker, _, record = await _flagged(world)
    regulator = await world.org("regulator")
    stranger = await world.org("manufacturer", "CN")
    [flagged] = await notifications_of(world.router, maker.id)
    assert (flagged.record_id, flagged.kind, flagged.acknowledged_at) == (record, "flagged", None)
    assert await notifications_of(world.router, stranger.id) == []
    with pytest.raises(NotFound):
        await acknowledge(world.router, stranger.id, flagged.id)

    await review(world.router, _review(record, regulator))
    reviewed, first = await notifications_of(world.router, maker.id)
    assert (reviewed.kind, first.id) == ("reviewed", flagged.id)
    acknowledged = await acknowledge(world.router, maker.id, flagged.id)
    assert acknowledged.acknowledged_at is not None
    again = await acknowledge(world.router, maker.id, flagged.id)
    assert again.acknowledged_at == acknowledged.acknowledged_at
    [open_] = await notifications_of(world.router, maker.id, unacknowledged_only=True)
    assert open_.id == reviewed.id
