"""Which scorer route and reference country a record belongs to — project configuration, not reference.

A hub record names its route only by a free code (``productionMethod.methodId``, or its installation's
``production_routes``) and its country by ISO code; the reference maps neither to the scorer's routes.
``data/route_mapping.json`` is that mapping, made explicit. ``resolve`` returns either the route and
country to score under or the reason the record cannot be scored — never a guess.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from .reference import DATA_DIR, route_table

MAPPING_FILE = DATA_DIR / "route_mapping.json"


@dataclass(frozen=True, slots=True)
class Mapped:
    route: str  # a key of reference.route_table().routes
    country: str  # a reference country name, e.g. "India"
    code: str  # the route code that decided it


@dataclass(frozen=True, slots=True)
class Unmapped:
    reason: str


@dataclass(frozen=True, slots=True)
class _Sector:
    name: str
    cn_prefixes: tuple[str, ...]
    routes: dict[str, str]  # upper-cased route code -> scorer route


@dataclass(frozen=True, slots=True)
class RouteMapping:
    countries: dict[str, str]
    sectors: tuple[_Sector, ...]

    @classmethod
    def load(cls, path: Path = MAPPING_FILE) -> RouteMapping:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        known = route_table()
        sectors = []
        for name, s in data["sectors"].items():
            routes = {str(code).upper(): str(route) for code, route in s["routes"].items()}
            for route in routes.values():
                if route not in known.routes or known.routes[route].sector != name:
                    raise ValueError(f"{path}: {name} maps to {route!r}, not a {name} route")
            sectors.append(_Sector(name, tuple(s["cn_prefixes"]), routes))
        countries = {str(k): str(v) for k, v in data["countries"].items()}
        for iso, name in countries.items():
            if name not in known.countries:
                raise ValueError(f"{path}: {iso} maps to {name!r}, which has no grid factor")
        return cls(countries, tuple(sectors))

    def resolve(self, country_code: str, cn_code: str, codes: Sequence[str]) -> Mapped | Unmapped:
        """The route of the first of ``codes`` (record's own first) that maps in the CN's sector."""
        sector = next(
            (s for s in self.sectors if any(cn_code.startswith(p) for p in s.cn_prefixes)), None
        )
        if sector is None:
            return Unmapped(f"CN {cn_code} is not a good the scorer has reference bands for")
        country = self.countries.get(country_code)
        if country is None:
            return Unmapped(f"no grid emission factor for country {country_code} in the reference")
        for code in codes:
            route = sector.routes.get(code.upper())
            if route is not None:
                return Mapped(route, country, code)
        tried = ", ".join(repr(c) for c in codes) or "none"
        return Unmapped(
            f"no configured {sector.name} route for the route code(s) {tried} "
            f"(anomaly/data/route_mapping.json)"
        )


@cache
def route_mapping() -> RouteMapping:
    """The configured mapping, read once (it is immutable)."""
    return RouteMapping.load()
