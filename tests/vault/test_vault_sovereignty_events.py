"""After a mixed workload across every region (records, corrections, verifications, grants, requests),
every row is in its home shard and no other — read from each database directly — and every event's
ledger entry commits to its signed document with the stored salt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from cbamhub.ledger.statements import commitment_of_canonical
from cbamhub.vault import grants, lifecycle
from cbamhub.vault.ids import region_of
from sqlalchemy.ext.asyncio import create_async_engine
from vault_world import WIRE, World, entries, iso

ID_COLUMNS = {
    "records": [("id", "rec"), ("installation_id", "ins"), ("product_line_id", "pl")],
    "record_events": [("id", "evt"), ("record_id", "rec")],
    "grants": [("id", "grt"), ("product_line_id", "pl"), ("installation_id", "ins")],
    "grant_revocations": [("grant_id", "grt")],
    "access_requests": [("id", "req"), ("product_line_id", "pl")],
    "access_answers": [("request_id", "req")],
}


async def test_a_mixed_workload_stays_in_its_home_shards(
    world: World, region_urls: dict[str, str]
) -> None:
    now = datetime.now(UTC)
    verifier = await world.org("verifier", "DE")
    importer = await world.org("importer", "DE")
    maker = await world.org("manufacturer", "CN")
    for country in ("CN", "DE", "TR"):  # regions cn, eu, row
        site = await world.site(maker, country)
        first = await world.publish(site, world.record(site))
        await world.publish(site, world.record(site, cn_code=WIRE))
        await lifecycle.request_verification(
            world.router,
            maker.sign(
                {
                    "action": "record.request_verification",
                    "record": first.record_id,
                    "verifier": verifier.id,
                }
            ),
        )
        await lifecycle.attest(
            world.router,
            verifier.sign(
                {
                    "action": "record.attest",
                    "record": first.record_id,
                    "verifier": verifier.id,
                    "opinion": "reasonable assurance",
                }
            ),
        )
        await world.publish(
            site, world.record(site, supersedesRecordId=first.record_id, methodology="massBalance")
        )
        terms = {
            "product_line": site.line.id,
            "purpose": "declaration",
            "valid_from": iso(now),
            "valid_until": iso(now + timedelta(days=90)),
        }
        grant = await grants.grant_access(
            world.router,
            maker.sign(
                {
                    "action": "grant.create",
                    "manufacturer": maker.id,
                    "importer": importer.id,
                    **terms,
                }
            ),
        )
        await grants.revoke_grant(
            world.router, maker.sign({"action": "grant.revoke", "grant": grant.id})
        )
        request = await grants.request_access(
            world.router,
            importer.sign({"action": "access.request", "importer": importer.id, **terms}),
        )
        await grants.answer_request(
            world.router,
            maker.sign({"action": "access.answer", "request": request.id, "answer": "decline"}),
        )

    seen: dict[str, int] = {}
    for region, url in region_urls.items():
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                for table, columns in ID_COLUMNS.items():
                    names = ", ".join(c for c, _ in columns)
                    for row in await conn.execute(sa.text(f"SELECT {names} FROM {table}")):
                        for value, (_, kind) in zip(row, columns, strict=True):
                            assert region_of(value, kind) == region, (table, value, region)
                        seen[table] = seen.get(table, 0) + 1
        finally:
            await engine.dispose()
    assert seen == {
        "records": 9,
        "record_events": 9,  # per region: requested, verified, superseded
        "grants": 3,
        "grant_revocations": 3,
        "access_requests": 3,
        "access_answers": 3,
    }


async def test_each_event_entry_commits_to_its_signed_document(world: World) -> None:
    maker = await world.org("manufacturer", "CN")
    verifier = await world.org("verifier", "DE")
    site = await world.site(maker, "CN")
    record = (await world.publish(site, world.record(site))).record_id
    await lifecycle.request_verification(
        world.router,
        maker.sign(
            {"action": "record.request_verification", "record": record, "verifier": verifier.id}
        ),
    )
    await lifecycle.reject(
        world.router,
        verifier.sign(
            {"action": "record.reject", "record": record, "verifier": verifier.id, "reason": "x"}
        ),
    )
    await world.publish(site, world.record(site, supersedesRecordId=record))
    state = await lifecycle.record_state(world.router, record)
    log = await entries(world.router, "cn")
    async with world.router.shard("cn").engine.connect() as conn:
        rows = await conn.execute(sa.text("SELECT id, salt FROM record_events"))
        salts = {row.id: row.salt for row in rows}
    assert [e.kind.value for e in state.events] == [
        "verification_requested",
        "rejected",
        "superseded",
    ]
    for event in state.events:
        document = await lifecycle.event_document(world.router, event)
        entry = log[event.leaf_index]
        assert entry.subject["event"] == event.id and entry.signer == document.key_id
        assert entry.commitment == commitment_of_canonical(salts[event.id], document.payload)
