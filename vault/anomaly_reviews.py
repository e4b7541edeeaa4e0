"""The anomaly review queue and the manufacturer's notifications, in the record's home shard.

A flagged record is *open* in the queue from its ingest (vault/record_scores.py) until a verifier
assigned to it, or a regulator, reviews it: a signed document with a note, anchored by an
`record.anomaly_reviewed` ledger entry, after which the manufacturer is notified again. A review
changes nothing in the record or its score; it records that a person looked.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from cbamhub.ledger.statements import Statement, StatementKind, commitment_of_canonical, new_salt
from pydantic import Field
from sqlalchemy import and_, exists, select, update

from . import schema
from .errors import Forbidden, InvalidTransition, NotFound
from .identities import aware, get_organisation, parse_signed, rfc3339, verify_signed
from .ids import region_of
from .lifecycle import EventKind, canonical_payload
from .models import _Signed
from .record_scores import StoredScore, notification_row, stored_score
from .shards import Shard, ShardRouter
from .signing import SignedDocument

REVIEWERS = frozenset({"verifier", "regulator"})
MAX_ITEMS = 1000


class AnomalyReview(_Signed):
    """A reviewer's signed note on a flagged record (free text; it may quote figures: sealed)."""

    action: Literal["record.anomaly_review"]
    record: str = Field(min_length=1, max_length=120)
    reviewer: str = Field(min_length=1, max_length=120)
    note: str = Field(min_length=1, max_length=5000)


@dataclass(frozen=True)
class Review:
    record_id: str
    reviewer_id: str
    key_id: str
    reviewed_at: datetime
    leaf_index: int


@dataclass(frozen=True)
class QueueItem:
    score: StoredScore
    review: Review | None

    @property
    def status(self) -> str:
        return "open" if self.review is None else "reviewed"


@dataclass(frozen=True)
class Notification:
    id: str
    record_id: str
    manufacturer_id: str
    kind: str  # "flagged" | "reviewed"
    created_at: datetime
    acknowledged_at: datetime | None


def _review(row: Any) -> Review:
    at = aware(row.reviewed_at)
    assert at is not None
    return Review(row.record_id, row.reviewer_id, row.key_id, at, row.leaf_index)


def _notification(row: Any) -> Notification:
    created = aware(row.created_at)
    assert created is not None
    return Notification(
        row.id, row.record_id, row.manufacturer_id, row.kind, created, aware(row.acknowledged_at)
    )


async def review(router: ShardRouter, signed: SignedDocument) -> Review:
    """Close a flagged record's place in the queue; replaying the same signed review is idempotent."""
    document = parse_signed(AnomalyReview, signed)
    canonical_payload(signed)
    reviewer = await get_organisation(router, document.reviewer)
    if reviewer.role not in REVIEWERS:
        raise Forbidden(
            f"{document.reviewer} is a {reviewer.role}: verifiers and regulators review"
        )
    await verify_signed(router, document.reviewer, signed)
    shard = router.shard(region_of(document.record, "rec"))
    reviews, scores = schema.anomaly_reviews, schema.record_scores
    async with shard.log.writer() as writer:
        conn = writer.connection
        score = (
            await conn.execute(
                select(scores.c.flagged, scores.c.manufacturer_id).where(
                    scores.c.record_id == document.record
                )
            )
        ).first()
        if score is None or not score.flagged:
            raise NotFound(f"record {document.record} is not in the anomaly review queue")
        done = (
            await conn.execute(select(reviews).where(reviews.c.record_id == document.record))
        ).first()
        if done is not None:
            if shard.open_sealed(done.document, document.record, "review") == signed.payload:
                return _review(done)
            raise InvalidTransition(
                f"record {document.record} was already reviewed by {done.reviewer_id}",
                {"recordId": document.record, "status": "reviewed", "event": "anomaly_reviewed"},
            )
        if reviewer.role == "verifier":
            events = schema.record_events
            assigned = (
                await conn.execute(
                    select(events.c.id).where(
                        events.c.record_id == document.record,
                        events.c.kind == EventKind.VERIFICATION_REQUESTED.value,
                        events.c.verifier_id == document.reviewer,
                    )
                )
            ).first()
            if assigned is None:
                raise Forbidden(
                    f"{document.reviewer} is not assigned to verify {document.record}: only its "
                    "verifiers (or a regulator) review it"
                )
        now = datetime.now(UTC)
        salt = new_salt()
        leaf_index = writer.size
        row = {
            "record_id": document.record,
            "reviewer_id": document.reviewer,
            "reviewed_at": now,
            "key_id": signed.key_id,
            "document": shard.seal(signed.payload, document.record, "review"),
            "signature": shard.seal(signed.signature, document.record, "review-signature"),
            "salt": salt,
            "leaf_index": leaf_index,
        }
        statement = Statement(
            kind=StatementKind.ANOMALY_REVIEWED,
            subject={"record": document.record, "reviewer": document.reviewer},
            time=rfc3339(now),
            signer=signed.key_id,
            commitment=commitment_of_canonical(salt, signed.payload),
        )
        await conn.execute(reviews.insert(), [row])
        await conn.execute(
            schema.anomaly_notifications.insert(),
            [
                notification_row(
                    shard.region, document.record, score.manufacturer_id, "reviewed", now
                )
            ],
        )
        await writer.append([statement.to_bytes()])
    return Review(document.record, document.reviewer, signed.key_id, now, leaf_index)


