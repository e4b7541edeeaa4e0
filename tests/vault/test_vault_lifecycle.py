"""Record lifecycle on SQLite and PostgreSQL: submitted -> verified | rejected -> superseded, each
change an append-only event and a ledger entry in the home shard; illegal changes are typed errors
that write nothing."""

from __future__ import annotations

from typing import Any

import pytest
from cbamhub.ledger.statements import StatementKind
from cbamhub.vault import identities, lifecycle
from cbamhub.vault.errors import BadInput, Forbidden, InvalidTransition, NotFound, UnknownKey
from cbamhub.vault.lifecycle import RecordStatus
from cbamhub.vault.signing import OrganisationKey, SignedDocument
from vault_world import STEEL, WIRE, Org, Site, World, count, entries


async def _setup(world: World) -> tuple[Org, Org, Site, str]:
    maker = await world.org("manufacturer", "CN")
    verifier = await world.org("verifier", "DE")
    site = await world.site(maker, "CN")
    published = await world.publish(site, world.record(site))
    return maker, verifier, site, published.record_id


def _request(record: str, verifier: Org) -> dict[str, Any]:
    return {"action": "record.request_verification", "record": record, "verifier": verifier.id}


def _attest(record: str, verifier: Org, opinion: str = "reasonable assurance") -> dict[str, Any]:
    return {
        "action": "record.attest",
        "record": record,
        "verifier": verifier.id,
        "opinion": opinion,
    }


def _reject(record: str, verifier: Org) -> dict[str, Any]:
    return {
        "action": "record.reject",
        "record": record,
        "verifier": verifier.id,
        "reason": "activity data does not match the meter export",
    }


async def _unchanged(world: World, region: str, work: Any, error: type[Exception]) -> None:
    """`work` raises `error` and writes neither an event nor a ledger entry."""
    events, logged = (
        await count(world.router, region, "record_events"),
        len(await entries(world.router, region)),
    )
    with pytest.raises(error):
        await work
    assert await count(world.router, region, "record_events") == events
    assert len(await entries(world.router, region)) == logged


async def test_verification_by_an_assigned_verifier_locks_the_record(world: World) -> None:
    maker, verifier, _site, record = await _setup(world)
    state = await lifecycle.record_state(world.router, record)
    assert (state.status, state.version, state.supersedes) == (RecordStatus.SUBMITTED, 1, None)

    await lifecycle.request_verification(world.router, maker.sign(_request(record, verifier)))
    event = await lifecycle.attest(world.router, verifier.sign(_attest(record, verifier)))
    assert event.payload["opinion"] == "reasonable assurance"

    state = await lifecycle.record_state(world.router, record)
    assert state.status is RecordStatus.VERIFIED
    assert state.opinion == "reasonable assurance"
    assert state.assigned_verifiers == (verifier.id,)
    assert [e.kind.value for e in state.events] == ["verification_requested", "verified"]

    kinds = [s.kind for s in await entries(world.router, "cn")]
    assert kinds[-3:] == [
        StatementKind.RECORD_PUBLISHED,
        StatementKind.VERIFICATION_REQUESTED,
        StatementKind.RECORD_ATTESTED,
    ]
    last = (await entries(world.router, "cn"))[-1]
    assert dict(last.subject) == {"record": record, "event": event.id, "verifier": verifier.id}
    assert last.signer == verifier.key.key_id
    # Every event is in the record's home shard only.
    assert await count(world.router, "cn", "record_events") == 2
    assert await count(world.router, "eu", "record_events") == 0
    assert await count(world.router, "row", "record_events") == 0

    # Locked: neither a second opinion nor a rejection nor a new assignment.
    second_verifier = await world.org("verifier", "DE")
    for document, signer in (
        (_attest(record, verifier, "qualified"), verifier),
        (_reject(record, verifier), verifier),
        (_request(record, second_verifier), maker),
    ):
        call = (
            lifecycle.request_verification
            if document["action"] == "record.request_verification"
            else lifecycle.attest
            if document["action"] == "record.attest"
            else lifecycle.reject
        )
        await _unchanged(world, "cn", call(world.router, signer.sign(document)), InvalidTransition)


