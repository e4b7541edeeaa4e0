"""One small interface for scoring a batch, in process or on a remote scoring service.

The hub scores at ingest through ``BatchScorer`` only, so where the model runs is configuration:
``InProcessScorer`` wraps ``Scorer``; ``remote.RemoteScorer`` calls the
AnomalyScoring gRPC service. Both return the same ``Score`` values for the same records. The call
is async because the remote one waits on the network; callers must not hold a database lock
across it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .record import RecordFeatures
from .registry import ModelRegistry
from .scoring import Score, Scorer, ScorerConfig


class ScoringUnavailable(RuntimeError):
    """The scorer could not answer (unreachable, too slow, refused the batch); the message says
    which scorer and why, in words that go into an "unscored" row as they are."""


class BatchScorer(Protocol):
    @property
    def description(self) -> str:
        """Where scoring runs, for logs and reasons: "in process" or "remote scorer host:port"."""
        ...

    async def score_batch(self, records: Sequence[RecordFeatures]) -> list[Score]:
        """One score per record, in order; raises (ScoringUnavailable for remote failures)."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class InProcessScorer:
    """The model in this process: CPU only, no waiting."""

    scorer: Scorer

    @property
    def description(self) -> str:
        return "in process"

    async def score_batch(self, records: Sequence[RecordFeatures]) -> list[Score]:
        return self.scorer.score_batch(records)

    async def aclose(self) -> None:
        return None


def load_scorer(model_dir: Path | None, version: str | None, threshold: float) -> Scorer:
    """A Scorer over the registry's model ``version`` (default: the folder's active one)."""
    registry = ModelRegistry(model_dir) if model_dir is not None else ModelRegistry()
    return Scorer(model=registry.load(version), config=ScorerConfig(threshold=threshold))
