from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from cbamhub.anomaly.drift import heldout_check, precision_warnings
from cbamhub.anomaly.features import Lookup, feature_matrix
from cbamhub.anomaly.record import with_copy_counts
from cbamhub.anomaly.registry import InMemoryScoringLog, JsonlScoringLog, LoadedModel
from cbamhub.anomaly.scoring import (
    InMemoryReviewQueue,
    RecordingNotifier,
    Scorer,
    ScorerConfig,
)
from cbamhub.anomaly.synthetic import AnomalyKind, LabelledSet, generate, to_records

# Which quantity the top reason must name for each injected single-cause anomaly.
EXPECTED_QUANTITY = {
    AnomalyKind.UNIT_ERROR: {"direct", "history"},  # 1000x the norm, and 1000x last year's report
    AnomalyKind.MISSING_INDIRECT: {"indirect"},
    AnomalyKind.IMPLAUSIBLY_LOW: {"direct"},
    AnomalyKind.MASS_BALANCE: {"precursors"},
    AnomalyKind.COPY: {"copies"},
    AnomalyKind.SUDDEN_DROP: {"history"},
}


@pytest.fixture(scope="module")
def sample(lookup: Lookup) -> LabelledSet:
    return generate(3_000, 4242, lookup)


def test_explanations_name_the_injected_cause(
    model: LoadedModel, lookup: Lookup, sample: LabelledSet
) -> None:
    scorer = Scorer(model, lookup=lookup)
    for kind, expected in EXPECTED_QUANTITY.items():
        rows = np.flatnonzero(sample.kind == kind)[:40]
        scores = [s for s in scorer.score_batch(to_records(sample, lookup, rows)) if s.flagged]
        assert len(scores) >= 0.8 * len(rows), kind
        right = sum(s.reasons[0].quantity in expected for s in scores)
        assert right >= 0.9 * len(scores), (kind, [s.reasons[0].feature for s in scores])


def test_reason_text_for_missing_indirect(
    model: LoadedModel, lookup: Lookup, sample: LabelledSet
) -> None:
    i = np.flatnonzero(sample.kind == AnomalyKind.MISSING_INDIRECT)[0]
    s = Scorer(model, lookup=lookup).score(to_records(sample, lookup, [i])[0])
    assert s.flagged
    text = s.reasons[0].text
    assert text.startswith("indirect emissions 0.00 tCO2e/t for ")
    assert f"{lookup.expected_indirect[sample.columns.cell[i]]:.2f} per reference" in text


def test_routing_never_changes_or_drops_records(
    model: LoadedModel, lookup: Lookup, sample: LabelledSet
) -> None:
    records = to_records(sample, lookup, range(300))
    before = list(records)
    queue, notifier, log = InMemoryReviewQueue(), RecordingNotifier(), InMemoryScoringLog()
    scorer = Scorer(model, ScorerConfig(threshold=0.5), queue, notifier, log, lookup)
    scores = scorer.score_batch(records)
    assert records == before
    assert [s.record_id for s in scores] == [r.record_id for r in records]
    flagged = [s.record_id for s in scores if s.flagged]
    assert 0 < len(flagged) < len(records)
    assert [it.record.record_id for it in queue.pending()] == flagged
    assert all(
        it.record is r
        for it in queue.pending()
        for r in records
        if r.record_id == it.record.record_id
    )
    assert [rid for _, rid in notifier.sent] == flagged
    assert all(not s.reasons for s in scores if not s.flagged)
    assert log.versions_for(records[0].record_id) == [model.version]


def test_threshold_comes_from_configuration(
    model: LoadedModel, lookup: Lookup, sample: LabelledSet
) -> None:
    records = to_records(sample, lookup, range(200))
    strict = sum(
        s.flagged
        for s in Scorer(model, ScorerConfig(threshold=0.999), lookup=lookup).score_batch(records)
    )
    loose = sum(
        s.flagged
        for s in Scorer(model, ScorerConfig(threshold=0.01), lookup=lookup).score_batch(records)
    )
    assert strict < loose