async def test_a_replayed_attestation_is_idempotent(world: World) -> None:
    maker, verifier, _, record = await _setup(world)
    await lifecycle.request_verification(world.router, maker.sign(_request(record, verifier)))
    signed = verifier.sign(_attest(record, verifier))
    first = await lifecycle.attest(world.router, signed)
    again = await lifecycle.attest(world.router, signed)
    assert again.id == first.id
    assert await count(world.router, "cn", "record_events") == 2


async def test_only_assigned_verifiers_with_valid_keys_attest(world: World) -> None:
    maker, verifier, _, record = await _setup(world)
    importer = await world.org("importer", "DE")
    other_verifier = await world.org("verifier", "DE")
    # Not yet assigned.
    await _unchanged(
        world,
        "cn",
        lifecycle.attest(world.router, verifier.sign(_attest(record, verifier))),
        Forbidden,
    )
    # A manufacturer cannot assign a non-verifier, and only the record's manufacturer assigns.
    with pytest.raises(Forbidden):
        await lifecycle.request_verification(world.router, maker.sign(_request(record, importer)))
    with pytest.raises(UnknownKey):
        await lifecycle.request_verification(
            world.router, other_verifier.sign(_request(record, verifier))
        )
    await lifecycle.request_verification(world.router, maker.sign(_request(record, verifier)))
    # A non-verifier signing as itself; another verifier not assigned; a forged verifier id.
    await _unchanged(
        world,
        "cn",
        lifecycle.attest(world.router, importer.sign(_attest(record, importer))),
        Forbidden,
    )
    await _unchanged(
        world,
        "cn",
        lifecycle.attest(world.router, other_verifier.sign(_attest(record, other_verifier))),
        Forbidden,
    )
    await _unchanged(
        world,
        "cn",
        lifecycle.attest(world.router, other_verifier.sign(_attest(record, verifier))),
        UnknownKey,
    )
    # The assigned verifier's key, once revoked, signs nothing.
    second = OrganisationKey.generate()
    addition = {
        "action": "key.add",
        "organisation": verifier.id,
        "public_key": second.public_key.hex(),
    }
    await identities.add_key(
        world.router, verifier.sign(addition), second.sign_document(addition).signature
    )
    await identities.revoke_key(
        world.router,
        second.sign_document(
            {"action": "key.revoke", "organisation": verifier.id, "key_id": verifier.key.key_id}
        ),
    )
    await _unchanged(
        world,
        "cn",
        lifecycle.attest(world.router, verifier.sign(_attest(record, verifier))),
        UnknownKey,
    )
    # A tampered signature.
    good = second.sign_document(_attest(record, verifier))
    forged = SignedDocument(good.payload, bytes(64), good.key_id)
    with pytest.raises(Exception, match="signature"):
        await lifecycle.attest(world.router, forged)
    assert (await lifecycle.record_state(world.router, record)).status is RecordStatus.SUBMITTED
    await lifecycle.attest(world.router, second.sign_document(_attest(record, verifier)))
    assert (await lifecycle.record_state(world.router, record)).status is RecordStatus.VERIFIED


async def test_rejection_keeps_its_reason_sealed_and_a_correction_supersedes(world: World) -> None:
    maker, verifier, site, record = await _setup(world)
    await lifecycle.request_verification(world.router, maker.sign(_request(record, verifier)))
    event = await lifecycle.reject(world.router, verifier.sign(_reject(record, verifier)))
    assert "reason" not in event.payload
    document = await lifecycle.event_document(world.router, event)
    assert b"meter export" in document.payload
    assert (await lifecycle.record_state(world.router, record)).status is RecordStatus.REJECTED
    await _unchanged(
        world,
        "cn",
        lifecycle.attest(world.router, verifier.sign(_attest(record, verifier))),
        InvalidTransition,
    )

    correction = world.record(site, supersedesRecordId=record, methodology="measurementBased")
    fixed = await world.publish(site, correction)
    old = await lifecycle.record_state(world.router, record)
    new = await lifecycle.record_state(world.router, fixed.record_id)
    assert (old.status, old.superseded_by) == (RecordStatus.SUPERSEDED, fixed.record_id)
    assert (new.status, new.version, new.supersedes) == (RecordStatus.SUBMITTED, 2, record)
    kinds = [s.kind for s in await entries(world.router, "cn")]
    assert kinds[-2:] == [StatementKind.RECORD_PUBLISHED, StatementKind.RECORD_SUPERSEDED]


