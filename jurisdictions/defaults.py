"""Country-specific default values with their year's mark-up (Impl. Reg. (EU) 2025/2621).

WHY: Art. 7(2) CBAM Reg. falls back to default values where actual emissions cannot be adequately
determined; 2025/2621 publishes them per country of origin, with "Other Countries and Territories" as
fallback (Annex IV pt 4.1 as amended by 2025/2083), and the marked-up totals DV26/DV27/DV28+ that the
declarant must use. The table is vendored as a compact extract (tools/extract_defaults.py) and every
figure in it is UNCONFIRMED (third-party parse of the Commission spreadsheet).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from .rulebook import FigureMissing, load_json

__all__ = ["OTHER_COUNTRIES", "DefaultValue", "DefaultValueTable", "load_default_table"]

OTHER_COUNTRIES = "ZZ"
_YEAR_COLUMN = {2026: "m26", 2027: "m27"}  # 2028 and later: m28 (the "2028+" column)


@dataclass(frozen=True, slots=True)
class DefaultValue:
    """One row of the 2025/2621 annex. ``indirect`` is None where indirect emissions are not applicable."""

    country: str  # ISO 3166-1 alpha-2, or "ZZ" for the fallback sheet
    cn: str  # as in the annex: 4, 6 or 8 digits, no spaces
    description: str
    sector: str
    direct: Decimal
    indirect: Decimal | None
    total: (
        Decimal | None
    )  # None where the source row is incomplete (2 rows: CL 7306 11 00, TW 7218)
    marked_up: tuple[Decimal | None, Decimal | None, Decimal | None]  # DV2026, DV2027, DV2028+
    route: str | None
    indirect_applicable: bool
    fallback: bool  # True when taken from the "Other Countries and Territories" sheet

    def total_with_markup(self, year: int) -> Decimal:
        """The default total the declarant uses for goods imported in ``year`` (mark-up included)."""
        if year < 2026:
            raise FigureMissing(f"2025/2621 default values apply from 2026, not {year}")
        v = self.marked_up[min(year, 2028) - 2026]
        if v is None:
            raise FigureMissing(
                f"2025/2621 source row {self.country}/{self.cn} has no marked-up default for {year}"
            )
        return v

    def markup_factor(self, year: int) -> Decimal:
        """DV_year / total: the mark-up factor implied by the table (1.10/1.20/1.30, fertilisers 1.01)."""
        if self.total is None:
            raise FigureMissing(f"2025/2621 source row {self.country}/{self.cn} has no total")
        return self.total_with_markup(year) / self.total


def _dec(v: Any) -> Decimal | None:
    return None if v is None else Decimal(v)


class DefaultValueTable:
    """Lookup by (origin country, CN code, production route): the longest CN prefix in the annex wins."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.provenance: dict[str, Any] = dict(doc["provenance"])
        self.status: str = str(doc["status"])
        self.legal_source: str = str(doc["legal_source"])
        descs: list[str] = [str(d) for d in doc["descriptions"]]
        self._rows: dict[str, dict[str, list[DefaultValue]]] = {}
        for code, entry in doc["countries"].items():
            by_cn: dict[str, list[DefaultValue]] = {}
            for cn, di, sector, d, i, t, m26, m27, m28, rt, ia in entry["rows"]:
                by_cn.setdefault(cn, []).append(
                    DefaultValue(
                        country=code,
                        cn=cn,
                        description=descs[int(di)],
                        sector=sector,
                        direct=Decimal(d),
                        indirect=None if i is None else Decimal(i),
                        total=_dec(t),
                        marked_up=(_dec(m26), _dec(m27), _dec(m28)),
                        route=rt,
                        indirect_applicable=bool(ia),
                        fallback=code == OTHER_COUNTRIES,
                    )
                )
            self._rows[code] = by_cn
        self._cache: dict[tuple[str, str, str | None], DefaultValue] = {}

    def countries(self) -> list[str]:
        return sorted(self._rows)

    def rows(self, country: str) -> list[DefaultValue]:
        return [r for rs in self._rows.get(country, {}).values() for r in rs]

    def _match(self, country: str, cn: str, route: str | None) -> DefaultValue | None:
        by_cn = self._rows.get(country)
        if not by_cn:
            return None
        for n in (8, 6, 4):
            rows = by_cn.get(cn[:n])
            if not rows:
                continue
            if route is not None:
                exact = [r for r in rows if r.route == route]
                if exact:
                    return exact[0]
            if len(rows) == 1:
                return rows[0]
            # Several routes (grey/white clinker) and none given: the conservative (highest) value,
            # as field-notes.md asks for missing upstream data.
            return max(rows, key=lambda r: r.total or Decimal(0))
        return None

    def lookup(self, country: str, cn: str, route: str | None = None) -> DefaultValue:
        """Default value for goods of ``cn`` from ``country``; falls back to the "Other" sheet."""
        key = (country, cn, route)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        found = self._match(country, cn, route) or self._match(OTHER_COUNTRIES, cn, route)
        if found is None:
            raise FigureMissing(f"no 2025/2621 default value for CN {cn} from {country}")
        self._cache[key] = found
        return found


@cache
def load_default_table(name: str = "default_values_2025_2621.json") -> DefaultValueTable:
    return DefaultValueTable(load_json(name))
