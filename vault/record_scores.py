"""Anomaly scores stored beside the records they judge, and read back for those who may read them.

One `record_scores` row per published record, inserted in the record's own transaction (so a record
is never committed without its score row, and a score never exists without its record). A flagged
record also opens its place in the review queue (vault/anomaly_reviews.py) and leaves the
manufacturer a notification. The figures a score quotes are sealed like the record's payload; the
digest of the figures that lets later batches count copies is keyed (HMAC), not a plain hash.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from . import schema
from .ids import new_id
from .shards import Shard

SCORED = "scored"
UNSCORED = "unscored"


@dataclass(frozen=True)
class ScoreRow:
    """A record's score as computed at ingest, or why it has none."""

    record_id: str
    manufacturer_id: str
    status: str  # SCORED | UNSCORED
    model_version: str | None = None
    probability: float | None = None
    flagged: bool = False
    rule_flagged: bool | None = None
    explanation: Mapping[str, Any] | None = None  # {"reasons": [...], "rule": {...}}
    unscored_reason: str | None = None
    figures_digest: bytes | None = None  # keyed digest of the rounded figures (copy lookups)


@dataclass(frozen=True)
class StoredScore(ScoreRow):
    scored_at: datetime | None = None
    reviewed: bool = False


async def insert_scores(
    shard: Shard, conn: AsyncConnection, scores: Sequence[ScoreRow], now: datetime
) -> None:
    """Score rows, plus a notification per flagged record, inside the caller's transaction."""
    if not scores:
        return
    at = now.astimezone(UTC)
    await conn.execute(
        schema.record_scores.insert(),
        [
            {
                "record_id": s.record_id,
                "manufacturer_id": s.manufacturer_id,
                "status": s.status,
                "model_version": s.model_version,
                "probability": s.probability,
                "flagged": s.flagged,
                "rule_flagged": s.rule_flagged,
                "explanation": None
                if s.explanation is None
                else shard.seal(json.dumps(s.explanation).encode(), s.record_id, "explanation"),
                "unscored_reason": s.unscored_reason,
                "figures_digest": s.figures_digest,
                "scored_at": at,
            }
            for s in scores
        ],
    )
    flagged = [s for s in scores if s.flagged]
    if flagged:
        await conn.execute(
            schema.anomaly_notifications.insert(),
            [
                notification_row(shard.region, s.record_id, s.manufacturer_id, "flagged", at)
                for s in flagged
            ],
        )


def notification_row(
    region: str, record_id: str, manufacturer_id: str, kind: str, at: datetime
) -> dict[str, Any]:
    return {
        "id": new_id("ntf", region),
        "record_id": record_id,
        "manufacturer_id": manufacturer_id,
        "kind": kind,
        "created_at": at,
        "acknowledged_at": None,
    }


async def scores_of(shard: Shard, record_ids: Sequence[str]) -> dict[str, StoredScore]:
    """The stored scores of records of one shard, explanations opened."""
    if not record_ids:
        return {}
    t, r = schema.record_scores, schema.anomaly_reviews
    async with shard.engine.connect() as conn:
        rows = await conn.execute(
            select(t, r.c.record_id.label("reviewed_record"))
            .select_from(t.outerjoin(r, r.c.record_id == t.c.record_id))
            .where(t.c.record_id.in_(list(record_ids)))
        )
        return {
            row.record_id: stored_score(shard, row, row.reviewed_record is not None) for row in rows
        }


def stored_score(shard: Shard, row: Any, reviewed: bool) -> StoredScore:
    explanation = (
        None
        if row.explanation is None
        else json.loads(shard.open_sealed(row.explanation, row.record_id, "explanation"))
    )
    scored_at = row.scored_at if row.scored_at.tzinfo else row.scored_at.replace(tzinfo=UTC)
    return StoredScore(
        record_id=row.record_id,
        manufacturer_id=row.manufacturer_id,
        status=row.status,
        model_version=row.model_version,
        probability=row.probability,
        flagged=bool(row.flagged),
        rule_flagged=None if row.rule_flagged is None else bool(row.rule_flagged),
        explanation=explanation,
        unscored_reason=row.unscored_reason,
        scored_at=scored_at,
        reviewed=reviewed,
    )
