"""CBAM certificate price rule (Impl. Reg. (EU) 2025/2548).

WHY: the price depends on the date - in 2026 one price per calendar quarter (volume-weighted average
of EU ETS auction clearing prices of the quarter), applying to goods imported in that quarter; from
2027 one price per calendar week, published on the Monday after and in force from the Tuesday until
the next publication. Prices are rule figures (``certificate_price.2026-Q1`` = EUR 75.36, CONFIRMED);
missing ones raise FigureMissing so a cost is never computed from a guessed price.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from .rulebook import Figure, RuleVersion

__all__ = ["certificate_price", "price_key"]


def price_key(day: date) -> str:
    """Rule key of the certificate price that applies on ``day``."""
    if day.year < 2026:
        raise ValueError("CBAM certificates are priced from 2026 (definitive period)")
    if day.year == 2026:
        return f"certificate_price.{day.year}-Q{(day.month - 1) // 3 + 1}"
    # Weekly: the price of calendar week W is published Monday of W+1 and applies Tuesday of W+1
    # through Monday of W+2. So on a Monday the price in force is that of the week two weeks back.
    back = 2 if day.weekday() == 0 else 1
    week_of_price = day - timedelta(weeks=back)
    iso = week_of_price.isocalendar()
    return f"certificate_price.{iso.year}-W{iso.week:02d}"


def certificate_price(rules: RuleVersion, day: date) -> tuple[Decimal, Figure]:
    """EUR per certificate (1 certificate = 1 tCO2e, Art. 3(24)) in force for goods imported on ``day``."""
    fig = rules.figure(price_key(day))
    if not isinstance(fig.value, Decimal):
        raise TypeError(f"{fig.key} is not a number")
    return fig.value, fig
