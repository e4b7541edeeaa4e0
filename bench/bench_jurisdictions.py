"""Time an annual CBAM declaration of 50,000 import lines on one core (target <= 2 s), its documents,
the Monte Carlo scenarios (target <= 1 s) and their chart.

Run: python bench/bench_jurisdictions.py
"""

from __future__ import annotations

import random
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from cbamhub.jurisdictions.declaration import AnnualDeclaration, ImportLine, declare
from cbamhub.jurisdictions.defaults import load_default_table
from cbamhub.jurisdictions.rulebook import load_rulebook
from cbamhub.jurisdictions.see import SEE

CNS = ["72083900", "72085120", "76011000", "76061100", "25232900", "25231000", "31021019", "28141000",
       "72011000", "73089098", "28041000"]  # fmt: skip
ORIGINS = ["CN", "IN", "TR", "UA", "VN", "EG", "KZ", "BT", "US", "KR"]


def lines(n: int, seed: int = 7) -> list[ImportLine]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        actual = SEE(Decimal(rnd.randint(50, 300)) / 100, Decimal(0)) if i % 3 == 0 else None
        out.append(
            ImportLine(
                f"L{i}",
                rnd.choice(CNS),
                Decimal(rnd.randint(1, 50_000)) / 1000,
                rnd.choice(ORIGINS),
                date(2026, 1, 1) + timedelta(days=rnd.randint(0, 364)),
                actual_see=actual,
                commitment=f"c{i % 997}",
            )
        )
    return out


def main() -> None:
    book = load_rulebook()
    load_default_table()
    data = lines(50_000)
    known = datetime(2026, 12, 1, tzinfo=UTC)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        d = declare("EORI-BENCH", 2026, data, book, known_at=known)
        best = min(best, time.perf_counter() - t0)
    print(
        f"annual declaration, {len(data)} lines: {best:.3f} s (best of 3; target <= 2 s); "
        f"embedded {d.embedded_emissions:.1f} tCO2e, certificates {d.certificates:.1f}"
    )
    documents(d)
    try:
        from cbamhub.jurisdictions.scenarios import ScenarioInputs, run_scenarios
    except ImportError:
        return
    inputs = ScenarioInputs(annual_mass_t=10_000.0, see_actual=1.9, see_default=3.9,
                            start_price=75.36, benchmark=0.0)  # fmt: skip
    t0 = time.perf_counter()
    run_scenarios(inputs, paths=10_000, seed=1)
    print(f"Monte Carlo, 10000 paths x 9 years: {time.perf_counter() - t0:.3f} s (target <= 1 s)")

    from cbamhub.jurisdictions.chart import cost_chart

    result = run_scenarios(inputs, paths=10_000, seed=1)
    for fmt in ("svg", "png"):
        t0 = time.perf_counter()
        size = len(cost_chart(result, fmt))  # type: ignore[arg-type]
        print(f"cost chart {fmt}: {time.perf_counter() - t0:.3f} s, {size:,} bytes")


def documents(d: AnnualDeclaration) -> None:
    """The documents of the 50,000-line declaration; XML includes the XSD validation."""
    from cbamhub.jurisdictions.documents import (
        annual_declaration_xml,
        declaration_html,
        declaration_json,
    )

    for name, make in (
        ("annual declaration XML + XSD validation", lambda: annual_declaration_xml(d, "BENCH")),
        ("HTML summary", lambda: declaration_html(d).encode()),
        ("JSON", lambda: declaration_json(d).encode()),
    ):
        t0 = time.perf_counter()
        size = len(make())
        print(f"{name}: {time.perf_counter() - t0:.3f} s, {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
