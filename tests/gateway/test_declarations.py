"""Spec: GraphQL declarationPreview and costScenarios on a tiny schema; typed BAD_USER_INPUT errors.

The record-backed line (recordId) needs a hub; here only its refusal without a router is checked.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal as D
from typing import Any

import pytest
import strawberry
from cbamhub.gateway.declarations import DeclarationQuery
from strawberry.tools import merge_types

schema = strawberry.Schema(query=merge_types("Query", (DeclarationQuery,)))

PREVIEW = """query($lines: [ImportLineInput!]!, $year: Int!) {
  declarationPreview(lines: $lines, year: $year) {
    year ruleVersions embeddedEmissions certificates costEur complete gaps commitments
    deMinimis { countedNetMass threshold exempt }
    lines { lineId cnCode basis seeDirect seeIndirect embedded certificates costEur
            deductionEur evidenceCommitment defaultValue }
  }
}"""

SCENARIOS = """query($input: ScenarioInput!) {
  costScenarios(input: $input) {
    years startPrice certificates percentiles { percentile costEur } chartSvg
  }
}"""

C1, C2, C3 = "a1" * 32, "b2" * 32, "c3" * 32
LINES: list[dict[str, Any]] = [
    # default value IN 7208 39 00 (cbam_facts.md §4: 4.28, 2026 mark-up 10 % -> 4.708 tCO2e/t)
    {"lineId": "L1", "cnCode": "7208 39 00", "netMass": "40", "origin": "IN",
     "importDate": "2026-02-10", "commitment": C1},
    {"lineId": "L2", "cnCode": "76011000", "netMass": "20.5", "origin": "CN",
     "importDate": "2026-03-02", "seeDirect": "1.5", "seeIndirect": "0.2", "commitment": C2,
     # TEST INPUT, not a regulatory figure: a certified carbon price paid in EUR
     "carbonPrice": {"scheme": "test", "country": "CN", "year": 2026, "currency": "EUR",
                     "pricePerTco2e": "10", "pricedEmissionsPerT": "0.5",
                     "certifiedBy": "verifier", "commitment": C3}},
]  # fmt: skip


async def run(query: str, **variables: Any) -> Any:
    return await schema.execute(query, variable_values=variables, context_value={})


def codes(result: Any) -> list[str]:
    return [e.extensions.get("code") for e in result.errors or []]


async def test_preview_with_explicit_values() -> None:
    r = await run(PREVIEW, lines=LINES, year=2026)
    assert r.errors is None, r.errors
    p = r.data["declarationPreview"]
    steel, alu = p["lines"]
    assert steel["basis"] == "default" and D(steel["seeDirect"]) == D("4.708")
    assert steel["embedded"] == "188.320"  # a Decimal string, not a float
    assert alu["basis"] == "actual" and alu["seeIndirect"] == "0"  # Annex II: direct only
    assert D(alu["embedded"]) == D("30.75") and D(alu["deductionEur"]) == D("102.5")
    assert alu["evidenceCommitment"] == C3
    assert p["commitments"] == [C1, C2, C3]
    assert D(p["embeddedEmissions"]) == D("219.07")
    assert D(p["costEur"]) == sum(D(ln["costEur"]) for ln in p["lines"])
    assert p["deMinimis"] == {"countedNetMass": "60.5", "threshold": "50", "exempt": False}
    assert not p["complete"] and any("2025/2620" in g for g in p["gaps"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"netMass": "forty"}, "not a decimal"),
        ({"origin": "India"}, "alpha-2"),
        ({"cnCode": "72x"}, "CN code"),
        ({"seeDirect": "1"}, "both see_direct and see_indirect"),
        ({"importDate": "2025-12-31"}, "not in 2026"),
        ({"netMass": "-1"}, "negative net mass"),
        ({"recordId": "rec-eu-1", "seeDirect": "1", "seeIndirect": "0"}, "recordId supplies"),
        ({"recordId": "rec-eu-1", "commitment": None}, "no router"),
    ],
)
async def test_preview_bad_input(change: dict[str, Any], message: str) -> None:
    r = await run(PREVIEW, lines=[dict(LINES[0], **change)], year=2026)
    assert codes(r) == ["BAD_USER_INPUT"] and message in r.errors[0].message


async def test_preview_bad_year_and_duplicates() -> None:
    r = await run(PREVIEW, lines=LINES, year=2025)
    assert codes(r) == ["BAD_USER_INPUT"]
    r = await run(PREVIEW, lines=[LINES[0], LINES[0]], year=2026)
    assert codes(r) == ["BAD_USER_INPUT"] and "unique" in r.errors[0].message


async def test_cost_scenarios_percentiles_and_chart() -> None:
    inp = {"annualMassT": 1000, "seeActual": 1.2, "seeDefault": 3.9, "paths": 500, "seed": 1}
    r = await run(SCENARIOS, input=inp)
    assert r.errors is None, r.errors
    c = r.data["costScenarios"]
    assert c["years"] == list(range(2026, 2035))
    assert c["startPrice"] == "75.36"  # Q1 2026 certificate price (rule data, 2025/2548)
    assert [p["percentile"] for p in c["percentiles"]] == [5, 50, 95]
    p5, p50, p95 = (list(map(D, p["costEur"])) for p in c["percentiles"])
    assert all(a <= b <= x for a, b, x in zip(p5, p50, p95, strict=True))
    assert ET.fromstring(c["chartSvg"]).tag == "{http://www.w3.org/2000/svg}svg"
    again = await run(SCENARIOS, input=inp)
    assert again.data == r.data  # seeded


@pytest.mark.parametrize(
    "change",
    [{"paths": 0}, {"volatility": -1}, {"percentiles": [101]}, {"annualMassT": -5},
     {"startPrice": 0}, {"actualShareStart": 2}],
)  # fmt: skip
async def test_cost_scenarios_bad_input(change: dict[str, Any]) -> None:
    inp = {"annualMassT": 1000, "seeActual": 1.2, "seeDefault": 3.9, "paths": 10, **change}
    r = await run(SCENARIOS, input=inp)
    assert codes(r) == ["BAD_USER_INPUT"]
