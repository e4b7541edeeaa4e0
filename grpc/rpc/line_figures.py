"""The figures of a customs answer, computed from the record members disclosed to the caller: the
server answers with this function and a customs client recomputes the answer with it from the
members it verified against the log (decision 0055), so the two cannot drift apart.

SEE and embedded emissions need `directEmissions` disclosed and `indirectEmissions` either disclosed
or absent from the record (withheld means unknown: no figures, not even a total). Indirect
emissions count only outside Annex II (Art. 7(1)). Quantities given with a unit are converted to the
canonical unit as at publishing (vault.units), and figures are the floats the record model holds.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cbamhub.vault import units
from cbamhub.vault.record_model import annex_i, unit_plan

DIRECT = "directEmissions"
INDIRECT = "indirectEmissions"
TIER = "dataQualityTier"


class FiguresUnavailable(ValueError):
    """A disclosed member does not hold a figure the answer needs (malformed, or a bad unit)."""


@dataclass(frozen=True)
class LineFigures:
    """The answer's figure fields as their wire strings; "" where the members do not disclose it."""

    quality_tier: str = ""
    see_direct: str = ""
    see_indirect: str = ""
    see_total: str = ""
    embedded_direct: str = ""
    embedded_indirect: str = ""
    embedded_total: str = ""


def _figure(member: Mapping[str, Any], key: str, where: str) -> Decimal:
    value = member.get(key) if isinstance(member, Mapping) else None
    if isinstance(value, units.UnitProblem) or value is None or isinstance(value, bool):
        raise FiguresUnavailable(f"{where}.{key} is not a figure")
    try:
        return Decimal(repr(float(value)))
    except (TypeError, ValueError) as error:
        raise FiguresUnavailable(f"{where}.{key} is not a figure: {error}") from error


@dataclass(frozen=True)
class SpecificFigures:
    """A record's figures per unit of goods as disclosed: computed once per record and caller's
    view, then scaled for each line's mass."""

    quality_tier: str
    direct: Decimal | None
    """None: the SEE is not disclosed (nor, then, anything computed from it)."""
    indirect: Decimal

    def for_mass(self, mass: Decimal) -> LineFigures:
        if self.direct is None:
            return LineFigures(quality_tier=self.quality_tier)
        direct, indirect = self.direct, self.indirect
        return LineFigures(
            quality_tier=self.quality_tier,
            see_direct=str(direct),
            see_indirect=str(indirect),
            see_total=str(direct + indirect),
            embedded_direct=str(mass * direct),
            embedded_indirect=str(mass * indirect),
            embedded_total=str(mass * (direct + indirect)),
        )


def specific_figures(
    members: Mapping[str, Any], withheld: Collection[str], cn: str
) -> SpecificFigures:
    """The figures `members` (record members by KIT name) give for goods of CN code `cn`;
    `withheld` names the record's members the caller does not see."""
    tier = members.get(TIER)
    quality = tier if isinstance(tier, str) else ""
    if DIRECT not in members or INDIRECT in withheld:
        return SpecificFigures(quality, None, Decimal(0))
    given = {k: members[k] for k in (DIRECT, INDIRECT) if k in members}
    converted = units.canonicalise(given, unit_plan(cn))
    direct = _figure(converted[DIRECT], "specificEmbeddedEmissionsDirect", DIRECT)
    indirect = Decimal(0)
    if converted.get(INDIRECT) is not None and annex_i().indirect_counts(cn):
        indirect = _figure(converted[INDIRECT], "specificEmbeddedEmissionsIndirect", INDIRECT)
    return SpecificFigures(quality, direct, indirect)


def line_figures(
    members: Mapping[str, Any], withheld: Collection[str], cn: str, mass: Decimal
) -> LineFigures:
    """The answer's figures for `mass` of goods (see `specific_figures`)."""
    return specific_figures(members, withheld, cn).for_mass(mass)
