"""Spec: embedded emissions, de minimis, phase-in, Art. 9 deduction, certificates and their cost."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from cbamhub.jurisdictions.art9 import CarbonPricePaid
from cbamhub.jurisdictions.declaration import ImportLine, declare
from cbamhub.jurisdictions.defaults import load_default_table
from cbamhub.jurisdictions.recalc import recalculate
from cbamhub.jurisdictions.see import SEE, AttributedDirect, Precursor, see_complex, see_simple
from hypothesis import given, settings
from hypothesis import strategies as st
from jur_support import LATER, RECORDED, add_version

FEB = date(2026, 2, 10)


def line(cn: str, mass: str, origin: str = "CN", day: date = FEB, **kw: object) -> ImportLine:
    return ImportLine(f"L-{cn}-{mass}-{day}", cn, D(mass), origin, day, **kw)  # type: ignore[arg-type]


# --- default values (cbam_facts.md §4, Impl. Reg. 2025/2621) ------------------------------------


def test_default_values_golden_rows() -> None:  # cbam_facts.md §4 table
    t = load_default_table()
    al = t.lookup("CN", "76011000")
    assert (al.direct, al.indirect, al.total) == (D("3"), None, D("3"))
    assert [al.total_with_markup(y) for y in (2026, 2027, 2028, 2031)] == [
        D("3.3"),
        D("3.6"),
        D("3.9"),
        D("3.9"),
    ]
    nh3 = t.lookup("CN", "28141000")
    assert nh3.total_with_markup(2027) == D("4.4036")  # fertilisers: flat 1 % mark-up
    assert t.lookup("IN", "72083900").total == D("4.28")
    clinker = t.lookup("CN", "25231000", route="A")
    assert (clinker.description, clinker.total_with_markup(2026)) == ("Grey clinker", D("1.529"))


def test_unknown_origin_falls_back_to_other_countries() -> None:  # §4 "Other countries" row
    pig = load_default_table().lookup("BT", "72011000")
    assert pig.fallback and pig.total == D("3.48") and pig.total_with_markup(2026) == D("3.828")


def test_markup_schedule_holds_for_the_reference_rows() -> None:  # cbam_facts.md §4 observations
    t = load_default_table()
    for country in ("CN", "IN", "TR", "UA", "RU", "VN", "EG", "KZ"):
        for r in t.rows(country):
            if r.total is None or r.total == 0 or None in r.marked_up:
                continue
            expect = (
                (D("1.01"),) * 3 if r.sector == "Fertilisers" else (D("1.1"), D("1.2"), D("1.3"))
            )
            for y, f in zip((2026, 2027, 2028), expect, strict=True):
                assert abs(r.total_with_markup(y) - r.total * f) <= D("0.00015"), (
                    country,
                    r.cn,
                    y,
                )  # 4-dp rounding of T and DV


# --- SEE of simple and complex goods (Annex IV pts 2-3; cbam_facts.md §3) -------------------------


def test_simple_good_direct_and_indirect_separately() -> None:
    attr = AttributedDirect(D("1000"), heat_imported=D("50"), heat_exported=D("20"))
    see = see_simple(attr.value, D("400") * D("0.5"), D("500"))  # 400 MWh at 0.5 t/MWh
    assert see == SEE(D("2.06"), D("0.4"))


def test_precursor_chain_steel_from_pig_iron() -> None:
    """Hand-checked: 1,000 t crude steel from 900 t pig iron whose default is China 7201 (1.66 t/t)."""
    pig_default = load_default_table().lookup("CN", "72011000")
    pig = Precursor("pig iron", D("900"), SEE(pig_default.direct, D(0)))
    steel = see_complex(D("200"), D("0"), D("1000"), [pig])
    assert steel.direct == (D("200") + D("900") * D("1.66")) / D("1000") == D("1.694")
    # a product rolled from that steel is complex again: 1.02 t steel per t of coil, 30 t own emissions
    coil = see_complex(D("30"), D("0"), D("1000"), [Precursor("steel", D("1020"), steel)])
    assert coil.direct == D("0.03") + D("1.02") * D("1.694")


# --- the annual declaration -------------------------------------------------------------------


def test_default_with_markup_when_no_actual_data(book) -> None:
    d = declare("EORI1", 2026, [line("76011000", "100")], book, known_at=RECORDED)
    (ln,) = d.lines
    assert ln.basis == "default" and ln.default_value == "CN/7601/K"
    assert ln.embedded == D("330")  # 100 t x DV2026 3.3 (China 7601, §4)
    assert ln.embedded_indirect == 0  # aluminium: Annex II, direct only
    assert ln.certificates == D("330")  # no CBAM benchmark in the reference: FAA not applied
    assert ln.cost_eur == D("330") * D("75.36")  # Q1 2026 price, §2
    assert any("2025/2620" in g for g in d.gaps) and not d.complete


def test_indirect_counts_for_cement_outside_annex_ii(book) -> None:
    d = declare("EORI1", 2026, [line("25232900", "100")], book, known_at=RECORDED)
    (ln,) = d.lines  # China grey Portland cement: d 1.35, i 0.07, t 1.42, DV26 1.562 (§4)
    assert ln.embedded == D("156.2")
    assert ln.embedded_direct == D("100") * D("1.35") * D("1.562") / D("1.42")
    assert ln.embedded_indirect > 0


def test_actual_data_is_used_and_indirect_dropped_for_steel(book) -> None:
    d = declare(
        "E",
        2026,
        [line("72083900", "60", actual_see=SEE(D("1.9"), D("0.3")))],
        book,
        known_at=RECORDED,
    )
    assert d.lines[0].basis == "actual" and d.lines[0].embedded == D("114")


@pytest.mark.parametrize(
    ("masses", "exempt"),
    [(["50"], True), (["25", "25"], True), (["50.000001"], False), (["30", "20.5"], False)],
)
def test_de_minimis_50_t_inclusive(book, masses: list[str], exempt: bool) -> None:
    """Art. 2(3a) + Annex VII: <= 50 t per importer per calendar year is exempt (cbam_facts.md §2)."""
    lines = [line("72083900", m, day=date(2026, 1 + i, 5)) for i, m in enumerate(masses)]
    d = declare("E", 2026, lines, book, known_at=RECORDED)
    assert d.de_minimis.exempt is exempt
    assert (d.certificates == 0) is exempt
    assert d.embedded_emissions > 0  # emissions are still computed for the record


def test_hydrogen_and_electricity_outside_threshold_and_always_liable(book) -> None:
    h2 = line("28041000", "10")
    steel = line("72083900", "45")
    d = declare("E", 2026, [h2, steel], book, known_at=RECORDED)
    assert d.de_minimis.counted_mass_t == D("45") and d.de_minimis.exempt
    by = {ln.cn: ln for ln in d.lines}
    assert by["28041000"].certificates == D("10") * D("29.304")  # CN hydrogen DV26 (§4)
    assert by["72083900"].certificates == 0


def test_electricity_import_needs_actual_or_official_factor(book) -> None:
    """2716: no country default EF in the reference (§3) -> a gap, or the declarant's actual EF."""
    d = declare("E", 2026, [line("27160000", "1000", origin="RS")], book, known_at=RECORDED)
    assert d.lines[0].basis == "gap" and d.lines[0].certificates == 0
    ok = declare(
        "E",
        2026,
        [line("27160000", "1000", origin="RS", actual_see=SEE(D("0.8"), D("0")))],
        book,
        known_at=RECORDED,
    )
    assert ok.lines[0].embedded == D("800") and ok.lines[0].embedded_indirect == 0


