"""Reasons in words a verifier understands, from xgboost's exact per-feature contributions."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .features import F32, FEATURE_NAMES, QUANTITY, Lookup
from .reference import route_table

IDX = {n: i for i, n in enumerate(FEATURE_NAMES)}


@dataclass(frozen=True, slots=True)
class Reason:
    feature: str
    quantity: (
        str  # what it is about: direct, indirect, electricity, precursors, history, copies, ...
    )
    contribution: float  # log-odds pushed towards "anomalous"
    text: str


def _f(x: float) -> str:
    return "missing" if math.isnan(x) else f"{x:.3g}"


def describe(feature: str, row: F32, cell: int, lookup: Lookup) -> str:
    """One sentence about ``feature`` of a record, with the reference figure it is judged against."""
    n_c = len(lookup.countries)
    route = route_table().routes[lookup.route_keys[cell // n_c]]
    country = lookup.countries[cell % n_c]
    v = {n: float(row[i]) for n, i in IDX.items()}
    where = f"for {route.label} in {country}"
    q = QUANTITY[feature]
    if q == "direct":
        return (
            f"direct emissions {_f(v['see_direct'])} tCO2e/t {where}; expected about "
            f"{lookup.direct_centre[cell]:.3g} per reference ({_f(v['direct_ratio'])}× that)"
        )
    if q == "indirect":
        expected = lookup.expected_indirect[cell]
        implied = v["electricity_mwh_per_t"] * v["electricity_ef"]
        return (
            f"indirect emissions {v['see_indirect']:.2f} tCO2e/t {where}; expected about {expected:.2f} "
            f"per reference, and {implied:.2f} from the reported electricity "
            f"{_f(v['electricity_mwh_per_t'])} MWh/t × {_f(v['electricity_ef'])} tCO2/MWh"
        )
    if q == "electricity":
        return (
            f"electricity {_f(v['electricity_mwh_per_t'])} MWh/t {where}; expected about "
            f"{lookup.electricity_centre[cell]:.3g} MWh/t"
        )
    if q == "emission factor":
        return (
            f"electricity emission factor {_f(v['electricity_ef'])} tCO2/MWh; the reference grid factor "
            f"for {country} is about {lookup.grid_ef[cell]:.3g}"
        )
    if q == "precursors":
        return (
            f"precursor shares sum to {_f(v['precursor_share_sum'])} over "
            f"{int(v['precursor_count'])} precursor(s); a closed mass balance sums to 1"
        )
    if q == "history":
        tech = "declared" if v["technology_change"] else "no technology change declared"
        return (
            f"direct emissions are {_f(v['direct_change'])}× and total {_f(v['total_change'])}× the "
            f"installation's previous report ({tech})"
        )
    if q == "copies":
        return f"the same figures are reported by {int(v['copies'])} other installation(s)"
    if q == "data quality":
        return f"data-quality tier {int(v['tier'])} (0 default … 3 verified measured)"
    if q == "methodology":
        return f"methodology code {int(v['methodology'])} (0 default, 1 calculation, 2 mass balance, 3 measurement)"
    return f"{feature} = {_f(v[feature])} {where}"


def reasons(contribs: F32, row: F32, cell: int, lookup: Lookup, top: int = 3) -> tuple[Reason, ...]:
    """The ``top`` features pushing hardest towards anomalous, one reason per quantity."""
    c = contribs[: len(FEATURE_NAMES)]
    out: list[Reason] = []
    seen: set[str] = set()
    for j in np.argsort(-c):
        name = FEATURE_NAMES[int(j)]
        q = QUANTITY[name]
        if c[j] <= 0 or q in seen:
            continue
        seen.add(q)
        out.append(Reason(name, q, float(c[j]), describe(name, row, cell, lookup)))
        if len(out) == top:
            break
    return tuple(out)
