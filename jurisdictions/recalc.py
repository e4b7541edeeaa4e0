"""Recalculating a past period under a corrected rule version (bitemporal rules).

WHY: a filed declaration must stay reproducible (Art. 7(6) record keeping) while a later correction of
a figure must be visible. Both results are computed from the same inputs, one with what the hub knew
when it filed (``original_known_at``), one with what it knows now; neither is overwritten, and the
difference is shown per line and in total.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from .declaration import AnnualDeclaration, ImportLine, declare
from .defaults import DefaultValueTable
from .rulebook import Rulebook

__all__ = ["LineDifference", "Recalculation", "recalculate"]


@dataclass(frozen=True, slots=True)
class LineDifference:
    line_id: str
    rule_version_before: str
    rule_version_after: str
    embedded_delta: Decimal
    certificates_delta: Decimal


@dataclass(frozen=True, slots=True)
class Recalculation:
    original: AnnualDeclaration
    corrected: AnnualDeclaration
    lines: tuple[LineDifference, ...]  # only lines whose figures or rule version changed

    @property
    def certificates_delta(self) -> Decimal:
        return self.corrected.certificates - self.original.certificates

    @property
    def embedded_delta(self) -> Decimal:
        return self.corrected.embedded_emissions - self.original.embedded_emissions


def recalculate(
    importer: str,
    year: int,
    lines: Sequence[ImportLine],
    rulebook: Rulebook,
    *,
    original_known_at: datetime,
    corrected_known_at: datetime,
    table: DefaultValueTable | None = None,
) -> Recalculation:
    before = declare(importer, year, lines, rulebook, known_at=original_known_at, table=table)
    after = declare(importer, year, lines, rulebook, known_at=corrected_known_at, table=table)
    diffs = tuple(
        LineDifference(
            a.line_id,
            a.rule_version,
            b.rule_version,
            b.embedded - a.embedded,
            b.certificates - a.certificates,
        )
        for a, b in zip(before.lines, after.lines, strict=True)
        if a.rule_version != b.rule_version
        or a.embedded != b.embedded
        or a.certificates != b.certificates
    )
    return Recalculation(before, after, diffs)
