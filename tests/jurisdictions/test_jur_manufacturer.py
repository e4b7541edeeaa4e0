"""Spec: metering to product footprint (field-notes.md, aluminium extrusion plant ~20,000 t/yr)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from cbamhub.jurisdictions.manufacturer import FuelUse, Meter, ProductionLine, line_footprints
from cbamhub.jurisdictions.see import SEE, Precursor

# Hand-checked plant (inputs are illustrative, not regulatory figures): two presses, 12,000 t + 8,000 t.
LINES = [
    ProductionLine("P1", "profile 6060", "76042100", D("12000"),
                   (Precursor("billet", D("12240"), SEE(D("0.4"), D(0))),)),
    ProductionLine("P2", "profile 6082", "76042100", D("8000")),
]  # fmt: skip
METERS = [
    Meter("M-P1", D("6000000"), "P1", D("0.5"), "grid factor supplied by operator"),
    Meter("M-P2", D("2000000"), "P2", D("0.1"), "PPA contract 7, GOs cancelled"),
    Meter("M-AIR", D("1000000"), None, D("0.5"), "grid factor supplied by operator"),
]
GAS = [
    FuelUse(None, "natural gas", D("1000"), D("0.036"), D("56.1"), D("1"), "operator, MRR tier 2")
]


def test_allocation_by_production_and_see_per_line() -> None:
    p1, p2 = line_footprints(LINES, METERS, GAS)
    # P1: 6,000 MWh own + 60 % of 1,000 MWh shared = 6,600 MWh; indirect 3,000 + 300 = 3,300 t
    assert p1.electricity_mwh == D("6600") and p1.indirect_t == D("3300")
    # P2: 2,000 MWh at 0.1 + 400 MWh shared at 0.5 = 400 t
    assert p2.electricity_mwh == D("2400") and p2.indirect_t == D("400")
    # gas: 1000 x 0.036 TJ x 56.1 t/TJ = 2,019.6 t split 60/40
    assert p1.direct_t == D("1211.76") and p2.direct_t + p1.direct_t == D("2019.6")
    # P1 is complex: + 12,240 t billet x 0.4
    assert p1.see.direct == (D("1211.76") + D("4896")) / D("12000")
    assert p1.see.indirect == D("0.275")


def test_every_step_is_recorded_and_reproducible() -> None:
    p1 = line_footprints(LINES, METERS, GAS)[0]
    names = [s.step for s in p1.audit]
    assert names[0] == "production share" and names[-1] == "SEE (Annex IV pt 3)"
    assert {"electricity M-P1", "electricity M-AIR", "fuel natural gas"} <= set(names)
    assert any(s.inputs.get("ef_source") == "grid factor supplied by operator" for s in p1.audit)
    assert sum(D(s.result) for s in p1.audit if s.step.startswith("electricity")) == p1.indirect_t


def test_all_metered_electricity_is_allocated() -> None:
    fps = line_footprints(LINES, METERS, GAS)
    assert sum(f.electricity_mwh for f in fps) == sum(m.kwh for m in METERS) / 1000


def test_meter_on_unknown_line_rejected() -> None:
    with pytest.raises(ValueError):
        line_footprints(LINES, [Meter("X", D(1), "P9", D(1), "s")])
