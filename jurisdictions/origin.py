"""Origin-country carbon pricing: scheme data and the carbon-price-paid evidence a manufacturer attaches.

WHY: Art. 9 CBAM Reg. deducts only the price *effectively paid* for the goods' emissions, net of free
allocation and rebates, so the evidence is built from the installation's own figures (emissions covered,
free allocation received, price actually paid) - never from a market price. Scheme facts (currency,
which emissions and sectors are priced) come from ``rules/origin_carbon_prices.json``
(cbam_facts.md §7): China national ETS, UK ETS, Swiss ETS (linked -> goods exempt), Korea K-ETS.
Market observations are kept for plausibility checks only.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from .art9 import CarbonPricePaid
from .rulebook import load_json

__all__ = ["Scheme", "carbon_price_evidence", "load_schemes"]

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Scheme:
    code: str
    name: str
    country: str
    currency: str
    legal_act: str
    sectors: tuple[str, ...]
    covers: str  # "direct": only direct emissions are priced
    exempt_from_eu_cbam: bool
    observations: tuple[tuple[str, Decimal, str], ...]  # (date, price in currency, status)


@cache
def load_schemes() -> dict[str, Scheme]:
    doc: dict[str, Any] = load_json("origin_carbon_prices.json")
    out: dict[str, Scheme] = {}
    for code, s in doc["schemes"].items():
        ex = s.get("exempt_from_eu_cbam")
        out[code] = Scheme(
            code=code,
            name=str(s["name"]),
            country=str(s["country"]),
            currency=str(s["currency"]),
            legal_act=str(s["legal_act"]),
            sectors=tuple(str(x) for x in s["sectors"]["value"]),
            covers=str(s["covers"]["value"]),
            exempt_from_eu_cbam=bool(ex["value"]) if ex else False,
            observations=tuple(
                (str(o["value"]["date"]), Decimal(o["value"]["price"]), str(o["status"]))
                for o in s["observations"]
            ),
        )
    return out


def carbon_price_evidence(
    scheme_code: str,
    *,
    sector: str,
    year: int,
    covered_emissions_t: Decimal,
    free_allocation_t: Decimal,
    amount_paid: Decimal,
    production_t: Decimal,
    direct_see: Decimal,
    rebates: Decimal = ZERO,
    certified_by: str | None = None,
    commitment: str | None = None,
) -> CarbonPricePaid:
    """Evidence per tonne of product from an installation's scheme figures for ``year``.

    priced emissions = covered - free allocation (>= 0), per tonne produced, capped at the direct SEE
    when the scheme prices direct emissions only; effective price = amount paid / priced emissions;
    rebates (in currency, for the whole installation) reduce it (Art. 9(1)).
    """
    s = load_schemes()[scheme_code]
    if s.exempt_from_eu_cbam:
        raise ValueError(
            f"{s.name}: goods from {s.country} are outside EU CBAM; no deduction applies"
        )
    if sector not in s.sectors:
        raise ValueError(f"{s.name} does not price the {sector} sector (cbam_facts.md §7)")
    if production_t <= 0:
        raise ValueError("production must be positive")
    priced_total = max(ZERO, covered_emissions_t - free_allocation_t)
    per_t = priced_total / production_t
    if s.covers == "direct":
        per_t = min(per_t, direct_see)
    price = amount_paid / priced_total if priced_total > 0 else ZERO
    rebate = rebates / priced_total if priced_total > 0 else ZERO
    return CarbonPricePaid(
        scheme=s.name, country=s.country, year=year, currency=s.currency, price_per_tco2e=price,
        priced_emissions_per_t=per_t, rebate_per_tco2e=rebate, certified_by=certified_by,
        legal_act=s.legal_act, commitment=commitment,
    )  # fmt: skip
