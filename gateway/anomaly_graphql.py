"""Anomaly scores, the review queue and notifications in GraphQL (issue 7).

`recordAnomaly(id)` answers whoever may read the record, decided by the same `decide` as
`record(id)`; the reasons and the rule's sentence quote the record's figures, so a reader whose
decision masks fields gets the probability and verdicts but not them. `anomalyReviewQueue` is for
verifiers (records assigned to them) and regulators; `anomalyNotifications` and
`acknowledgeAnomalyNotification` for manufacturers; `reviewAnomaly` takes a signed review.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import strawberry
from cbamhub.vault import anomaly_reviews
from cbamhub.vault.errors import Forbidden, NotFound
from cbamhub.vault.identities import parse_signed
from cbamhub.vault.ids import region_of
from cbamhub.vault.record_scores import StoredScore, scores_of
from strawberry.types import Info

from .anonymous import caller_of
from .identities import SignedDocumentInput
from .record_queries import readable_record
from .record_reads import note_read, typed
from .sharing import _signed_by_caller


@strawberry.type(description="Why a flagged record scored high: one feature, in words.")
class AnomalyReason:
    feature: str
    quantity: str = strawberry.field(description="direct, indirect, electricity, history, ...")
    contribution: float = strawberry.field(description="Log-odds pushed towards anomalous.")
    text: str


@strawberry.type(description="A record's anomaly score as computed at ingest, or why it has none.")
class AnomalyScore:
    record_id: strawberry.ID
    status: str = strawberry.field(description="scored or unscored")
    model_version: str | None
    probability: float | None
    flagged: bool = strawberry.field(description="At or above the threshold: in the review queue.")
    rule_flagged: bool | None = strawberry.field(
        description="The plain rule beside the model: direct SEE more than 3 standard deviations "
        "from the route benchmark."
    )
    rule_text: str | None = strawberry.field(
        description="The rule's sentence (quotes figures: only for full reads)."
    )
    reasons: list[AnomalyReason] | None = strawberry.field(
        description="Flagged records only; null when your read of the record is field-masked."
    )
    unscored_reason: str | None
    scored_at: datetime | None
    reviewed: bool

    @classmethod
    def of(cls, s: StoredScore, full: bool) -> AnomalyScore:
        explanation: Mapping[str, Any] = s.explanation or {}
        rule = explanation.get("rule") or {}
        return cls(
            record_id=strawberry.ID(s.record_id),
            status=s.status,
            model_version=s.model_version,
            probability=s.probability,
            flagged=s.flagged,
            rule_flagged=s.rule_flagged,
            rule_text=rule.get("text") if full else None,
            reasons=[AnomalyReason(**r) for r in explanation.get("reasons", [])] if full else None,
            unscored_reason=s.unscored_reason,
            scored_at=s.scored_at,
            reviewed=s.reviewed,
        )


@strawberry.type
class AnomalyQueueItem:
    score: AnomalyScore
    manufacturer_id: str
    status: str = strawberry.field(description="open or reviewed")
    reviewer_id: str | None
    reviewed_at: datetime | None


@strawberry.type
class AnomalyNotification:
    id: strawberry.ID
    record_id: str
    kind: str = strawberry.field(description="flagged or reviewed")
    created_at: datetime
    acknowledged_at: datetime | None

    @classmethod
    def of(cls, n: anomaly_reviews.Notification) -> AnomalyNotification:
        return cls(
            id=strawberry.ID(n.id),
            record_id=n.record_id,
            kind=n.kind,
            created_at=n.created_at,
            acknowledged_at=n.acknowledged_at,
        )


@strawberry.type
class AnomalyReviewResult:
    record_id: str
    reviewer_id: str
    reviewed_at: datetime
    leaf_index: int


@strawberry.type
class AnomalyQuery:
    @strawberry.field(description="The anomaly score of a record you may read.")
    async def record_anomaly(self, info: Info, id: strawberry.ID) -> AnomalyScore:
        try:
            _, ref, decision = await readable_record(info, str(id))
            router = info.context["router"]
            found = await scores_of(router.shard(region_of(str(id), "rec")), [str(id)])
            if str(id) not in found:
                raise NotFound(f"record {id} has no anomaly score (published before scoring)")
        except Exception as error:
            raise typed(error) from error
        note_read(info, ref, decision.fields)
        return AnomalyScore.of(found[str(id)], full=decision.fields is None)

    @strawberry.field(
        description="Flagged records to review: those assigned to you (verifiers) or all "
        "(regulators); open ones unless includeReviewed."
    )
    async def anomaly_review_queue(
        self, info: Info, include_reviewed: bool = False
    ) -> list[AnomalyQueueItem]:
        caller = caller_of(info)
        try:
            items = await anomaly_reviews.review_queue(
                info.context["router"], caller.organisation_id, caller.role, include_reviewed
            )
        except Exception as error:
            raise typed(error) from error
        return [
            AnomalyQueueItem(
                score=AnomalyScore.of(i.score, full=True),
                manufacturer_id=i.score.manufacturer_id,
                status=i.status,
                reviewer_id=None if i.review is None else i.review.reviewer_id,
                reviewed_at=None if i.review is None else i.review.reviewed_at,
            )
            for i in items
        ]

    @strawberry.field(
        description="Your records' anomaly notifications (manufacturers), newest first."
    )
    async def anomaly_notifications(
        self, info: Info, unacknowledged_only: bool = False
    ) -> list[AnomalyNotification]:
        caller = caller_of(info)
        try:
            if caller.role != "manufacturer":
                raise Forbidden("anomaly notifications are for manufacturers")
            found = await anomaly_reviews.notifications_of(
                info.context["router"], caller.organisation_id, unacknowledged_only
            )
        except Exception as error:
            raise typed(error) from error
        return [AnomalyNotification.of(n) for n in found]


@strawberry.type
class AnomalyMutation:
    @strawberry.mutation(
        description="Review a flagged record (an assigned verifier or a regulator): a signed "
        '{"action": "record.anomaly_review", "record", "reviewer", "note"} document.'
    )
    async def review_anomaly(self, info: Info, input: SignedDocumentInput) -> AnomalyReviewResult:
        try:
            signed = await _signed_by_caller(info, input)
            document = parse_signed(anomaly_reviews.AnomalyReview, signed)
            if document.reviewer != caller_of(info).organisation_id:
                raise Forbidden("organisations review only in their own name")
            done = await anomaly_reviews.review(info.context["router"], signed)
        except Exception as error:
            raise typed(error) from error
        return AnomalyReviewResult(
            record_id=done.record_id,
            reviewer_id=done.reviewer_id,
            reviewed_at=done.reviewed_at,
            leaf_index=done.leaf_index,
        )

    @strawberry.mutation(description="Mark one of your anomaly notifications read.")
    async def acknowledge_anomaly_notification(
        self, info: Info, id: strawberry.ID
    ) -> AnomalyNotification:
        caller = caller_of(info)
        try:
            done = await anomaly_reviews.acknowledge(
                info.context["router"], caller.organisation_id, str(id)
            )
        except Exception as error:
            raise typed(error) from error
        return AnomalyNotification.of(done)