async def review_document(router: ShardRouter, record_id: str) -> SignedDocument | None:
    """The signed review of a record (with its note), unsealed; None if not reviewed."""
    shard = router.shard(region_of(record_id, "rec"))
    t = schema.anomaly_reviews
    async with shard.engine.connect() as conn:
        row = (await conn.execute(select(t).where(t.c.record_id == record_id))).first()
    if row is None:
        return None
    return SignedDocument(
        shard.open_sealed(row.document, record_id, "review"),
        shard.open_sealed(row.signature, record_id, "review-signature"),
        row.key_id,
    )


async def review_queue(
    router: ShardRouter, organisation_id: str, role: str, include_reviewed: bool = False
) -> list[QueueItem]:
    """Flagged records a reviewer may review, newest first: a verifier's assigned records, or
    every flagged record for a regulator. Anyone else has no queue."""
    if role not in REVIEWERS:
        raise Forbidden(f"a {role} has no anomaly review queue: verifiers and regulators do")

    async def one(shard: Shard) -> list[QueueItem]:
        s, r, e = schema.record_scores, schema.anomaly_reviews, schema.record_events
        query = (
            select(s, *(c.label(f"review_{c.name}") for c in r.c))
            .select_from(s.outerjoin(r, r.c.record_id == s.c.record_id))
            .where(s.c.flagged.is_(True))
            .order_by(s.c.scored_at.desc(), s.c.record_id)
            .limit(MAX_ITEMS)
        )
        if not include_reviewed:
            query = query.where(r.c.record_id.is_(None))
        if role == "verifier":
            query = query.where(
                exists().where(
                    and_(
                        e.c.record_id == s.c.record_id,
                        e.c.kind == EventKind.VERIFICATION_REQUESTED.value,
                        e.c.verifier_id == organisation_id,
                    )
                )
            )
        async with shard.engine.connect() as conn:
            rows = list(await conn.execute(query))
        out = []
        for row in rows:
            done = None
            if row.review_record_id is not None:
                at = aware(row.review_reviewed_at)
                assert at is not None
                done = Review(
                    row.review_record_id,
                    row.review_reviewer_id,
                    row.review_key_id,
                    at,
                    row.review_leaf_index,
                )
            out.append(QueueItem(stored_score(shard, row, reviewed=done is not None), done))
        return out

    found = await asyncio.gather(*(one(router.shard(region)) for region in router.regions))
    items = [i for shard_items in found for i in shard_items]
    items.sort(key=lambda i: i.score.scored_at or datetime.min.replace(tzinfo=UTC), reverse=True)
    return items[:MAX_ITEMS]


async def notifications_of(
    router: ShardRouter, manufacturer_id: str, unacknowledged_only: bool = False
) -> list[Notification]:
    """A manufacturer's anomaly notifications from every shard, newest first."""

    async def one(shard: Shard) -> list[Notification]:
        t = schema.anomaly_notifications
        query = (
            select(t)
            .where(t.c.manufacturer_id == manufacturer_id)
            .order_by(t.c.created_at.desc(), t.c.id)
            .limit(MAX_ITEMS)
        )
        if unacknowledged_only:
            query = query.where(t.c.acknowledged_at.is_(None))
        async with shard.engine.connect() as conn:
            return [_notification(r) for r in await conn.execute(query)]

    found = await asyncio.gather(*(one(router.shard(region)) for region in router.regions))
    items = [n for shard_items in found for n in shard_items]
    items.sort(key=lambda n: n.created_at, reverse=True)
    return items[:MAX_ITEMS]


async def acknowledge(
    router: ShardRouter, manufacturer_id: str, notification_id: str
) -> Notification:
    """The manufacturer marks its notification read (idempotent); someone else's is NotFound."""
    shard = router.shard(region_of(notification_id, "ntf"))
    t = schema.anomaly_notifications
    async with shard.engine.begin() as conn:
        await conn.execute(
            update(t)
            .where(
                t.c.id == notification_id,
                t.c.manufacturer_id == manufacturer_id,
                t.c.acknowledged_at.is_(None),
            )
            .values(acknowledged_at=datetime.now(UTC))
        )
        row = (
            await conn.execute(
                select(t).where(t.c.id == notification_id, t.c.manufacturer_id == manufacturer_id)
            )
        ).first()
    if row is None:
        raise NotFound(f"no notification {notification_id} of {manufacturer_id}")
    return _notification(row)
