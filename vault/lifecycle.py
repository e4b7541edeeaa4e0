"""A record's lifecycle: submitted -> verified | rejected, and any of those -> superseded.

The records row is the submission (signed by the manufacturer, published by vault/publishing.py).
Every later state change is a row of the append-only `record_events` table, written in the record's
home shard together with its ledger entry, in one transaction under the log's writer lock (so the
status checked is the status the change applies to). Nothing is updated or deleted: a record's status
at any recorded time is a fold over its events recorded by then, which is what makes `as_of` reads
exact (decision 0046).

Only an organisation with the verifier role attests or rejects, and only a record its manufacturer
asked it to verify (a signed verification request naming the verifier, stored as an event). A verified
record is locked: the only change it accepts is being superseded by a correction (a new record whose
signed payload names it, see publishing.py). Drafts never reach the hub (decision 0045).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from cbamhub.ledger.log import LogWriter
from cbamhub.ledger.statements import (
    Statement,
    StatementKind,
    canonical,
    commitment_of_canonical,
    new_salt,
)
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncConnection

from . import schema
from .errors import BadInput, Forbidden, InvalidTransition, NotFound
from .identities import aware, get_organisation, parse_signed, rfc3339, verify_signed
from .ids import new_id, region_of
from .models import Attestation, Rejection, VerificationRequest
from .shards import Shard, ShardRouter
from .signing import SignedDocument


class RecordStatus(StrEnum):
    SUBMITTED = "submitted"
    VERIFIED = "verified"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"


class EventKind(StrEnum):
    VERIFICATION_REQUESTED = "verification_requested"
    VERIFIED = "verified"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"


ALLOWED: Mapping[RecordStatus, frozenset[EventKind]] = {
    RecordStatus.SUBMITTED: frozenset(EventKind),
    RecordStatus.VERIFIED: frozenset({EventKind.SUPERSEDED}),
    RecordStatus.REJECTED: frozenset({EventKind.SUPERSEDED}),
    RecordStatus.SUPERSEDED: frozenset(),
}
"""Which events each status accepts. A rejected record is corrected by superseding it."""

_STATUS_AFTER = {
    EventKind.VERIFIED: RecordStatus.VERIFIED,
    EventKind.REJECTED: RecordStatus.REJECTED,
    EventKind.SUPERSEDED: RecordStatus.SUPERSEDED,
}
_STATEMENT = {
    EventKind.VERIFICATION_REQUESTED: StatementKind.VERIFICATION_REQUESTED,
    EventKind.VERIFIED: StatementKind.RECORD_ATTESTED,
    EventKind.REJECTED: StatementKind.RECORD_REJECTED,
    EventKind.SUPERSEDED: StatementKind.RECORD_SUPERSEDED,
}


@dataclass(frozen=True)
class RecordEvent:
    id: str
    record_id: str
    kind: EventKind
    actor: str
    verifier_id: str | None
    key_id: str
    payload: Mapping[str, Any]
    """Opinion, verifier, superseded_by: never figures (a rejection's reason stays sealed)."""
    recorded_at: datetime
    leaf_index: int


@dataclass(frozen=True)
class RecordState:
    """A record's status and version as the hub knew them at `as_of` (None: now)."""

    record_id: str
    region: str
    status: RecordStatus
    version: int
    supersedes: str | None
    superseded_by: str | None
    recorded_at: datetime
    """When the hub learnt of the record (its submission)."""
    status_since: datetime
    assigned_verifiers: tuple[str, ...]
    opinion: str | None
    events: tuple[RecordEvent, ...]
    as_of: datetime | None


def status_of(kinds: Iterable[EventKind]) -> RecordStatus:
    """Fold events (in recorded order) into a status; the events were checked when written."""
    status = RecordStatus.SUBMITTED
    for kind in kinds:
        status = _STATUS_AFTER.get(kind, status)
    return status


def check_transition(record_id: str, status: RecordStatus, kind: EventKind) -> None:
    if kind not in ALLOWED[status]:
        hint = " (a verified record is locked: publish a correction that supersedes it)"
        raise InvalidTransition(
            f"record {record_id} is {status.value}: it cannot be {kind.value.replace('_', ' ')}"
            + (hint if status is RecordStatus.VERIFIED else ""),
            {"recordId": record_id, "status": status.value, "event": kind.value},
        )


def _event(row: Any) -> RecordEvent:
    return RecordEvent(
        id=row.id,
        record_id=row.record_id,
        kind=EventKind(row.kind),
        actor=row.actor,
        verifier_id=row.verifier_id,
        key_id=row.key_id,
        payload=json.loads(row.payload),
        recorded_at=aware(row.recorded_at) or row.recorded_at,
        leaf_index=row.leaf_index,
    )


def events_query(
    record_ids: Sequence[str] | Select[Any], as_of: datetime | None = None
) -> Select[Any]:
    """The events of some records of one shard (ids, or a statement selecting them), recorded by
    `as_of`, in recorded order."""
    table = schema.record_events
    ids = record_ids if isinstance(record_ids, Select) else list(record_ids)
    query = select(table).where(table.c.record_id.in_(ids))
    if as_of is not None:
        query = query.where(table.c.recorded_at <= as_of)
    return query.order_by(table.c.leaf_index)


def kinds_query(record_ids: Select[Any], as_of: datetime | None = None) -> Select[Any]:
    """`events_query` reduced to what a status needs (record id and kind): a list's summaries
    fold nothing else, and each further column is converted per row (payload JSON, times)."""
    table = schema.record_events
    query = select(table.c.record_id, table.c.kind).where(table.c.record_id.in_(record_ids))
    if as_of is not None:
        query = query.where(table.c.recorded_at <= as_of)
    return query.order_by(table.c.leaf_index)


def statuses_by_record(record_ids: Sequence[str], rows: Iterable[Any]) -> dict[str, RecordStatus]:
    """`kinds_query`'s rows folded into each record's status (every id present)."""
    kinds: dict[str, list[EventKind]] = {r: [] for r in record_ids}
    for row in rows:
        kinds[row.record_id].append(EventKind(row.kind))
    return {record_id: status_of(k) for record_id, k in kinds.items()}


def events_by_record(
    record_ids: Sequence[str], rows: Iterable[Any]
) -> dict[str, list[RecordEvent]]:
    """`events_query`'s rows per record id (every id present, most with no events)."""
    out: dict[str, list[RecordEvent]] = {r: [] for r in record_ids}
    for row in rows:
        out[row.record_id].append(_event(row))
    return out


async def events_of(
    conn: AsyncConnection, record_ids: Sequence[str], as_of: datetime | None = None
) -> dict[str, list[RecordEvent]]:
    """The events of some records of one shard, recorded by `as_of`, in recorded order."""
    return events_by_record(record_ids, await conn.execute(events_query(record_ids, as_of)))


def state_from(
    row: Any, region: str, events: Sequence[RecordEvent], as_of: datetime | None
) -> RecordState:
    """The state of a records row given its events up to `as_of`."""
    status = status_of(e.kind for e in events)
    recorded_at = aware(row.recorded_at) or row.recorded_at
    since = recorded_at
    opinion = None
    superseded_by = None
    for event in events:
        if event.kind in _STATUS_AFTER:
            since = event.recorded_at
        if event.kind is EventKind.VERIFIED:
            opinion = str(event.payload.get("opinion"))
        if event.kind is EventKind.SUPERSEDED:
            superseded_by = str(event.payload.get("superseded_by"))
    return RecordState(
        record_id=row.id,
        region=region,
        status=status,
        version=row.version or 1,
        supersedes=row.supersedes,
        superseded_by=superseded_by,
        recorded_at=recorded_at,
        status_since=since,
        assigned_verifiers=tuple(
            e.verifier_id
            for e in events
            if e.kind is EventKind.VERIFICATION_REQUESTED and e.verifier_id
        ),
        opinion=opinion,
        events=tuple(events),
        as_of=as_of,
    )


async def _record_row(conn: AsyncConnection, record_id: str) -> Any:
    table = schema.records
    row = (
        await conn.execute(
            select(
                table.c.id,
                table.c.manufacturer_id,
                table.c.installation_id,
                table.c.product_line_id,
                table.c.version,
                table.c.supersedes,
                table.c.recorded_at,
            ).where(table.c.id == record_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"no record {record_id}")
    return row


async def record_state(
    router: ShardRouter, record_id: str, as_of: datetime | None = None
) -> RecordState:
    """The record's status and version as seen at `as_of` (recorded time; default now).

    NotFound if the hub had not learnt of the record by then."""
    as_of = as_of.astimezone(UTC) if as_of is not None else None
    shard = router.shard(region_of(record_id, "rec"))
    async with shard.engine.connect() as conn:
        row = await _record_row(conn, record_id)
        if as_of is not None and (aware(row.recorded_at) or row.recorded_at) > as_of:
            raise NotFound(f"record {record_id} was not yet recorded at {rfc3339(as_of)}")
        events = (await events_of(conn, [record_id], as_of))[record_id]
    return state_from(row, shard.region, events, as_of)


def canonical_payload(signed: SignedDocument) -> Any:
    """The signed document, which must be RFC 8785 canonical: the ledger commits to its bytes."""
    document = json.loads(signed.payload)
    if canonical(document) != signed.payload:
        raise BadInput("the document is not in RFC 8785 canonical form: sign the canonical bytes")
    return document


@dataclass(frozen=True)
class PreparedEvent:
    """An event row and its ledger entry, ready to be written at `event.leaf_index`."""

    event: RecordEvent
    row: Mapping[str, Any]
    entry: bytes


def prepare_event(
    shard: Shard,
    *,
    record_id: str,
    kind: EventKind,
    actor: str,
    signed: SignedDocument,
    payload: Mapping[str, Any],
    subject: Mapping[str, str],
    verifier_id: str | None,
    now: datetime,
    leaf_index: int,
) -> PreparedEvent:
    event_id = new_id("evt", shard.region)
    salt = new_salt()
    row = {
        "id": event_id,
        "record_id": record_id,
        "kind": kind.value,
        "actor": actor,
        "verifier_id": verifier_id,
        "payload": json.dumps(dict(payload), sort_keys=True),
        "request_digest": shard.replay_digest(kind.value.encode() + b"\n" + signed.payload),
        "recorded_at": now,
        "key_id": signed.key_id,
        "document": shard.seal(signed.payload, event_id, "document"),
        "signature": shard.seal(signed.signature, event_id, "signature"),
        "salt": salt,
        "leaf_index": leaf_index,
    }
    statement = Statement(
        kind=_STATEMENT[kind],
        subject={"record": record_id, "event": event_id, **subject},
        time=rfc3339(now),
        signer=signed.key_id,
        commitment=commitment_of_canonical(salt, signed.payload),
    )
    event = RecordEvent(
        event_id, record_id, kind, actor, verifier_id, signed.key_id, dict(payload), now, leaf_index
    )
    return PreparedEvent(event, row, statement.to_bytes())


async def append_event(
    shard: Shard,
    writer: LogWriter,
    *,
    record_id: str,
    kind: EventKind,
    actor: str,
    signed: SignedDocument,
    payload: Mapping[str, Any],
    subject: Mapping[str, str],
    verifier_id: str | None = None,
    now: datetime,
) -> RecordEvent:
    """Insert one event row and its ledger entry inside the caller's writer transaction."""
    prepared = prepare_event(
        shard,
        record_id=record_id,
        kind=kind,
        actor=actor,
        signed=signed,
        payload=payload,
        subject=subject,
        verifier_id=verifier_id,
        now=now,
        leaf_index=writer.size,
    )
    await writer.connection.execute(schema.record_events.insert().values(**prepared.row))
    await writer.append([prepared.entry])
    return prepared.event


async def _replayed(shard: Shard, conn: AsyncConnection, kind: EventKind, payload: bytes) -> Any:
    digest = shard.replay_digest(kind.value.encode() + b"\n" + payload)
    return (
        await conn.execute(
            select(schema.record_events).where(schema.record_events.c.request_digest == digest)
        )
    ).first()


async def request_verification(router: ShardRouter, signed: SignedDocument) -> RecordEvent:
    """The manufacturer assigns a verifier to its submitted record (idempotent on replay)."""
    request = parse_signed(VerificationRequest, signed)
    canonical_payload(signed)
    verifier = await get_organisation(router, request.verifier)
    if verifier.role != "verifier":
        raise Forbidden(f"{request.verifier} is a {verifier.role}, not a verifier")
    shard = router.shard(region_of(request.record, "rec"))
    async with shard.engine.connect() as conn:
        manufacturer = (await _record_row(conn, request.record)).manufacturer_id
    await verify_signed(router, manufacturer, signed)
    kind = EventKind.VERIFICATION_REQUESTED
    async with shard.log.writer() as writer:
        conn = writer.connection
        existing = await _replayed(shard, conn, kind, signed.payload)
        if existing is not None:
            return _event(existing)
        events = (await events_of(conn, [request.record]))[request.record]
        check_transition(request.record, status_of(e.kind for e in events), kind)
        return await append_event(
            shard,
            writer,
            record_id=request.record,
            kind=kind,
            actor=manufacturer,
            signed=signed,
            payload={"verifier": request.verifier},
            subject={"verifier": request.verifier},
            verifier_id=request.verifier,
            now=datetime.now(UTC),
        )


async def _verifier_decision(
    router: ShardRouter,
    signed: SignedDocument,
    record_id: str,
    verifier_id: str,
    kind: EventKind,
    payload: Mapping[str, Any],
) -> RecordEvent:
    organisation = await get_organisation(router, verifier_id)
    if organisation.role != "verifier":
        raise Forbidden(f"{verifier_id} is a {organisation.role}: only verifiers attest or reject")
    await verify_signed(router, verifier_id, signed)
    shard = router.shard(region_of(record_id, "rec"))
    async with shard.log.writer() as writer:
        conn = writer.connection
        existing = await _replayed(shard, conn, kind, signed.payload)
        if existing is not None:
            return _event(existing)
        await _record_row(conn, record_id)
        events = (await events_of(conn, [record_id]))[record_id]
        check_transition(record_id, status_of(e.kind for e in events), kind)
        assigned = {e.verifier_id for e in events if e.kind is EventKind.VERIFICATION_REQUESTED}
        if verifier_id not in assigned:
            raise Forbidden(
                f"{verifier_id} was not asked to verify {record_id}: its manufacturer assigns "
                "verifiers with a signed verification request"
            )
        return await append_event(
            shard,
            writer,
            record_id=record_id,
            kind=kind,
            actor=verifier_id,
            signed=signed,
            payload=payload,
            subject={"verifier": verifier_id},
            verifier_id=verifier_id,
            now=datetime.now(UTC),
        )


async def attest(router: ShardRouter, signed: SignedDocument) -> RecordEvent:
    """An assigned verifier's signed attestation: the record becomes verified and locked."""
    attestation = parse_signed(Attestation, signed)
    canonical_payload(signed)
    return await _verifier_decision(
        router,
        signed,
        attestation.record,
        attestation.verifier,
        EventKind.VERIFIED,
        {"verifier": attestation.verifier, "opinion": attestation.opinion},
    )


async def reject(router: ShardRouter, signed: SignedDocument) -> RecordEvent:
    """An assigned verifier's signed rejection; its reason stays in the sealed document."""
    rejection = parse_signed(Rejection, signed)
    canonical_payload(signed)
    return await _verifier_decision(
        router,
        signed,
        rejection.record,
        rejection.verifier,
        EventKind.REJECTED,
        {"verifier": rejection.verifier},
    )


async def event_document(router: ShardRouter, event: RecordEvent) -> SignedDocument:
    """The signed document behind an event (e.g. a rejection with its reason), unsealed."""
    shard = router.shard(region_of(event.id, "evt"))
    async with shard.engine.connect() as conn:
        row = (
            await conn.execute(
                select(schema.record_events.c.document, schema.record_events.c.signature).where(
                    schema.record_events.c.id == event.id
                )
            )
        ).first()
    if row is None:
        raise NotFound(f"no event {event.id}")
    return SignedDocument(
        shard.open_sealed(row.document, event.id, "document"),
        shard.open_sealed(row.signature, event.id, "signature"),
        event.key_id,
    )


async def assignments_of_verifier(router: ShardRouter, verifier_id: str) -> list[RecordEvent]:
    """Verification requests naming this verifier, from every shard (for the policy's
    "assignments" input)."""

    async def one(shard: Shard) -> list[RecordEvent]:
        table = schema.record_events
        async with shard.engine.connect() as conn:
            rows = await conn.execute(
                select(table)
                .where(
                    table.c.verifier_id == verifier_id,
                    table.c.kind == EventKind.VERIFICATION_REQUESTED.value,
                )
                .order_by(table.c.recorded_at)
            )
            return [_event(r) for r in rows]

    found = await asyncio.gather(*(one(router.shard(r)) for r in router.regions))
    return [event for events in found for event in events]
