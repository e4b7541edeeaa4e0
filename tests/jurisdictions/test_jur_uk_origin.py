"""Spec: UK CBAM from the same import lines; origin carbon-price evidence (cbam_facts.md §7)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest
from cbamhub.jurisdictions.declaration import ImportLine, declare
from cbamhub.jurisdictions.origin import carbon_price_evidence, load_schemes
from cbamhub.jurisdictions.rulebook import FigureMissing, load_rulebook
from cbamhub.jurisdictions.see import SEE
from cbamhub.jurisdictions.uk import uk_liability
from jur_support import RECORDED, test_figure

LATER = datetime(2027, 6, 1, tzinfo=UTC)


def test_uk_starts_2027_and_reports_absent_prices(rules) -> None:
    uk = load_rulebook("uk_cbam.json")
    with pytest.raises(FigureMissing):
        uk.at(date(2026, 12, 31), LATER)  # FA 2026: from 1 Jan 2027, no transitional phase
    ln = ImportLine(
        "u1", "72083900", D("100"), "IN", date(2027, 2, 1), actual_see=SEE(D("2"), D("0.5"))
    )
    (res,) = uk_liability([ln], uk, rules, known_at=LATER)
    assert res.embedded_t == D("250")  # UK counts direct + indirect, unlike EU for steel
    assert res.liability_gbp is None and any("2026-Q4" in g for g in res.gaps)


def test_uk_liability_mechanism_same_inputs_as_eu(rules, book) -> None:
    uk = load_rulebook("uk_cbam.json")
    v = uk.versions[0]
    figs = {
        k: test_figure(k, D(x), "hypothetical UK figures")
        for k, x in {
            "uk_ets_auction_avg.2026-Q4": "40",
            "free_allocation_pct.Iron and steel.2027": "0.5",
            "fa_adjustment.2027": "0.8",
        }.items()
    }
    uk = uk.with_version(v.revised("t/uk", LATER, figs))
    lines = [
        ImportLine(
            "u1", "72083900", D("100"), "IN", date(2027, 2, 1), actual_see=SEE(D("2"), D("0.5"))
        ),
        ImportLine(
            "u2", "27160000", D("100"), "IN", date(2027, 2, 1), actual_see=SEE(D("1"), D(0))
        ),
    ]
    a, b = uk_liability(lines, uk, rules, known_at=LATER)
    assert a.rate_gbp == D("40") * (1 - D("0.5") * D("0.8")) and a.liability_gbp == D("250") * D(
        "24"
    )
    assert b.sector == "Electricity" and b.liability_gbp == 0  # electricity excluded from UK CBAM
    eu = declare("E", 2027, lines[:1], book, known_at=LATER)  # same line, EU destination
    assert eu.lines[0].embedded == D("200")


def test_china_ets_evidence_direct_only_net_of_free_allocation(book) -> None:
    ev = carbon_price_evidence(
        "CN-ETS",
        sector="Iron and steel",
        year=2026,
        covered_emissions_t=D("200000"),
        free_allocation_t=D("180000"),
        amount_paid=D("1337200"),
        production_t=D("100000"),
        direct_see=D("2"),
        certified_by="v",
    )
    assert ev.currency == "CNY" and ev.priced_emissions_per_t == D("0.2")
    assert ev.price_per_tco2e == D("66.86")  # = 1,337,200 / 20,000; the 19 Nov 2025 CEA close (§7)
    assert load_schemes()["CN-ETS"].observations[-1][1] == D("66.86")


def test_swiss_goods_exempt_and_korea_price_absent() -> None:
    with pytest.raises(ValueError, match="outside EU CBAM"):
        carbon_price_evidence(
            "CH-ETS",
            sector="Cement",
            year=2026,
            covered_emissions_t=D(1),
            free_allocation_t=D(0),
            amount_paid=D(1),
            production_t=D(1),
            direct_see=D(1),
        )
    assert load_schemes()["KR-ETS"].observations == ()


def test_scheme_must_cover_the_sector() -> None:
    with pytest.raises(ValueError, match="Fertilisers"):
        carbon_price_evidence(
            "CN-ETS",
            sector="Fertilisers",
            year=2026,
            covered_emissions_t=D(1),
            free_allocation_t=D(0),
            amount_paid=D(1),
            production_t=D(1),
            direct_see=D(1),
        )


def test_evidence_flows_into_the_eu_declaration(book) -> None:
    ev = carbon_price_evidence(
        "CN-ETS",
        sector="Iron and steel",
        year=2026,
        covered_emissions_t=D("300"),
        free_allocation_t=D("100"),
        amount_paid=D("10000"),
        production_t=D("100"),
        direct_see=D("3"),
        rebates=D("2000"),
        certified_by="v",
    )
    assert ev.effective_price == D("40")  # (10,000 - 2,000) / 200 t priced
    ln = ImportLine(
        "x",
        "72083900",
        D("100"),
        "CN",
        date(2026, 2, 1),
        actual_see=SEE(D("3"), D(0)),
        carbon_price=ev,
    )
    d = declare("E", 2026, [ln], book, known_at=RECORDED)
    assert any("fx.CNY.2026" in g for g in d.gaps)  # the rule's exchange rate is not recorded yet
