"""The plain statistical rule beside the model: direct SEE more than 3σ from the route benchmark.

σ comes from the reference band read as centre ± 2σ (reference.Band.sigma). Its verdict is
reported separately from the model's, so a verifier can see when the two disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .features import F64, Columns, Lookup

Z_LIMIT = 3.0


@dataclass(frozen=True, slots=True)
class RuleVerdict:
    flagged: bool
    z_direct: float
    expected_direct: float
    text: str


def z_scores(c: Columns, lookup: Lookup) -> F64:
    z: F64 = (c.see_direct - lookup.direct_centre[c.cell]) / lookup.direct_sigma[c.cell]
    return z


def verdict(z: float, see_direct: float, expected: float) -> RuleVerdict:
    flagged = bool(np.abs(z) > Z_LIMIT)
    side = "above" if z > 0 else "below"
    text = (
        f"direct emissions {see_direct:.3g} tCO2e/t are {abs(z):.1f} standard deviations {side} the "
        f"route benchmark {expected:.3g}" + (" (more than 3: flagged)" if flagged else "")
    )
    return RuleVerdict(flagged, float(z), expected, text)
