"""The vendored Annex I extract: provenance, the parser's grammar, and agreement with the reference."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cbamhub.vault.record_model import annex_i
from cbamhub.vault.tools import extract_annex_i

VENDORED = Path(__file__).resolve().parents[2] / "vault" / "data" / "annex_i.json"
REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "cbam_facts.md"


@pytest.mark.skipif(not REFERENCE.exists(), reason="../shared/reference is not present")
def test_vendored_extract_matches_the_reference() -> None:
    assert VENDORED.read_text("utf-8") == extract_annex_i.dump(
        extract_annex_i.build_extract(REFERENCE)
    )


def test_extract_carries_provenance_and_status() -> None:
    data = json.loads(VENDORED.read_text("utf-8"))
    assert data["status"] == "UNCONFIRMED"
    assert data["provenance"]["source_file"] == "cbam_facts.md"
    assert len(data["provenance"]["section_sha256"]) == 64
    names = [s["sector"] for s in data["sectors"]]
    assert names == [
        "Cement",
        "Electricity",
        "Fertilisers",
        "Iron & steel",
        "Aluminium",
        "Hydrogen",
    ]
    steel = data["sectors"][3]
    assert steel["exclusions_status"] == "UNCONFIRMED"


def test_cell_grammar() -> None:
    included, excluded = extract_annex_i.parse_cell(
        "2601 12 00 (sinter); Ch. 72 except 7202 2x (FeSi), 7202 30 00 (FeSiMn), 7204 (scrap) "
        "[UNCONFIRMED exclusions]; i.e. includes 7201 pig iron; plus 7301, 7303 00"
    )
    assert included == ["26011200", "72", "7301", "730300"]
    assert excluded == ["72022", "72023000", "7204"]
    included, excluded = extract_annex_i.parse_cell(
        "2814 (ammonia: 2814 10 00 anhydrous, 2814 20 00 aqueous) CO2; 3105 (mixed) except 3105 60 00"
    )
    assert included == ["2814", "3105"]
    assert excluded == ["31056000"]


def test_loader_answers_scope_and_indirect_questions() -> None:
    scope = annex_i()
    assert scope.status == "UNCONFIRMED"
    sector = scope.sector_of("72085120")
    assert sector is not None and sector.name == "Iron & steel"
    assert scope.sector_of("72022100") is None  # ferro-silicon, excluded
    assert scope.sector_of("84715000") is None
    assert scope.indirect_counts("25231000")  # cement
    assert scope.indirect_counts("31021010")  # fertilisers
    assert scope.indirect_counts("26011200")  # pellets (reference: likely not in Annex II)
    assert not scope.indirect_counts("72085120")
    assert not scope.indirect_counts("76011000")
    assert not scope.indirect_counts("28041000")
    assert not scope.indirect_counts("27160000")
    assert not scope.indirect_counts("84715000")


def test_generator_writes_the_target(tmp_path: Path) -> None:
    if not REFERENCE.exists():
        pytest.skip("../shared/reference is not present")
    target = tmp_path / "annex_i.json"
    assert extract_annex_i.main([str(REFERENCE), str(target)]) == 0
    assert target.read_text("utf-8") == VENDORED.read_text("utf-8")
