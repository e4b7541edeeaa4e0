"""Train the anomaly model: ``python -m cbamhub.anomaly.train --seed 7 --out anomaly/models``.

Writes ``<out>/anomaly-<version>.ubj`` and ``<out>/anomaly-<version>.json`` (version, seed,
feature names, training-data hash, held-out metrics, reference extract hash). The seed fixes the
synthetic data and the trees, so the script reproduces the committed artefact.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .features import FEATURE_NAMES, build_lookup, feature_matrix
from .metrics import evaluate
from .reference import DATA_DIR
from .synthetic import SPREAD, generate
from .xgb import PARAMS, Booster

MODELS_DIR = Path(__file__).parent / "models"
HELDOUT_SEED_OFFSET = 1_000_003  # the held-out set never shares a seed with training
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True, slots=True)
class TrainResult:
    booster: Booster
    metadata: dict[str, Any]
    seconds: float


def heldout(seed: int, n: int = 40_000) -> Any:
    return generate(n, seed + HELDOUT_SEED_OFFSET)


def train(seed: int, n: int = 100_000, rounds: int = 200, n_heldout: int = 40_000) -> TrainResult:
    lookup = build_lookup()
    data = generate(n, seed, lookup)
    t0 = time.perf_counter()
    booster = Booster.train(feature_matrix(data.columns, lookup), data.label, seed, rounds)
    seconds = time.perf_counter() - t0
    test = generate(n_heldout, seed + HELDOUT_SEED_OFFSET, lookup)
    scores = booster.predict(feature_matrix(test.columns, lookup))
    extract_sha = hashlib.sha256((DATA_DIR / "reference_extract.json").read_bytes()).hexdigest()
    meta: dict[str, Any] = {
        "seed": seed,
        "n_train": n,
        "n_heldout": n_heldout,
        "heldout_seed": seed + HELDOUT_SEED_OFFSET,
        "rounds": rounds,
        "params": PARAMS,
        "feature_names": list(FEATURE_NAMES),
        "training_data_sha256": data.digest(),
        "reference_extract_sha256": extract_sha,
        "spread": SPREAD,
        "threshold": DEFAULT_THRESHOLD,
        "heldout_metrics": evaluate(test, scores, DEFAULT_THRESHOLD, lookup),
    }
    return TrainResult(booster, meta, seconds)


def write(result: TrainResult, out: Path) -> Path:
    """Save model and metadata; the version is derived from the model bytes, so equal models share it."""
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "_tmp.ubj"
    result.booster.save(tmp)
    version = "1." + hashlib.sha256(tmp.read_bytes()).hexdigest()[:12]
    model_path = out / f"anomaly-{version}.ubj"
    tmp.replace(model_path)
    meta = {"version": version, "model_file": model_path.name, **result.metadata}
    meta_path = out / f"anomaly-{version}.json"
    meta_path.write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return meta_path


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", type=Path, default=MODELS_DIR)
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--rounds", type=int, default=200)
    a = p.parse_args(argv)
    r = train(a.seed, a.n, a.rounds)
    path = write(r, a.out)
    print(f"trained in {r.seconds:.2f} s; wrote {path}")
    print(json.dumps(r.metadata["heldout_metrics"]["overall"]))


if __name__ == "__main__":
    main()
