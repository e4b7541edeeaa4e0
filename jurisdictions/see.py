"""Specific embedded emissions (SEE) of simple and complex goods - Annex IV pts 2-3, Reg. 2023/956.

WHY Decimal: SEE values feed filed declarations and audit trails; figures in the annexes are exact
decimals (e.g. 3.1869) and must be reproducible to the last digit, so no binary float and no rounding
of intermediate values (field-notes.md, "multi-origin goods, rounding"). Direct and indirect are kept
apart throughout because which of them counts depends on the good (Art. 7(1), Annex II).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

__all__ = [
    "SEE",
    "AttributedDirect",
    "Precursor",
    "attributed_indirect",
    "see_complex",
    "see_simple",
]

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class SEE:
    """Specific embedded emissions in tCO2e per tonne of good (per MWh for electricity)."""

    direct: Decimal
    indirect: Decimal

    @property
    def total(self) -> Decimal:
        return self.direct + self.indirect


@dataclass(frozen=True, slots=True)
class AttributedDirect:
    """Attributed direct emissions of a production process (2023/1773 Annex III F, schematic form).

    AttrEm_dir = DirEm + H_imp - H_exp + WG_imp - WG_exp - Em_el,prod   (all tCO2e over the period)
    """

    direct_emissions: Decimal
    heat_imported: Decimal = ZERO
    heat_exported: Decimal = ZERO
    waste_gas_imported: Decimal = ZERO
    waste_gas_exported: Decimal = ZERO
    electricity_produced: Decimal = ZERO

    @property
    def value(self) -> Decimal:
        return (
            self.direct_emissions
            + self.heat_imported
            - self.heat_exported
            + self.waste_gas_imported
            - self.waste_gas_exported
            - self.electricity_produced
        )


def attributed_indirect(electricity_mwh: Decimal, emission_factor_t_per_mwh: Decimal) -> Decimal:
    """AttrEm_indir = E_el,cons x EF_el (MWh x tCO2/MWh); the EF's source is recorded by the caller."""
    if electricity_mwh < 0 or emission_factor_t_per_mwh < 0:
        raise ValueError("electricity and emission factor must be non-negative")
    return electricity_mwh * emission_factor_t_per_mwh


@dataclass(frozen=True, slots=True)
class Precursor:
    """A relevant precursor consumed in the process: mass used (t) and its own SEE (actual or default)."""

    name: str
    mass_t: Decimal
    see: SEE


def see_simple(attr_direct: Decimal, attr_indirect: Decimal, activity_level_t: Decimal) -> SEE:
    """Annex IV pt 2: SEE_g = AttrEm_g / AL_g, direct and indirect separately."""
    return see_complex(attr_direct, attr_indirect, activity_level_t, ())


def see_complex(
    attr_direct: Decimal,
    attr_indirect: Decimal,
    activity_level_t: Decimal,
    precursors: Sequence[Precursor],
) -> SEE:
    """Annex IV pt 3: SEE_g = (AttrEm_g + sum_i M_i x SEE_i) / AL_g, direct and indirect separately."""
    if activity_level_t <= 0:
        raise ValueError("activity level must be positive")
    ee_dir = sum((p.mass_t * p.see.direct for p in precursors), ZERO)
    ee_ind = sum((p.mass_t * p.see.indirect for p in precursors), ZERO)
    return SEE(
        direct=(attr_direct + ee_dir) / activity_level_t,
        indirect=(attr_indirect + ee_ind) / activity_level_t,
    )
