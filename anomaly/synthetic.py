"""Reproducible synthetic records around the reference bands, with labelled injected anomalies.

Centres and widths of the bands are reference figures (see reference.py); every *spread* parameter
below is ours, chosen to look like honest year-on-year reporting, and is named in SPREAD so the
README can show it. Same seed, same data, bit for bit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from .features import F64, I64, Columns, Lookup, build_lookup
from .record import DataQualityTier, Methodology, RecordFeatures
from .reference import route_table


class AnomalyKind(IntEnum):
    NORMAL = 0
    UNIT_ERROR = 1  # a figure reported 1,000× too large (kg read as t)
    MISSING_INDIRECT = 2  # indirect emissions 0 although electricity is consumed
    IMPLAUSIBLY_LOW = 3  # direct SEE well below the best-10 % benchmark / route band
    MASS_BALANCE = 4  # precursor shares that cannot close (sum far from 1)
    COPY = 5  # identical figures from different installations
    SUDDEN_DROP = 6  # large drop against the installation's history, no technology change


# Our spread parameters (not reference figures), with why.
SPREAD = {
    "direct_clip_sigmas": 2.5,  # honest reports stay inside the band read as ±2σ, tails to 2.5σ
    "electricity_log_sd": 0.10,  # metered MWh/t vary ~10 % between plants of one route
    "ef_jitter": 0.03,  # suppliers use grid factors within the reference band, ±3 % vintage noise
    "history_share": 0.8,  # 80 % of records have a previous report
    "history_log_sd": 0.06,  # year-on-year change of an unchanged plant ~6 %
    "technology_change_share": 0.03,  # declared process changes, with a real 20–50 % drop
    "anomaly_share": 0.12,  # labelled anomalies in the training set, split evenly by kind
}


@dataclass(frozen=True, slots=True)
class LabelledSet:
    columns: Columns
    kind: I64  # AnomalyKind per row
    installation: I64

    @property
    def label(self) -> I64:
        out: I64 = (self.kind != AnomalyKind.NORMAL).astype(np.int64)
        return out

    def digest(self) -> str:
        """SHA-256 over all arrays: the training-data hash recorded in the model metadata."""
        h = hashlib.sha256()
        for a in (
            *(getattr(self.columns, f) for f in Columns.__slots__),
            self.kind,
            self.installation,
        ):
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()


def generate(
    n: int, seed: int, lookup: Lookup | None = None, anomaly_share: float | None = None
) -> LabelledSet:
    """``n`` records from ~n/4 installations, ``anomaly_share`` of them anomalous (even split)."""
    lk = lookup or build_lookup()
    rng = np.random.default_rng(seed)
    table = route_table()
    n_cells = len(lk.direct_centre)
    n_countries = len(lk.countries)
    has_prec = np.array([table.routes[r].has_precursors for r in lk.route_keys])

    n_inst = max(n // 4, 1)
    inst_cell = rng.integers(0, n_cells, n_inst)
    inst_level = np.clip(rng.standard_normal(n_inst), -2.0, 2.0)  # plant's place in its band
    installation = rng.integers(0, n_inst, n)
    cell = inst_cell[installation]
    clip = SPREAD["direct_clip_sigmas"]

    z = np.clip(0.8 * inst_level[installation] + 0.6 * rng.standard_normal(n), -clip, clip)
    direct = lk.direct_centre[cell] + lk.direct_sigma[cell] * z
    elec = lk.electricity_centre[cell] * np.exp(
        SPREAD["electricity_log_sd"] * rng.standard_normal(n)
    )
    grid = lk.grid_ef[cell]
    ef = grid * (1 + SPREAD["ef_jitter"] * rng.uniform(-1, 1, n))
    indirect = elec * ef

    prec = has_prec[cell // n_countries]
    prec_count = np.where(prec, rng.integers(1, 4, n), 0).astype(np.float64)
    prec_sum = np.where(prec, 1.0, 0.0)

    has_hist = rng.random(n) < SPREAD["history_share"]
    drift = np.exp(SPREAD["history_log_sd"] * rng.standard_normal(n))
    prev_direct = np.where(has_hist, direct * drift, np.nan)
    prev_indirect = np.where(has_hist, indirect * drift, np.nan)
    tech = has_hist & (rng.random(n) < SPREAD["technology_change_share"])
    drop = rng.uniform(0.5, 0.8, n)
    prev_direct = np.where(tech, direct / drop, prev_direct)
    prev_indirect = np.where(tech, indirect / drop, prev_indirect)

    tier = rng.choice(4, n, p=[0.15, 0.25, 0.4, 0.2]).astype(np.float64)
    method = rng.choice(4, n, p=[0.1, 0.5, 0.15, 0.25]).astype(np.float64)

    share = SPREAD["anomaly_share"] if anomaly_share is None else anomaly_share
    kind = np.zeros(n, dtype=np.int64)
    anomalous = rng.random(n) < share
    kinds = rng.integers(1, len(AnomalyKind), n)
    kind[anomalous] = kinds[anomalous]
    kind[(kind == AnomalyKind.MASS_BALANCE) & ~prec] = AnomalyKind.MISSING_INDIRECT
    # A drop needs a history, and a declared technology change would explain it.
    kind[(kind == AnomalyKind.SUDDEN_DROP) & (~has_hist | tech)] = AnomalyKind.IMPLAUSIBLY_LOW

    k = kind == AnomalyKind.UNIT_ERROR
    direct = np.where(k, direct * 1000.0, direct)

    k = kind == AnomalyKind.MISSING_INDIRECT
    indirect = np.where(k, 0.0, indirect)

    k = kind == AnomalyKind.IMPLAUSIBLY_LOW
    low = lk.direct_centre[cell] - 2 * lk.direct_sigma[cell]
    low_value = low * rng.uniform(0.25, 0.6, n)
    direct = np.where(k, low_value, direct)
    prev_direct = np.where(k & has_hist, low_value * drift, prev_direct)  # persistently low

    k = kind == AnomalyKind.MASS_BALANCE
    bad_sum = np.where(rng.random(n) < 0.5, rng.uniform(1.25, 2.0, n), rng.uniform(0.3, 0.75, n))
    prec_sum = np.where(k, bad_sum, prec_sum)

    k = kind == AnomalyKind.SUDDEN_DROP
    fall = rng.uniform(0.45, 0.7, n)
    prev_direct = np.where(k, direct / fall, prev_direct)
    prev_indirect = np.where(k, indirect / fall, prev_indirect)

    # Copy-paste: the copy takes the figures of a normal record of another plant, same cell.
    copies = np.zeros(n)
    for i in np.flatnonzero(kind == AnomalyKind.COPY):
        candidates = np.flatnonzero(
            (cell == cell[i]) & (kind == AnomalyKind.NORMAL) & (installation != installation[i])
        )
        if len(candidates) == 0:
            kind[i] = AnomalyKind.IMPLAUSIBLY_LOW
            direct[i] = low_value[i]
            continue
        src = candidates[rng.integers(0, len(candidates))]
        direct[i], indirect[i], elec[i], ef[i] = direct[src], indirect[src], elec[src], ef[src]
        kind[src] = AnomalyKind.COPY  # which one is the original is unknowable: both go to review
        copies[i] += 1
        copies[src] += 1

    cols = Columns(
        cell.astype(np.int64),
        direct,
        indirect,
        elec,
        ef,
        prec_count,
        prec_sum,
        prev_direct,
        prev_indirect,
        tech.astype(np.float64),
        copies,
        tier,
        method,
    )
    return LabelledSet(cols, kind, installation.astype(np.int64))


def to_records(data: LabelledSet, lookup: Lookup, rows: F64 | I64 | range) -> list[RecordFeatures]:
    """Selected rows as RecordFeatures (for tests of the single-record path and the bench)."""
    c = data.columns
    n_countries = len(lookup.countries)
    table = route_table()
    out = []
    for i in rows:
        i = int(i)
        route = lookup.route_keys[int(c.cell[i]) // n_countries]
        country = lookup.countries[int(c.cell[i]) % n_countries]
        k = int(c.precursor_count[i])
        pd, pi = float(c.previous_direct[i]), float(c.previous_indirect[i])
        out.append(
            RecordFeatures(
                record_id=f"syn-{i}",
                installation_id=f"inst-{int(data.installation[i])}",
                route=route,
                country=country,
                cn_code=table.routes[route].cn,
                see_direct=float(c.see_direct[i]),
                see_indirect=float(c.see_indirect[i]),
                electricity_mwh_per_t=float(c.electricity[i]),
                electricity_ef=float(c.electricity_ef[i]),
                precursor_shares=tuple([float(c.precursor_share_sum[i]) / k] * k) if k else (),
                methodology=Methodology(int(c.methodology[i])),
                tier=DataQualityTier(int(c.tier[i])),
                previous_see_direct=None if np.isnan(pd) else pd,
                previous_see_indirect=None if np.isnan(pi) else pi,
                technology_change=bool(c.technology_change[i]),
                copies=int(c.copies[i]),
            )
        )
    return out
