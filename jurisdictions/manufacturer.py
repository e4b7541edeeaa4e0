"""Manufacturer side: metered electricity, fuels and production per line -> SEE per product line.

WHY: field-notes.md ("Metering to product footprint", an aluminium extrusion plant) - buyers ask which
line made a product, what electricity powered it, which emission factor was used and how shared
consumption was allocated, and a third party must be able to check it. So every step is recorded as an
``AuditStep`` (what, formula, inputs, result) in the order computed, and the SEE follows Annex IV pt 2-3
(attributed emissions + precursors, divided by activity level; direct and indirect separately;
indirect = MWh x EF, cbam_facts.md §3). Shared meters (compressed air, auxiliaries) are allocated to
lines by production share. Emission factors are inputs with their source: no grid factor is in the
reference (the IEA-based country factors live in the CBAM registry).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from .see import SEE, Precursor, see_complex

__all__ = ["AuditStep", "FuelUse", "LineFootprint", "Meter", "ProductionLine", "line_footprints"]

ZERO = Decimal(0)
KWH_PER_MWH = Decimal(1000)


@dataclass(frozen=True, slots=True)
class Meter:
    """An electricity meter: kWh in the period; ``line`` None = shared, allocated by production."""

    meter_id: str
    kwh: Decimal
    line: str | None
    emission_factor_t_per_mwh: Decimal
    ef_source: str  # e.g. "PPA contract X, GO cancelled" or "grid default, CBAM registry"


@dataclass(frozen=True, slots=True)
class FuelUse:
    """Fuel burnt on a line: emissions = quantity x NCV x EF x OF (2018/2066 logic, cbam_facts.md §3)."""

    line: str | None
    fuel: str
    quantity: Decimal  # t or 1000 Nm3, as the NCV's unit demands
    ncv_tj_per_unit: Decimal
    ef_t_per_tj: Decimal
    oxidation_factor: Decimal
    source: str


@dataclass(frozen=True, slots=True)
class ProductionLine:
    line: str
    product: str
    cn: str
    produced_t: Decimal
    precursors: Sequence[Precursor] = ()


@dataclass(frozen=True, slots=True)
class AuditStep:
    step: str
    formula: str
    inputs: Mapping[str, str]
    result: str


@dataclass(frozen=True, slots=True)
class LineFootprint:
    line: str
    product: str
    cn: str
    produced_t: Decimal
    electricity_mwh: Decimal
    direct_t: Decimal
    indirect_t: Decimal
    see: SEE
    audit: tuple[AuditStep, ...] = field(default_factory=tuple)


def line_footprints(
    lines: Sequence[ProductionLine], meters: Sequence[Meter], fuels: Sequence[FuelUse] = ()
) -> list[LineFootprint]:
    """SEE of each product line with the audit trail that reproduces it."""
    total_t = sum((ln.produced_t for ln in lines), ZERO)
    if total_t <= 0:
        raise ValueError("no production in the period")
    names = {ln.line for ln in lines}
    for m in meters:
        if m.line is not None and m.line not in names:
            raise ValueError(f"meter {m.meter_id} is on unknown line {m.line}")
    out: list[LineFootprint] = []
    for ln in lines:
        steps: list[AuditStep] = []
        share = ln.produced_t / total_t
        steps.append(AuditStep("production share", "produced_line / produced_total",
                               {"produced_line": str(ln.produced_t), "produced_total": str(total_t)},
                               str(share)))  # fmt: skip
        mwh = ZERO
        indirect = ZERO
        for m in meters:
            if m.line == ln.line:
                alloc_kwh = m.kwh
                how = "metered on the line"
            elif m.line is None:
                alloc_kwh = m.kwh * share
                how = "shared meter x production share"
            else:
                continue
            e = alloc_kwh / KWH_PER_MWH * m.emission_factor_t_per_mwh
            mwh += alloc_kwh / KWH_PER_MWH
            indirect += e
            steps.append(AuditStep(f"electricity {m.meter_id}", f"{how}; kWh/1000 x EF",
                                   {"kwh": str(m.kwh), "allocated_kwh": str(alloc_kwh),
                                    "ef_t_per_mwh": str(m.emission_factor_t_per_mwh),
                                    "ef_source": m.ef_source}, str(e)))  # fmt: skip
        direct = ZERO
        for f in fuels:
            if f.line not in (ln.line, None):
                continue
            part = share if f.line is None else Decimal(1)
            e = f.quantity * part * f.ncv_tj_per_unit * f.ef_t_per_tj * f.oxidation_factor
            direct += e
            steps.append(AuditStep(f"fuel {f.fuel}", "quantity x share x NCV x EF x OF",
                                   {"quantity": str(f.quantity), "share": str(part),
                                    "ncv": str(f.ncv_tj_per_unit), "ef": str(f.ef_t_per_tj),
                                    "of": str(f.oxidation_factor), "source": f.source}, str(e)))  # fmt: skip
        see = see_complex(direct, indirect, ln.produced_t, ln.precursors)
        steps.append(AuditStep("SEE (Annex IV pt 3)", "(AttrEm + sum M_i x SEE_i) / AL",
                               {"attr_direct": str(direct), "attr_indirect": str(indirect),
                                "precursors": ";".join(f"{p.name}:{p.mass_t}" for p in ln.precursors),
                                "activity_level_t": str(ln.produced_t)},
                               f"direct={see.direct} indirect={see.indirect}"))  # fmt: skip
        out.append(LineFootprint(ln.line, ln.product, ln.cn, ln.produced_t, mwh, direct, indirect,
                                 see, tuple(steps)))  # fmt: skip
    return out