def test_swiss_origin_exempt_annex_iii(book) -> None:  # Art. 2(6), §2 legal anchors
    d = declare("E", 2026, [line("76011000", "500", origin="CH")], book, known_at=RECORDED)
    assert d.lines[0].basis == "exempt-origin" and d.certificates == 0


def test_free_allocation_adjustment_worked_illustration(book) -> None:
    """cbam_facts.md §2: SEE 1.2, benchmark 1.0, 2026 factor 97.5 % -> 0.225 t/t (CSCF ignored)."""
    b = add_version(
        book,
        "t/bm",
        {"cbam_benchmark.A.7208": "1.0"},
        why="benchmark of the cbamreports.com worked illustration",
    )
    d = declare(
        "E", 2026, [line("72083900", "1000", actual_see=SEE(D("1.2"), D(0)))], b, known_at=LATER
    )
    assert d.lines[0].certificates == D("225")
    assert any("CSCF" in g for g in d.gaps)


def test_carbon_price_in_another_currency(book) -> None:
    ev = CarbonPricePaid(
        "China national ETS",
        "CN",
        2026,
        "CNY",
        D("66.86"),
        D("0.5"),
        rebate_per_tco2e=D("6.86"),
        certified_by="verifier-1",
    )
    ln = line("72083900", "1000", actual_see=SEE(D("2"), D(0)), carbon_price=ev)
    d = declare("E", 2026, [ln], book, known_at=RECORDED)
    assert d.lines[0].deduction_certificates == 0 and any("fx.CNY.2026" in g for g in d.gaps)
    b = add_version(book, "t/fx", {"fx.CNY.2026": "0.12"}, why="hypothetical yearly average rate")
    d = declare("E", 2026, [ln], b, known_at=LATER)
    # 1000 t x 0.5 t/t priced x (66.86 - 6.86) CNY x 0.12 EUR/CNY = 3600 EUR -> / 75.36 certificates
    assert d.lines[0].deduction_eur == D("3600")
    assert d.lines[0].certificates == D("2000") - D("3600") / D("75.36")


