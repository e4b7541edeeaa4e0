"""The certificate price's auction window follows jurisdictions.pricing (quarterly in 2026, weekly
from 2027, a week's price in force from the Tuesday after it); the average is volume-weighted over
ETS1 auctions that were not cancelled. Prices and volumes are TEST INPUTS."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from cbamhub.rpc.external_systems import AuctionResult
from cbamhub.rpc.price_averaging import price_window, volume_weighted_average


def test_windows() -> None:
    q4 = price_window(date(2026, 11, 23))
    assert (q4.key, q4.first, q4.last) == (
        "certificate_price.2026-Q4",
        date(2026, 10, 1),
        date(2026, 12, 31),
    )
    tuesday = price_window(date(2027, 3, 9))  # the price of ISO week 9, published Monday 8 March
    assert (tuesday.period, tuesday.first, tuesday.last) == (
        "2027-W09",
        date(2027, 3, 1),
        date(2027, 3, 7),
    )
    monday = price_window(date(2027, 3, 8))  # still week 8's price on publication day
    assert (monday.period, monday.first, monday.last) == (
        "2027-W08",
        date(2027, 2, 22),
        date(2027, 2, 28),
    )


def test_volume_weighted_average() -> None:
    window = price_window(date(2027, 3, 9))

    def a(
        day: int, price: str, volume: str, scheme: str = "ETS1", cancelled: bool = False
    ) -> AuctionResult:
        return AuctionResult(
            date(2027, 3, day), "EEX", scheme, cancelled, Decimal(price), Decimal(volume)
        )

    auctions = [
        a(1, "60", "1000"),
        a(3, "66", "3000"),
        a(4, "1", "1000000", cancelled=True),
        a(5, "1", "1000000", scheme="ETS2"),
        a(8, "1", "1000000"),  # the next week
    ]
    average = volume_weighted_average(auctions, window)
    assert average is not None
    assert (average.eur, average.auctions) == (Decimal("64.5"), 2)
    assert volume_weighted_average(auctions[2:], window) is None
