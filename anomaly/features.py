"""Feature matrix of records against the reference bands: one vectorised path for one or many.

Ratios to the reference (not raw values) carry most of the signal, so one model serves every
route and country; raw values stay in so unit slips of 1,000× remain visible in absolute terms.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .record import RecordFeatures
from .reference import SECTORS, RouteTable, route_table

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

FEATURE_NAMES: tuple[str, ...] = (
    "sector",
    "route",
    "grid_ef",
    "see_direct",
    "see_indirect",
    "electricity_mwh_per_t",
    "electricity_ef",
    "direct_ratio",
    "indirect_ratio",
    "electricity_ratio",
    "ef_ratio",
    "indirect_residual",
    "precursor_count",
    "precursor_share_sum",
    "direct_change",
    "total_change",
    "technology_change",
    "copies",
    "tier",
    "methodology",
)
N_FEATURES = len(FEATURE_NAMES)

# What each feature is about, in the verifier's terms; explanations and tests group by this.
QUANTITY: dict[str, str] = {
    "sector": "product",
    "route": "product",
    "grid_ef": "country",
    "see_direct": "direct",
    "direct_ratio": "direct",
    "see_indirect": "indirect",
    "indirect_ratio": "indirect",
    "indirect_residual": "indirect",
    "electricity_mwh_per_t": "electricity",
    "electricity_ratio": "electricity",
    "electricity_ef": "emission factor",
    "ef_ratio": "emission factor",
    "precursor_count": "precursors",
    "precursor_share_sum": "precursors",
    "direct_change": "history",
    "total_change": "history",
    "technology_change": "history",
    "copies": "copies",
    "tier": "data quality",
    "methodology": "methodology",
}


@dataclass(frozen=True, slots=True)
class Lookup:
    """Reference figures per (route, country) cell, as arrays indexed by the cell number."""

    route_keys: tuple[str, ...]
    countries: tuple[str, ...]
    sector_of_route: I64
    direct_centre: F64
    direct_sigma: F64
    electricity_centre: F64
    grid_ef: F64
    expected_indirect: F64

    def cell(self, route: str, country: str) -> int:
        try:
            return self.route_keys.index(route) * len(self.countries) + self.countries.index(
                country
            )
        except ValueError:
            raise ValueError(f"no reference figures for route {route!r} in {country!r}") from None


def build_lookup(table: RouteTable | None = None) -> Lookup:
    t = table or route_table()
    routes = tuple(t.routes)
    countries = tuple(t.countries)
    dc, ds, ec, ge, ei = [], [], [], [], []
    for r in routes:
        for c in countries:
            db = t.direct_band(r, c)
            dc.append(db.centre)
            ds.append(db.sigma)
            ec.append(t.electricity_band(r, c).centre)
            ge.append(t.countries[c].grid_ef.centre)
            ei.append(t.expected_indirect(r, c))
    return Lookup(
        routes,
        countries,
        np.array([SECTORS.index(t.routes[r].sector) for r in routes], dtype=np.int64),
        np.array(dc),
        np.array(ds),
        np.array(ec),
        np.array(ge),
        np.array(ei),
    )


@dataclass(frozen=True, slots=True)
class Columns:
    """Records as columns; the synthetic generator produces these directly."""

    cell: I64
    see_direct: F64
    see_indirect: F64
    electricity: F64
    electricity_ef: F64
    precursor_count: F64
    precursor_share_sum: F64
    previous_direct: F64  # NaN: no history
    previous_indirect: F64
    technology_change: F64
    copies: F64
    tier: F64
    methodology: F64

    def __len__(self) -> int:
        return len(self.cell)


def columns_from_records(records: Sequence[RecordFeatures], lookup: Lookup) -> Columns:
    nan = math.nan
    rows = [
        (
            lookup.cell(r.route, r.country),
            r.see_direct,
            r.see_indirect,
            r.electricity_mwh_per_t,
            r.electricity_ef,
            len(r.precursor_shares),
            sum(r.precursor_shares),
            nan if r.previous_see_direct is None else r.previous_see_direct,
            nan if r.previous_see_indirect is None else r.previous_see_indirect,
            float(r.technology_change),
            r.copies,
            int(r.tier),
            int(r.methodology),
        )
        for r in records
    ]
    a = np.array(rows, dtype=np.float64).reshape(len(rows), 13)
    return Columns(a[:, 0].astype(np.int64), *(a[:, i] for i in range(1, 13)))


def feature_matrix(c: Columns, lookup: Lookup) -> F32:
    """The model's input, one row per record, in FEATURE_NAMES order."""
    n_countries = len(lookup.countries)
    route_idx = c.cell // n_countries
    exp_ind = lookup.expected_indirect[c.cell]
    with np.errstate(divide="ignore", invalid="ignore"):
        prev_total = c.previous_direct + c.previous_indirect
        cols = (
            lookup.sector_of_route[route_idx],
            route_idx,
            lookup.grid_ef[c.cell],
            c.see_direct,
            c.see_indirect,
            c.electricity,
            c.electricity_ef,
            c.see_direct / lookup.direct_centre[c.cell],
            c.see_indirect / exp_ind,
            c.electricity / lookup.electricity_centre[c.cell],
            c.electricity_ef / lookup.grid_ef[c.cell],
            (c.see_indirect - c.electricity * c.electricity_ef) / exp_ind,
            c.precursor_count,
            np.where(c.precursor_count > 0, c.precursor_share_sum, np.nan),
            c.see_direct / c.previous_direct,
            (c.see_direct + c.see_indirect) / prev_total,
            c.technology_change,
            c.copies,
            c.tier,
            c.methodology,
        )
    m = np.empty((len(c), N_FEATURES), dtype=np.float32)
    for j, col in enumerate(cols):
        m[:, j] = col
    m[~np.isfinite(m)] = np.nan  # xgboost treats NaN as missing
    return m
