"""Monte Carlo certificate-cost scenarios to 2034 (NumPy floats: statistics, not filed figures).

WHY: an importer plans purchases years ahead; cost depends on the EU ETS price path, the phase-in
(CBAM factor by year from the rule data, Art. 10a(1a) ETS Directive) and how fast suppliers replace
default values by actual data. Price paths are geometric Brownian motion with configurable drift and
volatility, seeded for reproducibility. The CBAM benchmark is an input (none is in the reference;
0 gives the upper bound).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from .rulebook import Rulebook, load_rulebook

__all__ = ["ScenarioInputs", "ScenarioResult", "run_scenarios"]

YEARS = tuple(range(2026, 2035))


@dataclass(frozen=True, slots=True)
class ScenarioInputs:
    annual_mass_t: float
    see_actual: float  # tCO2e/t with verified supplier data
    see_default: float  # tCO2e/t default incl. mark-up (caller reads it from the 2025/2621 table)
    start_price: float  # EUR/t, e.g. the Q1 2026 certificate price 75.36
    benchmark: float  # CBAM benchmark tCO2e/t (absent from the reference: 0 = upper bound)
    drift: float = 0.0  # annual log drift
    volatility: float = 0.3  # annual log volatility
    actual_share_start: float = 0.0  # share of mass with actual data in 2026
    actual_share_gain: float = 0.1  # added per year, capped at 1


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    years: tuple[int, ...]
    percentiles: tuple[int, ...]
    cost_eur: npt.NDArray[np.float64]  # shape (len(percentiles), len(years))
    certificates: npt.NDArray[np.float64]  # per year, deterministic given the inputs


def run_scenarios(
    inputs: ScenarioInputs,
    *,
    paths: int = 10_000,
    seed: int = 0,
    percentiles: tuple[int, ...] = (5, 50, 95),
    book: Rulebook | None = None,
) -> ScenarioResult:
    book = book or load_rulebook()
    factors = np.array([float(book.at(date(y, 6, 30)).decimal(f"cbam_factor.{y}")) for y in YEARS])
    t = np.arange(len(YEARS), dtype=np.float64)
    share = np.minimum(1.0, inputs.actual_share_start + inputs.actual_share_gain * t)
    see = share * inputs.see_actual + (1 - share) * inputs.see_default
    certs = inputs.annual_mass_t * np.maximum(0.0, see - inputs.benchmark * factors)
    rng = np.random.default_rng(seed)
    shocks = rng.standard_normal((paths, len(YEARS) - 1))
    step = (inputs.drift - 0.5 * inputs.volatility**2) + inputs.volatility * shocks
    logp = np.concatenate([np.zeros((paths, 1)), np.cumsum(step, axis=1)], axis=1)
    prices = inputs.start_price * np.exp(logp)
    cost = prices * certs
    return ScenarioResult(YEARS, percentiles, np.percentile(cost, percentiles, axis=0), certs)
