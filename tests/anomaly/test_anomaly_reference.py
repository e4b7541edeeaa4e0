from __future__ import annotations

import json
from pathlib import Path

import pytest
from cbamhub.anomaly import extract
from cbamhub.anomaly.reference import route_table

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "reference"


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/reference not present (fresh clone)")
def test_vendored_extract_matches_the_shared_reference() -> None:
    committed = json.loads(extract.EXTRACT_PATH.read_text(encoding="utf-8"))
    assert extract.figures_only(committed) == extract.figures_only(extract.build_extract(SHARED))


def test_bands_come_from_the_extract() -> None:
    t = route_table()
    # cbam_facts.md §8: EU ETS grey clinker benchmark 0.693 floors the band; China's 2025/2621
    # default for grey clinker (direct 1.35) tops it.
    b = t.direct_band("grey_clinker", "China")
    assert (b.low, b.high) == (0.693, 1.35)
    # §8: primary aluminium 13–15 MWh/t; Türkiye falls back to the 'Other countries' clinker row.
    assert (t.routes["primary_al"].electricity.low, t.routes["primary_al"].electricity.high) == (
        13.0,
        15.0,
    )  # type: ignore[union-attr]
    assert t.direct_band("grey_clinker", "Türkiye").high == 1.37
    assert t.countries["India"].grid_ef.low == 0.7


def test_extract_refuses_an_ambiguous_source(tmp_path: Path) -> None:
    (tmp_path / extract.FACTS).write_text("| Hydrogen | SMR\n| Hydrogen | SMR\n", encoding="utf-8")
    (tmp_path / extract.DEFAULTS).write_text("{}", encoding="utf-8")
    with pytest.raises(ValueError, match="expected one row"):
        extract.build_extract(tmp_path)
