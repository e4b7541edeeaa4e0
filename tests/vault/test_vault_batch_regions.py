"""A batch spanning regions is atomic across them: a problem that only the write phase finds in
one region (a correction of a record that region does not hold) leaves every region's records,
scores and log as they were, and the problem is reported by row."""

from __future__ import annotations

import pytest
from cbamhub.ledger.checkpoint import SignedCheckpoint
from cbamhub.vault import publishing
from cbamhub.vault.errors import BadInput
from cbamhub.vault.publishing import Submission
from vault_world import World, count

REGIONS = ("cn", "eu", "row")


async def state(world: World) -> dict[str, tuple[int, int, int]]:
    out = {}
    for region in REGIONS:
        size = SignedCheckpoint.parse(await world.router.shard(region).log.checkpoint()).checkpoint
        out[region] = (
            await count(world.router, region, "records"),
            await count(world.router, region, "record_scores"),
            size.size,
        )
    return out


@pytest.mark.parametrize("failing", REGIONS)
async def test_a_write_phase_problem_in_one_region_writes_no_region(
    world: World, failing: str
) -> None:
    maker = await world.org("manufacturer", "CN")
    sites = {
        "cn": await world.site(maker, "CN"),
        "eu": await world.site(maker, "DE"),
        "row": await world.site(maker, "TR"),
    }
    for site in sites.values():  # every region holds a record already
        await world.publish(site, world.record(site))
    before = await state(world)
    submissions, bad_row = [], -1
    for i in range(9):
        region = REGIONS[i % 3]
        site = sites[region]
        see = 2.0 + (i + 1) / 100  # every row its own figures: no replay of another
        changes: dict[str, object] = {
            "directEmissions": {
                "specificEmbeddedEmissionsDirect": see,
                "attributedEmissions": round(see * 1000, 6),
            }
        }
        if region == failing and i >= 6:
            bad_row = i
            changes["supersedesRecordId"] = f"rec_{region}_" + "0" * 32  # not in that shard
        signed = maker.sign(world.record(site, **changes))
        submissions.append(Submission(signed.payload, signed.signature, signed.key_id))
    with pytest.raises(BadInput) as raised:
        await publishing.publish_batch(world.router, submissions)
    problems = raised.value.details["problems"]
    assert [p["row"] for p in problems] == [bad_row]
    assert problems[0]["field"] == "supersedesRecordId"
    assert await state(world) == before
    good = [i for i in range(len(submissions)) if i != bad_row]
    published = await publishing.publish_batch(world.router, [submissions[i] for i in good])
    assert [p.region for p in published] == [REGIONS[i % 3] for i in good]  # the rest goes through
    after = await state(world)
    for region in REGIONS:
        written = sum(1 for i in good if REGIONS[i % 3] == region)
        assert after[region][0] == before[region][0] + written
