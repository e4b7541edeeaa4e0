"""The only module that touches xgboost: training, prediction and contributions, typed at the edge."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import numpy as np
import xgboost as xgb

from .features import F32, FEATURE_NAMES

PARAMS: dict[str, Any] = {
    "objective": "binary:logistic",
    "tree_method": "hist",
    "max_depth": 6,
    "eta": 0.1,
    "subsample": 0.8,
    "colsample_bytree": 0.9,
    "eval_metric": "logloss",
    "nthread": 2,  # fixed: the same seed then gives the same trees on any machine size
}

PREDICT_THREADS = 1
"""Threads of a loaded model's predictions. Each row's score is its trees' sum in a fixed order, so
the thread count never changes a score; a second OpenMP thread only competes with the other core,
which bulk ingest and the gateway keep busy (per row: ~22 µs with 2 threads against ~2.4 with 1
while the other core was busy, ~1.2-2.4 against ~2.1 on a quiet machine; 1,000 rows, 2026-11-23)."""


class Booster:
    """A trained binary classifier over FEATURE_NAMES."""

    def __init__(self, booster: xgb.Booster) -> None:
        self._b = booster

    @classmethod
    def train(cls, x: F32, y: np.ndarray[Any, Any], seed: int, rounds: int = 200) -> Booster:
        dtrain = xgb.DMatrix(x, label=y, feature_names=list(FEATURE_NAMES), missing=np.nan)
        params = {**PARAMS, "seed": seed}
        return cls(xgb.train(params, dtrain, num_boost_round=rounds))

    @classmethod
    def load(cls, path: Path) -> Booster:
        b = xgb.Booster()
        b.load_model(str(path))
        b.set_param({"nthread": PREDICT_THREADS})
        return cls(b)

    def save(self, path: Path) -> None:
        self._b.save_model(str(path))

    def predict(self, x: F32) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Probability of an anomaly per row (fast path, no DMatrix)."""
        p = self._b.inplace_predict(x, missing=np.nan, validate_features=False)
        return cast("np.ndarray[Any, np.dtype[np.float32]]", np.asarray(p, dtype=np.float32))

    def contributions(self, x: F32) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Exact SHAP contributions (log-odds) per feature; last column is the bias. Slow: use sparingly."""
        d = xgb.DMatrix(x, feature_names=list(FEATURE_NAMES), missing=np.nan)
        c = self._b.predict(d, pred_contribs=True)
        return cast("np.ndarray[Any, np.dtype[np.float32]]", np.asarray(c, dtype=np.float32))
