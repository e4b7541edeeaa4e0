from __future__ import annotations

import pytest
from cbamhub.anomaly.features import Lookup, build_lookup
from cbamhub.anomaly.registry import LoadedModel, ModelRegistry
from cbamhub.anomaly.synthetic import LabelledSet, generate
from cbamhub.anomaly.train import HELDOUT_SEED_OFFSET


@pytest.fixture(scope="session")
def lookup() -> Lookup:
    return build_lookup()


@pytest.fixture(scope="session")
def model() -> LoadedModel:
    return ModelRegistry().load()


@pytest.fixture(scope="session")
def heldout(model: LoadedModel, lookup: Lookup) -> LabelledSet:
    """The committed model's own held-out set (same seed as in its metadata)."""
    seed = int(model.metadata["seed"]) + HELDOUT_SEED_OFFSET
    return generate(int(model.metadata["n_heldout"]), seed, lookup)
