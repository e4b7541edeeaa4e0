"""Score records, explain the flagged ones, and route them for review — never change or drop data.

``Scorer.score`` / ``score_batch`` are the API the gateway and the gRPC service call. Every record
gets a model probability and the statistical rule's verdict; records at or above the configured
threshold get exact contribution-based reasons, go to the review queue and notify the manufacturer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from .explain import Reason, reasons
from .features import Columns, Lookup, build_lookup, columns_from_records, feature_matrix
from .record import RecordFeatures
from .registry import LoadedModel, ModelRegistry, ScoringEntry, ScoringLog
from .rule import RuleVerdict, verdict, z_scores


@dataclass(frozen=True, slots=True)
class ScorerConfig:
    threshold: float = 0.5  # probability at or above which a record goes to review
    top_reasons: int = 3


@dataclass(frozen=True, slots=True)
class Score:
    record_id: str
    model_version: str
    probability: float
    flagged: bool
    reasons: tuple[Reason, ...]  # empty unless flagged (exact contributions are costly)
    rule: RuleVerdict


@dataclass(frozen=True, slots=True)
class ReviewItem:
    record: RecordFeatures  # the record exactly as received
    score: Score


class ReviewQueue(Protocol):
    """Receives flagged records for verifiers; the vault will persist it."""

    def put(self, item: ReviewItem) -> None: ...


class Notifier(Protocol):
    """Tells the manufacturer (installation) that a record awaits review."""

    def notify(self, installation_id: str, score: Score) -> None: ...


@dataclass
class InMemoryReviewQueue:
    items: list[ReviewItem] = field(default_factory=list)

    def put(self, item: ReviewItem) -> None:
        self.items.append(item)

    def pending(self) -> list[ReviewItem]:
        return list(self.items)


@dataclass
class RecordingNotifier:
    sent: list[tuple[str, str]] = field(default_factory=list)  # (installation_id, record_id)

    def notify(self, installation_id: str, score: Score) -> None:
        self.sent.append((installation_id, score.record_id))


class Scorer:
    def __init__(
        self,
        model: LoadedModel | None = None,
        config: ScorerConfig | None = None,
        queue: ReviewQueue | None = None,
        notifier: Notifier | None = None,
        log: ScoringLog | None = None,
        lookup: Lookup | None = None,
    ) -> None:
        self.model = model or ModelRegistry().load()
        self.config = config or ScorerConfig()
        self.queue = queue
        self.notifier = notifier
        self.log = log
        self.lookup = lookup or build_lookup()

    def probabilities(self, columns: Columns) -> np.ndarray[tuple[int], np.dtype[np.float32]]:
        """Fast path without reasons or routing (bulk re-scoring, drift, benchmarks)."""
        return self.model.booster.predict(feature_matrix(columns, self.lookup))

    def score(self, record: RecordFeatures) -> Score:
        return self.score_batch([record])[0]

    def score_batch(self, records: Sequence[RecordFeatures]) -> list[Score]:
        if not records:
            return []
        cols = columns_from_records(records, self.lookup)
        x = feature_matrix(cols, self.lookup)
        p = self.model.booster.predict(x)
        z = z_scores(cols, self.lookup)
        flagged = p >= self.config.threshold
        idx = np.flatnonzero(flagged)
        contribs = self.model.booster.contributions(x[idx]) if len(idx) else None
        why: dict[int, tuple[Reason, ...]] = {}
        if contribs is not None:
            for k, i in enumerate(idx):
                why[int(i)] = reasons(
                    contribs[k], x[i], int(cols.cell[i]), self.lookup, self.config.top_reasons
                )
        out: list[Score] = []
        for n, r in enumerate(records):
            rule = verdict(
                float(z[n]), r.see_direct, float(self.lookup.direct_centre[cols.cell[n]])
            )
            out.append(
                Score(
                    r.record_id,
                    self.model.version,
                    float(p[n]),
                    bool(flagged[n]),
                    why.get(n, ()),
                    rule,
                )
            )
        self._route(records, out)
        return out

    def _route(self, records: Sequence[RecordFeatures], scores: list[Score]) -> None:
        if self.log is not None:
            self.log.append(
                [
                    ScoringEntry(
                        s.record_id,
                        s.model_version,
                        s.probability,
                        self.config.threshold,
                        s.flagged,
                        s.rule.flagged,
                    )
                    for s in scores
                ]
            )
        for r, s in zip(records, scores, strict=True):
            if not s.flagged:
                continue
            if self.queue is not None:
                self.queue.put(ReviewItem(r, s))
            if self.notifier is not None:
                self.notifier.notify(r.installation_id, s)
