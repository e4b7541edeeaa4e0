"""Spec: regulatory figures are versioned, bitemporal rule data with source and status."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from cbamhub.jurisdictions.defaults import load_default_table
from cbamhub.jurisdictions.rulebook import FigureMissing, Rulebook, RuleError, Status, load_json
from cbamhub.jurisdictions.tools.extract_defaults import build_extract
from jur_support import LATER, RECORDED, REFERENCE, add_version


def test_every_figure_has_a_source_and_status(book: Rulebook) -> None:
    for v in book.versions:
        for f in v.figures.values():
            assert f.source.strip(), f.key
            assert isinstance(f.status, Status)


def test_phase_in_factors_as_in_reference(rules) -> None:  # cbam_facts.md §2 "Phase-in"
    expected = {
        2026: "0.975",
        2027: "0.95",
        2028: "0.90",
        2029: "0.775",
        2030: "0.515",
        2031: "0.39",
        2032: "0.265",
        2033: "0.14",
        2034: "0",
    }
    for year, v in expected.items():
        assert rules.decimal(f"cbam_factor.{year}") == Decimal(v)
    assert rules.figure("cbam_factor.2026").status is Status.CONFIRMED
    # 2027-2033 are UNCONFIRMED in the reference and must stay so.
    assert all(
        rules.figure(f"cbam_factor.{y}").status is Status.UNCONFIRMED for y in range(2027, 2034)
    )


def test_q1_2026_certificate_price_and_absent_quarters(rules) -> None:  # cbam_facts.md §2
    assert rules.decimal("certificate_price.2026-Q1") == Decimal("75.36")
    with pytest.raises(FigureMissing):
        rules.decimal("certificate_price.2026-Q2")


def test_gaps_are_absent_not_invented(rules) -> None:  # cbam_facts.md §10 items 3, 5
    for key in ("cbam_benchmark", "cscf.2026", "art9.default_carbon_price", "art9.fx"):
        assert rules.figures[key].status is Status.ABSENT
        assert rules.get(key) is None


def test_correction_recorded_later_supersedes_only_for_later_knowledge(book: Rulebook) -> None:
    fixed = add_version(book, "eu.cbam/2026.1-fix", {"certificate_price.2026-Q2": "70"})
    day = date(2026, 5, 1)
    assert fixed.at(day, RECORDED).version == "eu.cbam/2026.1"
    assert fixed.at(day, LATER).version == "eu.cbam/2026.1-fix"
    assert fixed.at(day, LATER).decimal("certificate_price.2026-Q2") == Decimal(70)
    with pytest.raises(FigureMissing):  # what the hub knew before the correction stays reproducible
        fixed.at(day, RECORDED).decimal("certificate_price.2026-Q2")


def test_valid_time_selects_version_by_import_date(book: Rulebook) -> None:
    mid = add_version(
        book, "eu.cbam/2026.2", {"de_minimis.threshold_t": "60"}, valid_from=date(2026, 7, 1)
    )
    assert mid.at(date(2026, 6, 30), LATER).version == "eu.cbam/2026.1"
    assert mid.at(date(2026, 7, 1), LATER).version == "eu.cbam/2026.2"


def test_nothing_known_before_first_record(book: Rulebook) -> None:
    with pytest.raises(FigureMissing):
        book.at(date(2026, 3, 1), datetime(2025, 1, 1, tzinfo=UTC))
    with pytest.raises(FigureMissing):
        book.at(date(2025, 12, 31), RECORDED)  # definitive period starts 1 Jan 2026


def test_duplicate_version_and_simultaneous_overlap_rejected(book: Rulebook) -> None:
    with pytest.raises(RuleError):
        add_version(book, "eu.cbam/2026.1", {})
    twice = add_version(add_version(book, "a", {}), "b", {})
    with pytest.raises(RuleError):
        twice.at(date(2026, 3, 1), LATER)


def test_vendored_extract_is_small_and_stamped() -> None:
    doc = load_json("default_values_2025_2621.json")
    assert doc["status"] == "UNCONFIRMED"
    assert len(doc["provenance"]["source_sha256"]) == 64
    # The reference file holds 120 sheets including "Other Countries and Territories" (code ZZ).
    assert len(doc["countries"]) == 120 and "ZZ" in doc["countries"]
    assert load_default_table().lookup("ZZ", "72011000").fallback


@pytest.mark.skipif(
    not (REFERENCE / "default_values_2025_2621.json").exists(), reason="no ../shared"
)
def test_vendored_extract_matches_the_reference_file() -> None:
    src = REFERENCE / "default_values_2025_2621.json"
    assert load_json("default_values_2025_2621.json")["provenance"]["source_sha256"] == (
        hashlib.sha256(src.read_bytes()).hexdigest()
    )
    regenerated = build_extract(src)
    assert regenerated["countries"].keys() == load_json(src.name)["countries"].keys()
    # Row-by-row: every figure of the source, exactly as written (Decimal compare, no float noise).
    table = load_default_table()
    raw = json.loads(src.read_text("utf-8"), parse_float=Decimal, parse_int=Decimal)
    n = 0
    for name, rows in raw.items():
        code = build_extract.__globals__["COUNTRY_CODES"][name]
        got = table.rows(code)
        assert len(got) == len(rows)
        for r, g in zip(rows, got, strict=True):
            assert (g.cn, g.direct, g.total, g.marked_up) == (
                r["cn"].replace(" ", ""),
                r["d"],
                r["t"],
                (r["m26"], r["m27"], r["m28"]),
            )
            assert g.indirect == r["i"]
            n += 1
    assert n == 10932  # cbam_facts.md §4: 10,932 rows
