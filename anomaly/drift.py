"""Drift monitoring: score distribution per sector, and a warning when a sector's held-out precision
falls more than 5 % (relative) below the precision recorded when the model was trained."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .features import Lookup
from .metrics import evaluate, sector_of_rows
from .reference import SECTORS
from .synthetic import LabelledSet

MAX_PRECISION_DROP = 0.05


@dataclass(frozen=True, slots=True)
class SectorDistribution:
    sector: str
    n: int
    flagged_share: float
    quantiles: tuple[float, float, float, float, float]  # p10, p50, p90, p99, max


@dataclass(frozen=True, slots=True)
class DriftWarning:
    sector: str
    baseline_precision: float
    precision: float
    text: str


def score_distribution(
    scores: npt.NDArray[Any], sectors: npt.NDArray[np.int64], threshold: float
) -> list[SectorDistribution]:
    out = []
    for s, name in enumerate(SECTORS):
        v = scores[sectors == s]
        if len(v) == 0:
            continue
        q = np.quantile(v, [0.1, 0.5, 0.9, 0.99, 1.0])
        out.append(
            SectorDistribution(
                name, len(v), float((v >= threshold).mean()), (q[0], q[1], q[2], q[3], q[4])
            )
        )
    return out


def precision_warnings(baseline: dict[str, Any], current: dict[str, Any]) -> list[DriftWarning]:
    """Compare per-sector precision (``evaluate(...)["sector"]`` shapes)."""
    out = []
    for sector, base in baseline.items():
        now = current.get(sector)
        if now is None:
            continue
        b, c = float(base["precision"]), float(now["precision"])
        if b > 0 and (b - c) / b > MAX_PRECISION_DROP:
            out.append(
                DriftWarning(
                    sector,
                    b,
                    c,
                    f"{sector}: precision {c:.3f} on the held-out set, down "
                    f"{100 * (b - c) / b:.1f} % from {b:.3f} at training (limit 5 %)",
                )
            )
    return out


def heldout_check(
    data: LabelledSet,
    scores: npt.NDArray[Any],
    threshold: float,
    lookup: Lookup,
    metadata: dict[str, Any],
) -> tuple[list[SectorDistribution], list[DriftWarning]]:
    """Distribution per sector of ``scores`` and precision warnings against the model's metadata."""
    current = evaluate(data, scores, threshold, lookup)["sector"]
    dist = score_distribution(scores, sector_of_rows(data, lookup), threshold)
    return dist, precision_warnings(metadata["heldout_metrics"]["sector"], current)
