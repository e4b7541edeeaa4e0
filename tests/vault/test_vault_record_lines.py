"""A record names its registered installation and product line, and the line lists its CN code;
anything else is refused with the field at fault and writes nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from cbamhub.vault.errors import BadInput, Forbidden, VaultError
from cbamhub.vault.publishing import Submission, publish_batch
from vault_world import ALUMINIUM, STEEL, WIRE, World, count


async def test_a_record_must_name_a_registered_line_that_lists_its_code(world: World) -> None:
    maker = await world.org("manufacturer", "CN")
    site = await world.site(maker, "CN", (STEEL, WIRE))
    other = await world.site(await world.org("manufacturer", "CN"), "CN", (STEEL,))
    good = world.record(site)

    cases: list[tuple[dict[str, object], type[VaultError], str, str]] = [
        ({**good, "productLineId": None}, BadInput, "productLineId", "required"),
        ({**good, "installationId": "inst_mumbai_1"}, BadInput, "installationId", "not a hub"),
        ({**good, "installationId": "ins_cn_" + "0" * 32}, BadInput, "installationId", "no inst"),
        ({**good, "productLineId": other.line.id}, BadInput, "productLineId", "not a product line"),
        (world.record(site, cn_code=ALUMINIUM), BadInput, "cnCode", "not in product line"),
        ({**good, "installationId": other.installation.id}, Forbidden, "", "not"),
    ]
    for document, error, field, words in cases:
        document = {k: v for k, v in document.items() if v is not None}
        with pytest.raises(error, match=words) as raised:
            await world.publish(site, document)
        if field:
            assert [p["field"] for p in raised.value.details["problems"]] == [field]
    assert await count(world.router, "cn", "records") == 0

    published = await world.publish(site, good)
    async with world.router.shard("cn").engine.connect() as conn:
        import sqlalchemy as sa

        row = (
            await conn.execute(
                sa.text("SELECT product_line_id, version, quality_tier FROM records WHERE id = :i"),
                {"i": published.record_id},
            )
        ).one()
    assert tuple(row) == (site.line.id, 1, "measured")


async def test_a_batch_reports_every_row_without_a_line(world: World) -> None:
    maker = await world.org("manufacturer", "CN")
    site = await world.site(maker, "CN", (STEEL,))
    rows = [
        world.record(site),
        world.record(site, cn_code=WIRE),
        {
            **world.record(site, cn_code=STEEL, methodology="massBalance"),
            "productLineId": "pl_cn_" + "1" * 32,
        },
    ]
    signed = [maker.sign(r) for r in rows]
    with pytest.raises(BadInput) as raised:
        await publish_batch(
            world.router, [Submission(s.payload, s.signature, s.key_id) for s in signed]
        )
    problems = raised.value.details["problems"]
    assert [(p["row"], p["field"]) for p in problems] == [(1, "cnCode"), (2, "productLineId")]
    assert await count(world.router, "cn", "records") == 0