async def test_supersede_chains_are_linear(world: World) -> None:
    maker, verifier, site, v1 = await _setup(world)
    await lifecycle.request_verification(world.router, maker.sign(_request(v1, verifier)))
    await lifecycle.attest(world.router, verifier.sign(_attest(v1, verifier)))
    v2 = (await world.publish(site, world.record(site, supersedesRecordId=v1))).record_id
    v3 = (
        await world.publish(
            site, world.record(site, supersedesRecordId=v2, methodology="measurementBased")
        )
    ).record_id
    states = [await lifecycle.record_state(world.router, r) for r in (v1, v2, v3)]
    assert [(s.status, s.version) for s in states] == [
        (RecordStatus.SUPERSEDED, 1),
        (RecordStatus.SUPERSEDED, 2),
        (RecordStatus.SUBMITTED, 3),
    ]
    assert [s.superseded_by for s in states] == [v2, v3, None]
    assert states[0].opinion == "reasonable assurance"  # the history stays

    records = await count(world.router, "cn", "records")
    # A superseded record cannot be superseded again (the chain would fork).
    with pytest.raises(InvalidTransition):
        await world.publish(
            site, world.record(site, supersedesRecordId=v1, methodology="massBalance")
        )
    # A correction keeps the product line; an unknown record cannot be superseded.
    other_line = await world.site(maker, "CN", (STEEL, WIRE))
    with pytest.raises(BadInput, match="another manufacturer, installation or product line"):
        await world.publish(other_line, world.record(other_line, supersedesRecordId=v3))
    with pytest.raises(BadInput, match="no record"):
        await world.publish(
            site, world.record(site, supersedesRecordId="rec_cn_" + "0" * 32, cnCode=WIRE)
        )
    assert await count(world.router, "cn", "records") == records


async def test_record_state_of_unknown_records(world: World) -> None:
    with pytest.raises(NotFound):
        await lifecycle.record_state(world.router, "rec_cn_" + "0" * 32)
    with pytest.raises(BadInput):
        await lifecycle.record_state(world.router, "not-an-id")


async def _to_status(world: World, status: RecordStatus) -> tuple[Org, Org, Site, str]:
    """A fresh record in `status`, with `verifier` assigned to it."""
    maker, verifier, site, record = await _setup(world)
    await lifecycle.request_verification(world.router, maker.sign(_request(record, verifier)))
    if status is RecordStatus.VERIFIED:
        await lifecycle.attest(world.router, verifier.sign(_attest(record, verifier)))
    elif status is RecordStatus.REJECTED:
        await lifecycle.reject(world.router, verifier.sign(_reject(record, verifier)))
    elif status is RecordStatus.SUPERSEDED:
        await world.publish(site, world.record(site, supersedesRecordId=record, cnCode=WIRE))
    assert (await lifecycle.record_state(world.router, record)).status is status
    return maker, verifier, site, record


@pytest.mark.parametrize("status", list(RecordStatus))
async def test_every_transition_follows_the_table(world: World, status: RecordStatus) -> None:
    """From each status, each event is accepted exactly when lifecycle.ALLOWED says so; a refused one
    is InvalidTransition and writes nothing."""
    for kind in lifecycle.EventKind:
        maker, verifier, site, record = await _to_status(world, status)
        other = await world.org("verifier", "DE")
        attempt: Any
        if kind is lifecycle.EventKind.VERIFICATION_REQUESTED:
            attempt = lifecycle.request_verification(
                world.router, maker.sign(_request(record, other))
            )
        elif kind is lifecycle.EventKind.VERIFIED:
            attempt = lifecycle.attest(world.router, verifier.sign(_attest(record, verifier, "q")))
        elif kind is lifecycle.EventKind.REJECTED:
            attempt = lifecycle.reject(
                world.router, verifier.sign({**_reject(record, verifier), "reason": "again"})
            )
        else:
            attempt = world.publish(
                site, world.record(site, supersedesRecordId=record, methodology="massBalance")
            )
        if kind in lifecycle.ALLOWED[status]:
            await attempt
        else:
            await _unchanged(world, "cn", attempt, InvalidTransition)