def test_default_values_cannot_use_actual_carbon_price(book) -> None:  # draft Art. 9 act, §2
    ev = CarbonPricePaid("x", "CN", 2026, "EUR", D("50"), D("1"), certified_by="v")
    d = declare("E", 2026, [line("72083900", "100", carbon_price=ev)], book, known_at=RECORDED)
    assert d.lines[0].deduction_certificates == 0 and any(
        "default carbon price" in g for g in d.gaps
    )


def test_uncertified_carbon_price_is_not_deducted(book) -> None:  # Art. 9(2)
    ev = CarbonPricePaid("x", "CN", 2026, "EUR", D("50"), D("1"))
    d = declare(
        "E",
        2026,
        [line("72083900", "100", actual_see=SEE(D(2), D(0)), carbon_price=ev)],
        book,
        known_at=RECORDED,
    )
    assert d.lines[0].deduction_certificates == 0


def test_cost_unknown_when_quarter_price_not_published(book) -> None:
    d = declare("E", 2026, [line("76011000", "100", day=date(2026, 5, 2))], book, known_at=RECORDED)
    assert d.cost_eur is None and d.lines[0].certificates == D("330")


def test_rule_change_mid_year_applies_by_import_date(book) -> None:
    b = add_version(book, "t/jul", {"cbam_benchmark.A.7208": "1.0"}, valid_from=date(2026, 7, 1))
    a = SEE(D("1.2"), D(0))
    lines = [
        line("72083900", "100", day=date(2026, 6, 30), actual_see=a),
        line("72083900", "100", day=date(2026, 7, 1), actual_see=a),
    ]
    d = declare("E", 2026, lines, b, known_at=LATER)
    assert [ln.rule_version for ln in d.lines] == ["eu.cbam/2026.1", "t/jul"]
    assert [ln.certificates for ln in d.lines] == [D("120"), D("22.5")]


def test_recalculation_under_corrected_rule_keeps_original(book) -> None:
    fixed = add_version(
        book, "t/fix", {"cbam_benchmark.B.7601": "1.5"}, why="a corrected benchmark"
    )
    r = recalculate(
        "E",
        2026,
        [line("76011000", "100")],
        fixed,
        original_known_at=RECORDED,
        corrected_known_at=LATER,
    )
    assert r.original.certificates == D("330")  # as filed, reproducible
    assert r.corrected.certificates == D("330") - D("100") * D("1.5") * D("0.975")
    assert r.certificates_delta == -D("146.25")
    assert (
        r.lines[0].rule_version_before == "eu.cbam/2026.1"
        and r.lines[0].rule_version_after == "t/fix"
    )


def test_commitments_listed_once(book) -> None:
    lines = [
        line("76011000", "1", commitment="c1"),
        line("76011000", "2", commitment="c1"),
        line("72083900", "3", commitment="c2"),
    ]
    assert declare("E", 2026, lines, book, known_at=RECORDED).commitments == ("c1", "c2")


# --- properties -------------------------------------------------------------------------------

masses = st.decimals(min_value=D("0.001"), max_value=D("100000"), places=3)


@settings(max_examples=60, deadline=None)
@given(m=masses, k=st.integers(min_value=1, max_value=50))
def test_embedded_emissions_scale_linearly_with_mass(book, m: D, k: int) -> None:
    one = declare("E", 2026, [line("25232900", str(m))], book, known_at=RECORDED)
    many = declare("E", 2026, [line("25232900", str(m * k))], book, known_at=RECORDED)
    assert many.embedded_emissions == one.embedded_emissions * k


@settings(max_examples=80, deadline=None)
@given(
    m=masses,
    see=st.decimals(min_value=D(0), max_value=D(30), places=4),
    priced=st.decimals(min_value=D(0), max_value=D(40), places=4),
    price=st.decimals(min_value=D(0), max_value=D(1000), places=2),
    rebate=st.decimals(min_value=D(0), max_value=D(1000), places=2),
)
def test_deduction_never_exceeds_obligation_and_certificates_never_negative(
    book, m: D, see: D, priced: D, price: D, rebate: D
) -> None:
    ev = CarbonPricePaid(
        "s", "KR", 2026, "EUR", price, priced, rebate_per_tco2e=rebate, certified_by="v"
    )
    d = declare(
        "E",
        2026,
        [line("72083900", str(m), actual_see=SEE(see, D(0)), carbon_price=ev)],
        book,
        known_at=RECORDED,
    )
    ln = d.lines[0]
    assert 0 <= ln.deduction_certificates <= ln.embedded - ln.faa
    assert ln.certificates >= 0 and d.certificates >= 0