def test_single_record_path_equals_batch(
    model: LoadedModel, lookup: Lookup, sample: LabelledSet
) -> None:
    records = to_records(sample, lookup, range(50))
    scorer = Scorer(model, lookup=lookup)
    batch = scorer.score_batch(records)
    single = [scorer.score(r) for r in records]
    assert [s.probability for s in single] == pytest.approx(
        [s.probability for s in batch], abs=1e-6
    )
    fast = scorer.probabilities(sample.columns)[:50]
    assert [s.probability for s in batch] == pytest.approx(list(fast), abs=1e-6)


def test_statistical_rule_is_reported_separately(
    model: LoadedModel, lookup: Lookup, sample: LabelledSet
) -> None:
    scorer = Scorer(model, lookup=lookup)
    i = np.flatnonzero(sample.kind == AnomalyKind.NORMAL)[0]
    r = to_records(sample, lookup, [i])[0]
    centre = float(lookup.direct_centre[sample.columns.cell[i]])
    sigma = float(lookup.direct_sigma[sample.columns.cell[i]])
    assert not scorer.score(replace(r, see_direct=centre + 2.9 * sigma)).rule.flagged
    s = scorer.score(replace(r, see_direct=centre - 3.1 * sigma))
    assert s.rule.flagged and s.rule.z_direct == pytest.approx(-3.1)
    # the rule misses what the model catches: a copy at a normal level
    j = np.flatnonzero(sample.kind == AnomalyKind.COPY)[0]
    c = scorer.score(to_records(sample, lookup, [j])[0])
    assert c.flagged and not c.rule.flagged


def test_copy_counts_across_installations(lookup: Lookup, sample: LabelledSet) -> None:
    a, b = to_records(sample, lookup, [0, 1])
    b = replace(
        b,
        installation_id="other",
        route=a.route,
        see_direct=a.see_direct,
        see_indirect=a.see_indirect,
        electricity_mwh_per_t=a.electricity_mwh_per_t,
        copies=0,
    )
    same_plant = replace(a, record_id="again", copies=0)
    out = with_copy_counts([replace(a, copies=0), b, same_plant])
    assert [r.copies for r in out] == [1, 1, 1]
    assert with_copy_counts([replace(a, copies=0), same_plant])[0].copies == 0


def test_unknown_route_is_an_error_not_a_silent_score(
    model: LoadedModel, lookup: Lookup, sample: LabelledSet
) -> None:
    r = replace(to_records(sample, lookup, [0])[0], route="electrolysis")
    with pytest.raises(ValueError, match="no reference figures"):
        Scorer(model, lookup=lookup).score(r)


def test_jsonl_scoring_log(
    model: LoadedModel, lookup: Lookup, sample: LabelledSet, tmp_path: Path
) -> None:
    log = JsonlScoringLog(tmp_path / "scores.jsonl")
    Scorer(model, log=log, lookup=lookup).score_batch(to_records(sample, lookup, range(3)))
    assert log.versions_for("syn-1") == [model.version]
    assert log.versions_for("nope") == []


def test_drift_warns_when_sector_precision_drops(
    model: LoadedModel, lookup: Lookup, heldout: LabelledSet
) -> None:
    p = model.booster.predict(feature_matrix(heldout.columns, lookup))
    thr = float(model.metadata["threshold"])
    dist, warnings = heldout_check(heldout, p, thr, lookup, model.metadata)
    assert warnings == [] and {d.sector for d in dist} == {
        "Cement",
        "Fertilisers",
        "Iron and steel",
        "Aluminium",
        "Hydrogen",
    }
    # a degraded model: flag every cement record -> cement precision collapses
    sectors = lookup.sector_of_route[heldout.columns.cell // len(lookup.countries)]
    bad = np.where(sectors == 0, 1.0, p)
    _, warnings = heldout_check(heldout, bad, thr, lookup, model.metadata)
    assert [w.sector for w in warnings] == ["Cement"]
    assert precision_warnings({"X": {"precision": 1.0}}, {"X": {"precision": 0.951}}) == []
    assert len(precision_warnings({"X": {"precision": 1.0}}, {"X": {"precision": 0.949}})) == 1
