"""Helpers of the jurisdiction tests: reference path, record times, test figures and rule versions.

A module of its own (not conftest) so test modules import it by a unique name: several test folders
have a conftest.py, and `from conftest import` would pick whichever was loaded last.

Figures that tests add to rule versions (benchmarks, exchange rates, weekly prices) are labelled as
test inputs in their ``source``: they exercise a mechanism whose official figure is not yet in
shared/reference, and are never shipped as rule data.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from cbamhub.jurisdictions.rulebook import Figure, Rulebook, Status

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference"
RECORDED = datetime(2026, 11, 23, tzinfo=UTC)
LATER = datetime(2026, 12, 15, tzinfo=UTC)


def test_figure(key: str, value: Any, why: str) -> Figure:
    return Figure(key, value, Status.UNCONFIRMED, f"TEST INPUT, not a regulatory figure: {why}")


test_figure.__test__ = False  # type: ignore[attr-defined]


def add_version(
    book: Rulebook,
    name: str,
    changes: Mapping[str, Any],
    *,
    recorded_at: datetime = LATER,
    valid_from: date | None = None,
    why: str = "mechanism test",
) -> Rulebook:
    base = book.at(valid_from or date(2026, 1, 1), RECORDED)
    figs = {
        k: test_figure(k, Decimal(str(v)) if isinstance(v, int | float | str) else v, why)
        for k, v in changes.items()
    }
    return book.with_version(base.revised(name, recorded_at, figs, valid_from=valid_from))
