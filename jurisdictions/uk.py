"""UK CBAM as a second destination from the same import lines ("enter once, comply everywhere").

WHY separate from the EU engine: the UK CBAM (Finance Act 2026 Part 5, s.149; from 1 Jan 2027) is a
tax, not certificates: liability = embodied tCO2e (direct + indirect) x sectoral domestic price, where
the price for quarter Q is the average UK ETS auction clearing price of the quarter before Q, reduced
by the sector's baseline free allocation percentage x the adjustment factor of the year. Electricity is
out of scope. None of those prices or percentages is in the reference yet (rules/uk_cbam.json marks
them ABSENT), so each line reports its gap until a rule version records them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from .declaration import ImportLine
from .rulebook import Rulebook, RuleVersion
from .scope import normalise_cn, sector_of

__all__ = ["UkLine", "sectoral_price", "uk_liability"]

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class UkLine:
    line_id: str
    sector: str
    embedded_t: Decimal | None
    rate_gbp: Decimal | None
    liability_gbp: Decimal | None
    gaps: tuple[str, ...]
    commitment: str | None


def _previous_quarter(day: date) -> str:
    q = (day.month - 1) // 3 + 1
    return f"{day.year - 1}-Q4" if q == 1 else f"{day.year}-Q{q - 1}"


def sectoral_price(rules: RuleVersion, sector: str, day: date) -> tuple[Decimal | None, list[str]]:
    """FA 2026 s.149(2)-(3): step 1 auction average of the previous quarter, step 2 FA reduction."""
    gaps: list[str] = []
    key = f"uk_ets_auction_avg.{_previous_quarter(day)}"
    auction = rules.get(key)
    fa = rules.get(f"free_allocation_pct.{sector}.{day.year}")
    adj = rules.get(f"fa_adjustment.{day.year}")
    if auction is None:
        gaps.append(f"{key} absent (FA 2026 s.149 step 1)")
    if fa is None or adj is None:
        gaps.append(
            f"free_allocation_pct.{sector}.{day.year} / fa_adjustment.{day.year} absent (s.149 step 2)"
        )
    if gaps or auction is None or fa is None or adj is None:
        return None, gaps
    return auction.value * (1 - fa.value * adj.value), gaps


def uk_liability(
    lines: Sequence[ImportLine],
    book: Rulebook,
    eu_sectors: RuleVersion,
    *,
    known_at: datetime | None = None,
) -> list[UkLine]:
    """UK CBAM per line; ``eu_sectors`` supplies the CN -> sector map (UK code lists are ABSENT)."""
    known = known_at or datetime.now(UTC)
    out: list[UkLine] = []
    for ln in lines:
        rules = book.at(ln.import_date, known)
        cn = normalise_cn(ln.cn)
        sector = sector_of(cn, eu_sectors)
        if sector not in rules.strings("scope.sectors"):
            out.append(
                UkLine(
                    ln.line_id, sector, None, None, ZERO, ("outside UK CBAM scope",), ln.commitment
                )
            )
            continue
        gaps: list[str] = []
        embedded = None
        if ln.actual_see is not None:  # UK counts direct + indirect
            embedded = ln.net_mass * ln.actual_see.total
        else:
            gaps.append("UK default values absent from the reference")
        rate, g = sectoral_price(rules, sector, ln.import_date)
        gaps += g
        liab = embedded * rate if embedded is not None and rate is not None else None
        out.append(UkLine(ln.line_id, sector, embedded, rate, liab, tuple(gaps), ln.commitment))
    return out
