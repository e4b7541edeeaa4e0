"""Build the vendored reference extract the scorer uses, from ``../shared/reference``.

The product must run on a fresh clone without the shared folder, so the few figures the scorer
needs are copied into ``anomaly/data/reference_extract.json`` with their source rows and status.
Run ``python -m cbamhub.anomaly.extract`` after the reference changes; a test checks that the
committed extract still equals what this script produces from the shared source.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from pathlib import Path
from typing import Any

FACTS = "cbam_facts.md"
DEFAULTS = "default_values_2025_2621.json"
EXTRACT_PATH = Path(__file__).parent / "data" / "reference_extract.json"

# Countries with both a grid emission factor (§8) and default values (§4 / 2025/2621).
COUNTRIES = ("China", "India", "Türkiye", "Ukraine", "Egypt", "Russia", "Vietnam")
FALLBACK_COUNTRY = "_Other Countries and Territorie"  # the JSON's (truncated) key
# (CN code, route letter or None) of the default-value rows the scorer reads.
DEFAULT_ROWS = (("2523 10 00", "A"), ("28141000", None))

# §8 row prefix -> (figure key, regex yielding the figure(s)); each regex must match exactly once.
EU_ETS_ROW = "| EU ETS 2021–25 product benchmarks"
EU_ETS_NAMES = (
    "grey clinker",
    "ammonia",
    "EAF carbon steel",
    "primary aluminium",
    "secondary aluminium",
    "hydrogen",
)
BAND_ROWS: dict[str, tuple[str, str]] = {
    "bf_bof_direct": ("| Crude steel BF-BOF", r"~(\d+(?:\.\d+)?)–(\d+(?:\.\d+)?) tCO2/t"),
    "scrap_eaf_total": ("| Scrap-EAF", r"~(\d+(?:\.\d+)?)–(\d+(?:\.\d+)?) t/t incl\. indirect"),
    "primary_al_direct": (
        "| Primary aluminium",
        r"direct \(anode \+ PFC\) ≈ (\d+(?:\.\d+)?)–(\d+(?:\.\d+)?)",
    ),
    "primary_al_electricity": (
        "| Primary aluminium",
        r"electricity ≈ (\d+(?:\.\d+)?)–(\d+(?:\.\d+)?) MWh/t",
    ),
    "secondary_al_direct": (
        "| Secondary aluminium",
        r"≈ (\d+(?:\.\d+)?)–(\d+(?:\.\d+)?) t/t direct",
    ),
    "hydrogen_smr_direct": ("| Hydrogen | SMR", r"SMR ≈ (\d+(?:\.\d+)?)–(\d+(?:\.\d+)?) tCO2/t H2"),
}
GRID_ROW = "| Grid EFs"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _row(lines: list[str], prefix: str) -> str:
    hits = [ln for ln in lines if ln.startswith(prefix)]
    if len(hits) != 1:
        raise ValueError(f"expected one row starting {prefix!r} in {FACTS}, found {len(hits)}")
    return hits[0]


def _cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


def _figure(row: str, pattern: str) -> list[float]:
    found = re.findall(pattern, row)
    if len(found) != 1:
        raise ValueError(f"pattern {pattern!r} matched {len(found)} times in {row[:60]!r}")
    groups = found[0] if isinstance(found[0], tuple) else (found[0],)
    return [float(g) for g in groups]


def build_extract(reference_dir: Path) -> dict[str, Any]:
    """Return the extract (figures, their source text and status) read from ``reference_dir``."""
    facts_path = reference_dir / FACTS
    defaults_path = reference_dir / DEFAULTS
    lines = facts_path.read_text(encoding="utf-8").splitlines()

    ets_row = _row(lines, EU_ETS_ROW)
    ets_cells = _cells(ets_row)
    eu_ets = {
        name: _figure(ets_cells[0], rf"(?<![\w-]){re.escape(name)} (\d+(?:\.\d+)?)")[0]
        for name in EU_ETS_NAMES
    }

    bands: dict[str, Any] = {}
    for key, (prefix, pattern) in BAND_ROWS.items():
        row = _row(lines, prefix)
        cells = _cells(row)
        source = cells[-1]
        if source == "as above":  # the Scrap-EAF row refers to the rows above it
            source = _cells(_row(lines, "| Crude steel BF-BOF"))[-1]
        bands[key] = {
            "values": _figure(row, pattern),
            "source": source,
            "row": cells[0],
        }

    grid_row = _row(lines, GRID_ROW)
    grid_cells = _cells(grid_row)
    grid: dict[str, list[float]] = {}
    for country in COUNTRIES:
        grid[country] = _figure(
            grid_cells[1], rf"{re.escape(country)} ≈ (\d+(?:\.\d+)?)–(\d+(?:\.\d+)?)"
        )

    table = json.loads(defaults_path.read_text(encoding="utf-8"))
    defaults: dict[str, dict[str, dict[str, Any]]] = {}
    for country in (*COUNTRIES, FALLBACK_COUNTRY):
        per_cn: dict[str, dict[str, Any]] = {}
        for cn, route in DEFAULT_ROWS:
            rows = [
                r
                for r in table[country]
                if r["cn"] == cn and (route is None or r.get("rt") == route)
            ]
            if len(rows) > 1:
                raise ValueError(f"ambiguous default rows for {country} {cn} {route}")
            if rows:
                r = rows[0]
                per_cn[cn] = {"desc": r["desc"], "d": r["d"], "i": r["i"], "rt": r.get("rt")}
        defaults[country] = per_cn

    return {
        "provenance": {
            "generated_by": "python -m cbamhub.anomaly.extract",
            "sources": {
                FACTS: {"sha256": _sha256(facts_path), "section": "§8 Reference intensities"},
                DEFAULTS: {
                    "sha256": _sha256(defaults_path),
                    "what": "Impl. Reg. (EU) 2025/2621 default values, third-party parse",
                },
            },
            "status": "UNCONFIRMED — every figure carries the status of its source row",
        },
        "eu_ets_benchmarks": {
            "values": eu_ets,
            "unit": "tCO2e/t, direct",
            "source": _cells(ets_row)[-1],
            "meaning": _cells(ets_row)[1],
        },
        "bands": bands,
        "grid_ef": {
            "values": grid,
            "unit": "tCO2/MWh",
            "source": grid_cells[-1],
        },
        "default_values": {
            "values": defaults,
            "unit": "tCO2e/t (d direct, i indirect)",
            "source": "Impl. Reg. (EU) 2025/2621 via default_values_2025_2621.json — UNCONFIRMED",
            "fallback_country": FALLBACK_COUNTRY,
        },
    }


def figures_only(extract: dict[str, Any]) -> dict[str, Any]:
    """The extract without source hashes: what must stay equal while the sources evolve."""
    return {k: v for k, v in extract.items() if k != "provenance"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--reference",
        type=Path,
        default=Path(__file__).resolve().parent.parent.parent / "shared" / "reference",
    )
    parser.add_argument("--out", type=Path, default=EXTRACT_PATH)
    args = parser.parse_args(argv)
    extract = build_extract(args.reference)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(extract, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
