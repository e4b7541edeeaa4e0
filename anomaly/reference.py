"""Reference bands per production route and country, read from the vendored extract.

Every figure here comes from ``data/reference_extract.json`` (generated from ``../shared/reference``
by :mod:`cbamhub.anomaly.extract`) or, where the reference has no figure, from
``data/configured_gaps.json`` which is marked as project configuration.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True, slots=True)
class Band:
    """A plausibility band for a figure, with where it comes from."""

    low: float
    high: float
    source: str

    @property
    def centre(self) -> float:
        return (self.low + self.high) / 2

    @property
    def sigma(self) -> float:
        """The band read as centre ± 2σ (about 95 % of honest reports): our assumption, not a source."""
        return (self.high - self.low) / 4


@dataclass(frozen=True, slots=True)
class Route:
    """A product and production route the scorer knows, with its reference bands."""

    key: str
    sector: str
    cn: str
    label: str
    direct: Band | None  # None: country-specific, see RouteTable.direct_band
    electricity: Band | None  # None: implied per country by the default indirect value
    has_precursors: bool


@dataclass(frozen=True, slots=True)
class Country:
    name: str
    grid_ef: Band


SECTORS = ("Cement", "Fertilisers", "Iron and steel", "Aluminium", "Hydrogen")


@cache
def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA_DIR / name).read_text(encoding="utf-8"))
    return data


class RouteTable:
    """Lookups of reference bands; built once from the vendored files."""

    def __init__(self) -> None:
        ext = _load("reference_extract.json")
        gaps = _load("configured_gaps.json")
        ets = ext["eu_ets_benchmarks"]["values"]
        ets_src = "EU ETS 2021–25 benchmark, " + ext["eu_ets_benchmarks"]["source"]
        bands = ext["bands"]
        self._defaults: dict[str, dict[str, dict[str, Any]]] = ext["default_values"]["values"]
        self._fallback: str = ext["default_values"]["fallback_country"]
        self._default_src: str = ext["default_values"]["source"]
        el_gap = gaps["electricity_mwh_per_t"]
        gap_src = "PROJECT CONFIGURATION (gap in reference)"

        def band(key: str, floor: float | None = None, floor_src: str = "") -> Band:
            lo, hi = bands[key]["values"]
            if floor is None:
                return Band(lo, hi, f"{bands[key]['row']}: {bands[key]['source']}")
            return Band(
                floor, hi, f"{floor_src}; upper {bands[key]['row']}: {bands[key]['source']}"
            )

        def gap(key: str) -> Band:
            v = float(el_gap[key])
            return Band(v * 0.8, v * 1.2, gap_src)

        self.routes: dict[str, Route] = {
            r.key: r
            for r in (
                Route("grey_clinker", "Cement", "2523 10 00", "grey clinker (route A)", None, None, False),
                Route("ammonia", "Fertilisers", "28141000", "anhydrous ammonia", None, None, False),
                Route("bf_bof", "Iron and steel", "7208", "blast furnace / basic oxygen steel",
                      band("bf_bof_direct"), gap("bf_bof"), True),
                Route("scrap_eaf", "Iron and steel", "7208", "scrap electric-arc steel",
                      band("scrap_eaf_total", ets["EAF carbon steel"], ets_src), gap("scrap_eaf"), True),
                Route("primary_al", "Aluminium", "7601", "primary aluminium (route K)",
                      band("primary_al_direct"), band("primary_al_electricity"), False),
                Route("secondary_al", "Aluminium", "7601", "secondary aluminium (route L)",
                      band("secondary_al_direct"), gap("secondary_al"), True),
                Route("hydrogen_smr", "Hydrogen", "2804 10 00", "hydrogen by steam reforming",
                      band("hydrogen_smr_direct"), gap("hydrogen_smr"), False),
            )
        }  # fmt: skip
        self._ets_floor = {
            "grey_clinker": (ets["grey clinker"], ets_src),
            "ammonia": (ets["ammonia"], ets_src),
        }
        self.countries: dict[str, Country] = {
            name: Country(name, Band(lo, hi, ext["grid_ef"]["source"]))
            for name, (lo, hi) in ext["grid_ef"]["values"].items()
        }

    def _default_row(self, route: Route, country: str) -> dict[str, Any]:
        rows = self._defaults.get(country, {})
        row = rows.get(route.cn) or self._defaults[self._fallback][route.cn]
        return row

    def direct_band(self, route_key: str, country: str) -> Band:
        """Direct SEE band: route band, or EU ETS floor up to the country's default value."""
        route = self.routes[route_key]
        if route.direct is not None:
            return route.direct
        floor, src = self._ets_floor[route_key]
        d = float(self._default_row(route, country)["d"])
        return Band(floor, d, f"{src}; upper: {country} default value, {self._default_src}")

    def electricity_band(self, route_key: str, country: str) -> Band:
        """Electricity MWh/t: route band, or the country's default indirect value / grid EF."""
        route = self.routes[route_key]
        if route.electricity is not None:
            return route.electricity
        i = float(self._default_row(route, country)["i"])
        ef = self.countries[country].grid_ef.centre
        v = i / ef
        return Band(v * 0.8, v * 1.2, f"implied: {country} default indirect {i} / grid EF {ef:.3f}")

    def expected_indirect(self, route_key: str, country: str) -> float:
        """Expected indirect SEE = reference electricity × the country's reference grid EF."""
        return (
            self.electricity_band(route_key, country).centre
            * self.countries[country].grid_ef.centre
        )


@cache
def route_table() -> RouteTable:
    return RouteTable()
