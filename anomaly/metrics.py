"""Precision, recall and ROC AUC per anomaly kind and per sector, in plain numpy."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .features import Lookup
from .reference import SECTORS
from .synthetic import AnomalyKind, LabelledSet

Arr = npt.NDArray[Any]


@dataclass(frozen=True, slots=True)
class Metrics:
    n: int
    positives: int
    precision: float
    recall: float
    roc_auc: float


def roc_auc(y: Arr, score: Arr) -> float:
    """Mann-Whitney AUC with average ranks for ties; NaN when one class is absent."""
    y = np.asarray(y, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(score, kind="mergesort")
    s = np.asarray(score)[order]
    ranks = np.empty(len(s))
    i = 0
    while i < len(s):  # average ranks over ties
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[i : j + 1] = (i + j) / 2 + 1
        i = j + 1
    r = np.empty(len(s))
    r[order] = ranks
    return float((r[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def metrics(y: Arr, score: Arr, threshold: float) -> Metrics:
    y = np.asarray(y, dtype=bool)
    flag = np.asarray(score) >= threshold
    tp = int((flag & y).sum())
    fp = int((flag & ~y).sum())
    fn = int((~flag & y).sum())
    return Metrics(
        n=len(y),
        positives=int(y.sum()),
        precision=tp / (tp + fp) if tp + fp else float("nan"),
        recall=tp / (tp + fn) if tp + fn else float("nan"),
        roc_auc=roc_auc(y, score),
    )


def sector_of_rows(data: LabelledSet, lookup: Lookup) -> npt.NDArray[np.int64]:
    route_idx = data.columns.cell // len(lookup.countries)
    return lookup.sector_of_route[route_idx]


def evaluate(data: LabelledSet, score: Arr, threshold: float, lookup: Lookup) -> dict[str, Any]:
    """Overall, per kind (that kind against the normal records) and per sector."""
    y = data.label
    normal = data.kind == AnomalyKind.NORMAL
    out: dict[str, Any] = {
        "overall": asdict(metrics(y, score, threshold)),
        "kind": {},
        "sector": {},
    }
    for k in AnomalyKind:
        if k is AnomalyKind.NORMAL:
            continue
        sel = normal | (data.kind == k)
        out["kind"][k.name.lower()] = asdict(metrics(y[sel], score[sel], threshold))
    sector = sector_of_rows(data, lookup)
    for s, name in enumerate(SECTORS):
        sel = sector == s
        if sel.any():
            out["sector"][name] = asdict(metrics(y[sel], score[sel], threshold))
    return out
