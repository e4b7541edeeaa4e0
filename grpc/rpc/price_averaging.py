"""The certificate price rule applied to auction results (Impl. Reg. (EU) 2025/2548).

Which price applies to an import date is the jurisdictions rule (`pricing.price_key`: quarterly in
2026, weekly from 2027, a week's price in force from the Tuesday after it). This module gives that
price's auction window and the volume-weighted average of the EU ETS (ETS1) auctions in it,
excluding cancelled auctions and ETS2 auctions (cbam_facts.md §2, "Auctions included"). Pure
calculation over Decimal; the feed's figures are inputs, never defaults.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from cbamhub.jurisdictions.pricing import price_key

from .external_systems import AuctionResult

KEY_PREFIX = "certificate_price."
COUNTED_SCHEME = "ETS1"


@dataclass(frozen=True)
class PriceWindow:
    key: str  # rule key, e.g. certificate_price.2026-Q1
    period: str  # "2026-Q1" or "2027-W05"
    first: date
    last: date  # inclusive


@dataclass(frozen=True)
class AveragedPrice:
    eur: Decimal
    auctions: int


def price_window(import_date: date) -> PriceWindow:
    """The auction window whose average is the price for goods imported on `import_date`."""
    key = price_key(import_date)
    period = key.removeprefix(KEY_PREFIX)
    year_text, _, part = period.partition("-")
    year = int(year_text)
    if part.startswith("Q"):
        quarter = int(part[1:])
        first = date(year, 3 * quarter - 2, 1)
        next_first = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
        return PriceWindow(key, period, first, next_first - timedelta(days=1))
    monday = date.fromisocalendar(year, int(part.removeprefix("W")), 1)
    return PriceWindow(key, period, monday, monday + timedelta(days=6))


def volume_weighted_average(
    auctions: Iterable[AuctionResult], window: PriceWindow
) -> AveragedPrice | None:
    """sum(price * volume) / sum(volume) over the window's counted auctions; None if there are none."""
    counted = [
        a
        for a in auctions
        if window.first <= a.day <= window.last
        and not a.cancelled
        and a.scheme == COUNTED_SCHEME
        and a.volume > 0
    ]
    if not counted:
        return None
    volume = sum((a.volume for a in counted), Decimal(0))
    weighted = sum((a.clearing_price_eur * a.volume for a in counted), Decimal(0))
    return AveragedPrice(weighted / volume, len(counted))
