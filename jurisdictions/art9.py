"""Article 9 CBAM Reg.: reduction for the carbon price effectively paid in the country of origin.

WHY these rules: Art. 9(1) counts only the price *effectively paid*, net of any rebate or other
compensation; Art. 9(2) needs documentation certified by an independent person; Art. 9(4) converts
into euro at the yearly average exchange rate (a rule figure ``fx.<CUR>.<year>``, EUR per unit of
currency; none is in the reference yet). The draft Art. 9 act (13 May 2026, UNCONFIRMED) forces the
Commission's default carbon price when embedded emissions are default values (rule flag
``art9.default_values_require_default_carbon_price``). The deduction is capped so it never exceeds
the obligation it reduces, and it is never negative.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .rulebook import RuleVersion

__all__ = ["CarbonPricePaid", "Deduction", "deduction_for_line", "fx_to_eur"]

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class CarbonPricePaid:
    """Evidence of a carbon price paid for the emissions of one good (per tonne of that good).

    ``priced_emissions_per_t``: tCO2e per tonne of good on which the price was actually paid, i.e.
    emissions covered by the scheme net of free allocation received in the country of origin.
    ``price_per_tco2e`` and ``rebate_per_tco2e`` are in ``currency`` (ISO 4217).
    """

    scheme: str
    country: str
    year: int
    currency: str
    price_per_tco2e: Decimal
    priced_emissions_per_t: Decimal
    rebate_per_tco2e: Decimal = ZERO
    certified_by: str | None = None  # Art. 9(2): independent person
    legal_act: str = ""
    commitment: str | None = None  # ledger commitment of the evidence record

    @property
    def effective_price(self) -> Decimal:
        """Art. 9(1): the price net of rebates and compensation, never below zero."""
        return max(ZERO, self.price_per_tco2e - self.rebate_per_tco2e)


@dataclass(frozen=True, slots=True)
class Deduction:
    eur: Decimal
    certificates: Decimal
    fx_rate: Decimal | None
    gap: str | None = None


def fx_to_eur(rules: RuleVersion, currency: str, year: int) -> Decimal | None:
    """Yearly average rate (EUR per unit of ``currency``) from the rule data; None if not recorded."""
    if currency == "EUR":
        return Decimal(1)
    fig = rules.get(f"fx.{currency}.{year}")
    return fig.value if fig is not None and isinstance(fig.value, Decimal) else None


def deduction_for_line(
    rules: RuleVersion,
    evidence: CarbonPricePaid | None,
    *,
    mass_t: Decimal,
    counted_embedded: Decimal,
    obligation_certificates: Decimal,
    certificate_price_eur: Decimal | None,
    uses_default_values: bool,
) -> Deduction:
    """Certificates by which the line's obligation is reduced; 0 <= result <= obligation."""
    none = Deduction(ZERO, ZERO, None)
    if evidence is None or obligation_certificates <= 0:
        return none
    if uses_default_values and rules.flag("art9.default_values_require_default_carbon_price"):
        return Deduction(
            ZERO,
            ZERO,
            None,
            "default values: the Commission's default carbon price "
            "applies (draft Art. 9 act) and is not in the rule data",
        )
    if evidence.certified_by is None:
        return Deduction(
            ZERO, ZERO, None, "carbon price not certified by an independent person (Art. 9(2))"
        )
    rate = fx_to_eur(rules, evidence.currency, evidence.year)
    if rate is None:
        return Deduction(
            ZERO,
            ZERO,
            None,
            f"no yearly average exchange rate fx.{evidence.currency}."
            f"{evidence.year} in the rule data (Art. 9(4))",
        )
    if certificate_price_eur is None or certificate_price_eur <= 0:
        return Deduction(ZERO, ZERO, rate, "no certificate price to convert the carbon price paid")
    priced = min(mass_t * evidence.priced_emissions_per_t, counted_embedded)
    eur = priced * evidence.effective_price * rate
    certs = min(eur / certificate_price_eur, obligation_certificates)
    return Deduction(eur, max(ZERO, certs), rate)
