"""Grants, revocations and access requests on SQLite and PostgreSQL: signed by the right party, kept
in the product line's home shard only, append-only, each a ledger entry; the grants known at any
recorded time can be rebuilt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cbamhub.ledger.statements import StatementKind
from cbamhub.vault import grants
from cbamhub.vault.errors import (
    BadInput,
    DuplicateSubmission,
    Forbidden,
    InvalidTransition,
    UnknownKey,
)
from vault_world import STEEL, WIRE, Org, Site, World, count, entries, iso

NOW = datetime.now(UTC)


def _terms(site: Site, **changes: Any) -> dict[str, Any]:
    terms: dict[str, Any] = {
        "product_line": site.line.id,
        "purpose": "CBAM declaration 2026",
        "valid_from": iso(NOW - timedelta(days=1)),
        "valid_until": iso(NOW + timedelta(days=365)),
    }
    terms.update(changes)
    return terms


def _grant(site: Site, importer: Org, **changes: Any) -> dict[str, Any]:
    return {
        "action": "grant.create",
        "manufacturer": site.owner.id,
        "importer": importer.id,
        **_terms(site, **changes),
    }


async def test_a_grant_is_signed_stored_in_the_line_shard_and_logged(world: World) -> None:
    maker = await world.org("manufacturer", "DE")
    importer = await world.org("importer", "DE")
    site = await world.site(maker, "CN")
    version = await grants.grants_version(world.router)
    signed = maker.sign(_grant(site, importer, cn_codes=[STEEL], fields=["directEmissions"]))
    grant = await grants.grant_access(world.router, signed)
    assert grant.id.startswith("grt_cn_") and grant.region == "cn"
    assert (grant.cn_codes, grant.fields, grant.revoked_at) == (
        (STEEL,),
        ("directEmissions",),
        None,
    )
    assert grant.installation_id == site.installation.id
    assert grant.active_at(datetime.now(UTC))
    assert (await grants.grant_access(world.router, signed)).id == grant.id  # replay
    assert [await count(world.router, r, "grants") for r in ("cn", "eu", "row")] == [1, 0, 0]
    last = (await entries(world.router, "cn"))[-1]
    assert last.kind is StatementKind.GRANT_CREATED and last.subject["grant"] == grant.id
    assert await grants.grants_version(world.router) != version

    assert [g.id for g in await grants.grants_for_importer(world.router, importer.id)] == [grant.id]
    assert [g.id for g in await grants.grants_of_manufacturer(world.router, maker.id)] == [grant.id]

    version = await grants.grants_version(world.router)
    revocation = {"action": "grant.revoke", "grant": grant.id, "reason": "contract ended"}
    revoked = await grants.revoke_grant(world.router, maker.sign(revocation))
    assert revoked.revoked_at is not None and not revoked.active_at(datetime.now(UTC))
    assert (await grants.revoke_grant(world.router, maker.sign(revocation))).revoked_at == (
        revoked.revoked_at
    )
    with pytest.raises(DuplicateSubmission):
        await grants.revoke_grant(world.router, maker.sign({**revocation, "reason": "again"}))
    assert await grants.grants_version(world.router) != version
    assert (await entries(world.router, "cn"))[-1].kind is StatementKind.GRANT_REVOKED
    # The grant row is untouched; the revocation is its own row.
    assert await count(world.router, "cn", "grants") == 1
    assert await count(world.router, "cn", "grant_revocations") == 1


async def test_grants_known_at_a_time(world: World) -> None:
    maker = await world.org("manufacturer", "DE")
    importer = await world.org("importer", "DE")
    cn_site, eu_site = await world.site(maker, "CN"), await world.site(maker, "DE")
    before = datetime.now(UTC)
    first = await grants.grant_access(world.router, maker.sign(_grant(cn_site, importer)))
    after_first = datetime.now(UTC)
    second = await grants.grant_access(world.router, maker.sign(_grant(eu_site, importer)))
    after_second = datetime.now(UTC)
    await grants.revoke_grant(
        world.router, maker.sign({"action": "grant.revoke", "grant": first.id})
    )

    async def known(at: datetime | None) -> list[tuple[str, bool]]:
        found = await grants.grants_for_importer(world.router, importer.id, at=at)
        return [(g.id, g.revoked_at is not None) for g in found]

    assert await known(before) == []
    assert await known(after_first) == [(first.id, False)]
    assert await known(after_second) == [(first.id, False), (second.id, False)]
    assert await known(None) == [(first.id, True), (second.id, False)]
    assert {g.region for g in await grants.grants_for_importer(world.router, importer.id)} == {
        "cn",
        "eu",
    }


async def test_only_the_owner_grants_and_terms_are_checked(world: World) -> None:
    maker = await world.org("manufacturer", "DE")
    other = await world.org("manufacturer", "DE")
    importer = await world.org("importer", "DE")
    verifier = await world.org("verifier", "DE")
    site = await world.site(maker, "CN", (STEEL, WIRE))
    cases: list[tuple[Org, dict[str, Any], type[Exception]]] = [
        (other, _grant(site, importer), UnknownKey),  # signed by another organisation
        (other, {**_grant(site, importer), "manufacturer": other.id}, Forbidden),  # not its line
        (maker, _grant(site, verifier), Forbidden),  # grants go to importers
        (maker, _grant(site, importer, cn_codes=["76011000"]), BadInput),  # not in the line
        (maker, _grant(site, importer, fields=["secretField"]), BadInput),
        (maker, _grant(site, importer, valid_until=iso(NOW - timedelta(days=2))), BadInput),
    ]
    for signer, document, error in cases:
        with pytest.raises(error):
            await grants.grant_access(world.router, signer.sign(document))
    assert await count(world.router, "cn", "grants") == 0
    grant = await grants.grant_access(world.router, maker.sign(_grant(site, importer)))
    with pytest.raises(UnknownKey):  # only the manufacturer revokes
        await grants.revoke_grant(
            world.router, importer.sign({"action": "grant.revoke", "grant": grant.id})
        )
    assert await count(world.router, "cn", "grant_revocations") == 0


async def test_access_requests_are_pending_until_answered(world: World) -> None:
    maker = await world.org("manufacturer", "DE")
    importer = await world.org("importer", "DE")
    site = await world.site(maker, "CN", (STEEL, WIRE))
    ask = {"action": "access.request", "importer": importer.id, **_terms(site, cn_codes=[WIRE])}
    with pytest.raises(UnknownKey):  # the importer signs its own requests
        await grants.request_access(world.router, maker.sign(ask))
    request = await grants.request_access(world.router, importer.sign(ask))
    assert (request.status, request.manufacturer_id) == ("pending", maker.id)
    second = await grants.request_access(
        world.router, importer.sign({**ask, "purpose": "supplier audit"})
    )
    pending = await grants.pending_requests(world.router, maker.id)
    assert [r.id for r in pending] == [request.id, second.id]

    with pytest.raises(UnknownKey):  # only the manufacturer answers
        await grants.answer_request(
            world.router,
            importer.sign({"action": "access.answer", "request": request.id, "answer": "grant"}),
        )
    answered = await grants.answer_request(
        world.router,
        maker.sign({"action": "access.answer", "request": request.id, "answer": "grant"}),
    )
    assert answered.status == "granted" and answered.grant_id is not None
    (grant,) = await grants.grants_for_importer(world.router, importer.id)
    assert (grant.id, grant.cn_codes, grant.request_id) == (answered.grant_id, (WIRE,), request.id)
    declined = await grants.answer_request(
        world.router,
        maker.sign(
            {"action": "access.answer", "request": second.id, "answer": "decline", "reason": "no"}
        ),
    )
    assert declined.status == "declined" and declined.grant_id is None
    with pytest.raises(InvalidTransition):
        await grants.answer_request(
            world.router,
            maker.sign({"action": "access.answer", "request": second.id, "answer": "grant"}),
        )
    assert await grants.pending_requests(world.router, maker.id) == []
    kinds = [s.kind for s in await entries(world.router, "cn")][-4:]
    assert kinds == [
        StatementKind.ACCESS_REQUESTED,
        StatementKind.ACCESS_REQUESTED,
        StatementKind.GRANT_CREATED,
        StatementKind.ACCESS_DECLINED,
    ]
    assert [await count(world.router, r, "access_requests") for r in ("cn", "eu", "row")] == [
        2,
        0,
        0,
    ]
    mine = await grants.requests_of_importer(world.router, importer.id)
    assert [r.status for r in mine] == ["granted", "declined"]


async def test_times_with_offsets_are_kept_as_instants(world: World) -> None:
    """SQLite stores wall-clock times: the vault stores UTC, so an offset never shifts an instant."""
    maker = await world.org("manufacturer", "DE")
    importer = await world.org("importer", "DE")
    site = await world.site(maker, "CN")
    document = _grant(
        site,
        importer,
        valid_from="2026-06-01T10:00:00+02:00",
        valid_until="2026-07-01T00:00:00-05:00",
    )
    made = await grants.grant_access(world.router, maker.sign(document))
    (stored,) = await grants.grants_for_importer(world.router, importer.id)
    for grant in (made, stored):
        assert grant.valid_from == datetime(2026, 6, 1, 8, tzinfo=UTC)
        assert grant.valid_until == datetime(2026, 7, 1, 5, tzinfo=UTC)
    from zoneinfo import ZoneInfo

    tokyo = stored.created_at.astimezone(ZoneInfo("Asia/Tokyo"))
    at = await grants.grants_for_importer(world.router, importer.id, at=tokyo)
    assert [g.id for g in at] == [made.id]
    before = await grants.grants_for_importer(
        world.router, importer.id, at=tokyo - timedelta(microseconds=1)
    )
    assert before == []
