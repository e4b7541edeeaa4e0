"""Regenerate ``vault/data/annex_i.json`` from ``../shared/reference/cbam_facts.md`` (§1 scope table).

WHY: the vault checks every record's CN code against Annex I of Reg. (EU) 2023/956, and must not need
``../shared`` at run time. The extract is parsed from the reference's scope table, not typed by hand,
so that a correction of the reference is a regenerated file plus a failing test until it is done:
``tests/vault/test_annex_i.py`` re-runs this parser whenever the reference is present.

Grammar of the table's "CN codes" cell, as the reference writes it: entries separated by ``;``;
parenthesised text is explanation; ``Ch. 72`` is a chapter; ``7202 2x`` is a subheading wildcard;
``A except B, C`` lists exclusions; an entry starting ``i.e.`` restates the previous one and is skipped;
``plus`` introduces more entries. The reference marks the chapter-72 exclusions UNCONFIRMED, and the
extract keeps that status.

Usage: ``python -m cbamhub.vault.tools.extract_annex_i [SOURCE] [TARGET]``
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

SOURCE_NAME = "cbam_facts.md"
TABLE_HEADING = "## 1. Scope"
# "2601 12 00: spreadsheet ... carries an indirect value → likely NOT in Annex II"
NOT_IN_ANNEX_II = re.compile(r"(\d{4}(?: \d{2}){0,2}):[^.]*NOT in Annex II")
CODE = re.compile(r"Ch\.\s*(\d{2})|\b(\d{4})((?: \d{2}){0,2})(?: (\d)x)?\b")


def _codes(text: str) -> list[str]:
    """CN prefixes in a fragment: "2523 10 00" -> "25231000", "Ch. 72" -> "72", "7202 2x" -> "72022"."""
    out: list[str] = []
    for chapter, heading, rest, wildcard in CODE.findall(text):
        if chapter:
            out.append(chapter)
        else:
            out.append(heading + rest.replace(" ", "") + (wildcard or ""))
    return out


def parse_cell(cell: str) -> tuple[list[str], list[str]]:
    """(included prefixes, excluded prefixes) of one "CN codes (Annex I)" cell."""
    text = re.sub(r"\([^)]*\)", " ", cell)
    included: list[str] = []
    excluded: list[str] = []
    for raw in text.split(";"):
        part = raw.strip()
        if not part or part.startswith("i.e."):
            continue
        part = part.removeprefix("plus").strip()
        head, _, tail = part.partition(" except ")
        included.extend(_codes(head))
        excluded.extend(_codes(tail))
    return included, excluded


def _table_rows(markdown: str) -> tuple[str, list[list[str]]]:
    """The scope section's text and the cells of its table's body rows."""
    start = markdown.index(TABLE_HEADING)
    end = markdown.index("\n## ", start + 1)
    section = markdown[start:end]
    rows = [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("|")
    ]
    return section, rows[2:]  # header and the |---| line


def build_extract(source: Path) -> dict[str, Any]:
    raw = source.read_bytes()
    section, rows = _table_rows(raw.decode("utf-8"))
    sectors: list[dict[str, Any]] = []
    for cells in rows:
        name, cn_cell, ghg, counted = cells[0], cells[1], cells[2], cells[3]
        included, excluded = parse_cell(cn_cell)
        indirect = counted.lower().startswith("direct + indirect")
        # The reference notes that 2601 12 00 (sinter, pellets) carries an indirect default value and is
        # "likely NOT in Annex II" (UNCONFIRMED): indirect emissions count for it, unlike chapter 72/73.
        indirect_also = [c for m in NOT_IN_ANNEX_II.findall(counted) for c in _codes(m)]
        sectors.append(
            {
                "sector": name,
                "ghg": [g.strip() for g in re.split(r",\s*(?![^()]*\))", ghg)],
                "cn_prefixes": included,
                "excluded_cn_prefixes": excluded,
                "indirect_counts": indirect,
                "indirect_counts_also_for": indirect_also,
                "exclusions_status": "UNCONFIRMED"
                if "UNCONFIRMED" in cn_cell
                else "as in reference",
                "source_cell": cn_cell,
            }
        )
    return {
        "rule": "eu.cbam.annex_i",
        "legal_source": "Regulation (EU) 2023/956, Annex I (goods) and Annex II (direct emissions only)",
        "status": "UNCONFIRMED",
        "provenance": {
            "source_file": SOURCE_NAME,
            "source_section": TABLE_HEADING,
            "section_sha256": hashlib.sha256(section.encode("utf-8")).hexdigest(),
            "description": (
                "Annex I list as reconstructed in shared/reference/cbam_facts.md §1 (not checked "
                "verbatim against EUR-Lex 32023R0956; chapter-72 exclusions UNCONFIRMED)"
            ),
            "generated_by": "vault/tools/extract_annex_i.py",
        },
        "matching": "an 8-digit CN code is in scope when it starts with a listed prefix and with no "
        "excluded prefix of the same sector",
        "sectors": sectors,
    }


def dump(extract: dict[str, Any]) -> str:
    return json.dumps(extract, ensure_ascii=False, indent=1) + "\n"


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent.parent
    source = Path(argv[0]) if argv else here.parent.parent / "shared" / "reference" / SOURCE_NAME
    target = Path(argv[1]) if len(argv) > 1 else here / "data" / "annex_i.json"
    target.write_text(dump(build_extract(source)), encoding="utf-8")
    print(f"wrote {target} ({target.stat().st_size} bytes) from {source}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
