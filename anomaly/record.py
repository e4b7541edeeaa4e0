"""The scorer's input: one supplier emissions record and the context it is judged in.

The vault's full record model does not exist yet; this is the small subset the scorer reads. The
vault (or any caller) maps its records onto it; the scorer never changes or keeps them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import IntEnum


class Methodology(IntEnum):
    """How the direct emissions were determined (field notes, module 3)."""

    DEFAULT = 0
    CALCULATION = 1
    MASS_BALANCE = 2
    MEASUREMENT = 3


class DataQualityTier(IntEnum):
    """Field notes, module 5: Default < Estimated < Measured < Verified Measured."""

    DEFAULT = 0
    ESTIMATED = 1
    MEASURED = 2
    VERIFIED = 3


@dataclass(frozen=True, slots=True)
class RecordFeatures:
    """A record's figures (per tonne of good) plus its context: history and copies elsewhere."""

    record_id: str
    installation_id: str
    route: str  # a key of reference.route_table().routes, e.g. "scrap_eaf"
    country: str
    cn_code: str
    see_direct: float  # tCO2e/t
    see_indirect: float  # tCO2e/t
    electricity_mwh_per_t: float
    electricity_ef: float  # tCO2/MWh, the factor the supplier used
    precursor_shares: tuple[
        float, ...
    ] = ()  # shares of each precursor source; a closed balance sums to 1
    methodology: Methodology = Methodology.CALCULATION
    tier: DataQualityTier = DataQualityTier.MEASURED
    previous_see_direct: float | None = None  # the installation's previous report
    previous_see_indirect: float | None = None
    technology_change: bool = False  # declared change of process since the previous report
    copies: int = 0  # other installations reporting exactly these figures (context)


def value_key(r: RecordFeatures) -> tuple[str, float, float, float]:
    """The figures whose exact repetition across installations means copy-paste."""
    return (r.route, r.see_direct, r.see_indirect, r.electricity_mwh_per_t)


def with_copy_counts(records: Sequence[RecordFeatures]) -> list[RecordFeatures]:
    """Set ``copies`` to the number of *other* installations in ``records`` with identical figures.

    Honest measurements almost never repeat to full precision across plants, so identical figures
    from different installations indicate copy-paste. Returns new records; inputs are untouched.
    """
    installations: dict[tuple[str, float, float, float], set[str]] = defaultdict(set)
    for r in records:
        installations[value_key(r)].add(r.installation_id)
    out = []
    for r in records:
        n = len(installations[value_key(r)] - {r.installation_id})
        out.append(r if n == r.copies else replace(r, copies=n))
    return out
