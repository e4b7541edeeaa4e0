"""Units: canonical conversions, the classic slips (kg vs t, kWh vs MWh, g/kWh vs t/MWh), field names."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from cbamhub.vault import units
from cbamhub.vault.units import UnitError, UnitProblem, canonicalise, convert, quantity_value
from hypothesis import given
from hypothesis import strategies as st


@pytest.mark.parametrize(
    ("value", "unit", "canonical", "expected"),
    [
        (1234.5, "kWh", units.ENERGY, 1.2345),
        (2.5, "GWh", units.ENERGY, 2500.0),
        (3.6, "GJ", units.ENERGY, 1.0),
        (1500, "kg", units.MASS, 1.5),
        (2, "kilotonne", units.MASS, 2000.0),
        (7, "tonnes", units.MASS, 7.0),
        (1900, "kgCO2e/t", units.SEE_PER_TONNE, 1.9),
        (1.9, "kg CO2e / kg", units.SEE_PER_TONNE, 1.9),
        (450, "gCO2/kWh", units.EMISSION_FACTOR, 0.45),
        (0.45, "tCO2/MWh", units.EMISSION_FACTOR, 0.45),
        (600, "kWh/t", units.ELECTRICITY_INTENSITY, 0.6),
        (12_000, "kgCO2e", units.EMISSIONS, 12.0),
        (3, "MtCO2e", units.EMISSIONS, 3_000_000.0),
    ],
)
def test_conversions_to_canonical(value: float, unit: str, canonical: str, expected: float) -> None:
    assert convert(value, unit, canonical) == pytest.approx(expected, rel=1e-15)


def test_decimal_arithmetic_rounds_once() -> None:
    # 1234.5 / 1000 in binary floats is 1.2345000000000002; the vault stores the nearest float to 1.2345
    assert convert(1234.5, "kWh", units.ENERGY) == 1.2345
    assert convert(100.1, "kg", units.MASS) == 0.1001


@pytest.mark.parametrize(
    ("unit", "canonical", "fragment"),
    [
        ("kWh", units.MASS, "is an energy, not convertible to t (a mass)"),
        ("t", units.ENERGY, "is a mass, not convertible to MWh"),
        ("kgCO2e/MWh", units.SEE_PER_TONNE, "emissions per MWh, not convertible to tCO2e/t"),
        ("tCO2e", units.SEE_PER_TONNE, "an emission quantity"),
        ("m", units.MASS, "[length]"),
        ("ton", units.MASS, "short ton"),
        ("tons", units.MASS, "short tons"),
        ("mt", units.MASS, "metric tonne"),
        ("MT", units.MASS, "metric tonne"),
        ("kt", units.MASS, "knot"),
        ("mWh", units.ENERGY, "milliwatt-hour"),
        ("kwh", units.ENERGY, "kWh"),
        ("bananas", units.MASS, "unknown unit"),
        ("", units.MASS, "empty"),
        ("t/", units.MASS, "unreadable"),
    ],
)
def test_wrong_or_ambiguous_units_name_the_field(unit: str, canonical: str, fragment: str) -> None:
    with pytest.raises(UnitError) as caught:
        convert(1, unit, canonical, field="activityData.netMass")
    assert caught.value.field == "activityData.netMass"
    assert fragment in caught.value.reason
    assert str(caught.value).startswith("activityData.netMass: ")


@pytest.mark.parametrize("value", [math.inf, math.nan, "abc", True])
def test_non_finite_values_are_refused(value: object) -> None:
    with pytest.raises(UnitError, match="not a finite number|not a number"):
        quantity_value({"value": value, "unit": "t"}, units.MASS, field="x")


def test_quantity_value_shapes() -> None:
    assert quantity_value(5.0, units.MASS) == 5.0  # bare number: the field's fixed unit
    assert quantity_value({"value": 5000, "unit": "kg"}, units.MASS) == 5.0
    assert quantity_value("text", units.MASS) == "text"  # left for the model to reject
    with pytest.raises(UnitError, match="needs a 'value'"):
        quantity_value({"unit": "t"}, units.MASS, field="x")
    with pytest.raises(UnitError, match="needs a 'value'"):
        quantity_value({"value": None, "unit": "t"}, units.MASS, field="x")
    with pytest.raises(UnitError, match="only 'value' and 'unit'"):
        quantity_value({"value": 1, "unit": "t", "uncertainty": 2}, units.MASS, field="x")
    with pytest.raises(UnitError, match="must be a string"):
        quantity_value({"value": 1, "unit": 3}, units.MASS, field="x")


def test_canonicalise_converts_planned_paths_and_marks_problems() -> None:
    document = {
        "activityData": {"netMass": {"value": 2500, "unit": "kg"}},
        "precursors": [
            {"netMass": {"value": 1, "unit": "MWh"}},
            {"netMass": 3.0},
            {"netMass": {"value": 4, "unit": "t"}},
        ],
        "other": {"value": 1, "unit": "kg"},
    }
    out = canonicalise(
        document, {"activityData.netMass": units.MASS, "precursors.*.netMass": units.MASS}
    )
    assert out["activityData"]["netMass"] == 2.5
    assert isinstance(out["precursors"][0]["netMass"], UnitProblem)
    assert out["precursors"][1]["netMass"] == 3.0
    assert out["precursors"][2]["netMass"] == 4.0
    assert out["other"] == {"value": 1, "unit": "kg"}  # not in the plan: untouched
    assert document["activityData"]["netMass"] == {"value": 2500, "unit": "kg"}  # input not mutated


def test_factor_1000_hint() -> None:
    assert "factor of 1000" in units.factor_1000_hint(1.9, 1900.0, mass="netMass")
    assert "factor of 0.001" in units.factor_1000_hint(1.9, 0.0019, mass="netMass")
    assert units.factor_1000_hint(1.9, 2.5, mass="netMass") == ""
    assert units.factor_1000_hint(0.0, 2.5, mass="netMass") == ""


FINITE = st.floats(min_value=1e-9, max_value=1e12, allow_nan=False, allow_infinity=False)
PAIRS = st.sampled_from(
    [
        ("kWh", units.ENERGY),
        ("GJ", units.ENERGY),
        ("kg", units.MASS),
        ("g", units.MASS),
        ("kgCO2e", units.EMISSIONS),
        ("gCO2/kWh", units.EMISSION_FACTOR),
        ("kgCO2e/t", units.SEE_PER_TONNE),
        ("kWh/t", units.ELECTRICITY_INTENSITY),
    ]
)


@given(FINITE, PAIRS)
def test_conversion_round_trips(value: float, pair: tuple[str, str]) -> None:
    unit, canonical = pair
    there = convert(value, unit, canonical)
    back = convert(there, canonical, unit)
    assert math.isclose(back, value, rel_tol=1e-14)


@given(FINITE)
def test_kwh_to_mwh_is_exactly_a_thousandth(value: float) -> None:
    assert convert(value, "kWh", units.ENERGY) == float(Decimal(repr(value)) / 1000)
