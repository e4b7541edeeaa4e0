"""Regenerate ``rules/default_values_2025_2621.json`` from ``../shared/reference``.

WHY: the reference file (a third-party parse of the Annex of Impl. Reg. (EU) 2025/2621, 3.2 MB) must not
be needed at run time, so the package vendors a compact extract: countries keyed by ISO 3166-1 alpha-2,
descriptions de-duplicated into one table, figures kept exactly as written in the source (JSON numbers
are read as ``Decimal`` by the loader, never rounded). The extract carries the sha256 of its source and
the UNCONFIRMED status the reference gives every figure; ``tests/jurisdictions`` checks that it still
matches the source whenever ``../shared/reference`` is present.

Usage: ``python -m cbamhub.jurisdictions.tools.extract_defaults [SOURCE] [TARGET]``
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

# The reference names countries by English short name (sheet names of the Commission's spreadsheet,
# truncated to 31 characters); ISO 3166-1 alpha-2 is what customs data carries.
COUNTRY_CODES: dict[str, str] = {
    "Albania": "AL", "Algeria": "DZ", "Angola": "AO", "Argentina": "AR", "Armenia": "AM",
    "Australia": "AU", "Azerbaijan": "AZ", "Bangladesh": "BD", "Bahrain": "BH", "Belarus": "BY",
    "Benin": "BJ", "Bolivia": "BO", "Bosnia and Herzegovina": "BA", "Brazil": "BR", "Brunei": "BN",
    "Cambodia": "KH", "Cameroon": "CM", "Canada": "CA", "Chile": "CL", "China": "CN",
    "Colombia": "CO", "Congo": "CG", "Costa Rica": "CR", "Côte d'Ivoire": "CI", "Cuba": "CU",
    "Curaçao": "CW", "Democratic Republic of the Cong": "CD", "Dominican Republic": "DO",
    "Ecuador": "EC", "Egypt": "EG", "El Salvador": "SV", "Equatorial Guinea": "GQ", "Eritrea": "ER",
    "Eswatini": "SZ", "Ethiopia": "ET", "Gabon": "GA", "Georgia": "GE", "Ghana": "GH",
    "Guatemala": "GT", "Haiti": "HT", "Honduras": "HN", "Hong Kong": "HK", "India": "IN",
    "Indonesia": "ID", "Iran": "IR", "Iraq": "IQ", "Israel": "IL", "Jamaica": "JM", "Japan": "JP",
    "Jordan": "JO", "Kazakhstan": "KZ", "Kenya": "KE", "Kuwait": "KW", "Kyrgyzstan": "KG",
    "Laos": "LA", "Lebanon": "LB", "Libya": "LY", "Madagascar": "MG", "Malaysia": "MY", "Mali": "ML",
    "Mauritius": "MU", "Mauritania": "MR", "Mexico": "MX", "Moldova": "MD", "Mongolia": "MN",
    "Montenegro": "ME", "Morocco": "MA", "Mozambique": "MZ", "Myanmar_Burma": "MM", "Namibia": "NA",
    "Nepal": "NP", "New Zealand": "NZ", "Nicaragua": "NI", "Niger": "NE", "Nigeria": "NG",
    "North Korea": "KP", "North Macedonia": "MK", "Oman": "OM", "Pakistan": "PK",
    "Papua New Guinea": "PG", "Panama": "PA", "Paraguay": "PY", "Peru": "PE", "Philippines": "PH",
    "Qatar": "QA", "Russia": "RU", "Rwanda": "RW", "Saudi Arabia": "SA", "Senegal": "SN",
    "Serbia": "RS", "Sierra Leone": "SL", "Singapore": "SG", "South Africa": "ZA",
    "South Korea": "KR", "Sri Lanka": "LK", "Sudan": "SD", "Suriname": "SR", "Syria": "SY",
    "Taiwan": "TW", "Tajikistan": "TJ", "Tanzania": "TZ", "Thailand": "TH", "Togo": "TG",
    "Trinidad and Tobago": "TT", "Tunisia": "TN", "Türkiye": "TR", "Turkmenistan": "TM",
    "Uganda": "UG", "Ukraine": "UA", "United Arab Emirates": "AE", "United Kingdom": "GB",
    "United States": "US", "Uruguay": "UY", "Uzbekistan": "UZ", "Venezuela": "VE", "Vietnam": "VN",
    "Yemen": "YE", "Zambia": "ZM", "Zimbabwe": "ZW",
    "_Other Countries and Territorie": "ZZ",
}  # fmt: skip
OTHER = "ZZ"  # the "Other Countries and Territories" fallback sheet (Annex IV pt 4.1, 2025/2083)

SOURCE_NAME = "default_values_2025_2621.json"
SOURCE_DESCRIPTION = (
    "Impl. Reg. (EU) 2025/2621 Annex (definitive-period default values), third-party parse of the "
    "Commission spreadsheet DVs_as_adopted_v20260204.xlsx (repo adarbayev/carbon-ledger-mrv, "
    "commit e409d05) as saved in shared/reference; not cross-checked against the OJ annex"
)
# Row layout of the extract: compact arrays instead of objects (keeps the file well under 1.5 MB).
COLUMNS = ["cn", "desc", "sector", "d", "i", "t", "m26", "m27", "m28", "rt", "ia"]


def build_extract(source: Path) -> dict[str, Any]:
    raw = source.read_bytes()
    data: dict[str, list[dict[str, Any]]] = json.loads(raw)
    descs: list[str] = []
    desc_index: dict[str, int] = {}
    countries: dict[str, dict[str, Any]] = {}
    for name, rows in data.items():
        code = COUNTRY_CODES[name]
        out_rows: list[list[Any]] = []
        for r in rows:
            if r["desc"] not in desc_index:
                desc_index[r["desc"]] = len(descs)
                descs.append(r["desc"])
            out_rows.append(
                [
                    r["cn"].replace(" ", ""),
                    desc_index[r["desc"]],
                    r["sector"],
                    r["d"],
                    r["i"],
                    r["t"],
                    r["m26"],
                    r["m27"],
                    r["m28"],
                    r.get("rt"),
                    r["ia"],
                ]
            )
        countries[code] = {"name": name, "rows": out_rows}
    return {
        "rule": "eu.cbam.default_values",
        "legal_source": "Implementing Regulation (EU) 2025/2621 of 16 December 2025, Annex",
        "status": "UNCONFIRMED",
        "valid_from": "2026-01-01",
        "recorded_at": "2026-11-23T00:00:00Z",
        "provenance": {
            "source_file": SOURCE_NAME,
            "source_sha256": hashlib.sha256(raw).hexdigest(),
            "description": SOURCE_DESCRIPTION,
            "generated_by": "jurisdictions/tools/extract_defaults.py",
        },
        "units": "tCO2e per tonne of good (hydrogen: per tonne H2); m26/m27/m28 = total incl. mark-up",
        "columns": COLUMNS,
        "descriptions": descs,
        "countries": countries,
    }


def dump(extract: dict[str, Any]) -> str:
    return json.dumps(extract, ensure_ascii=False, separators=(",", ":"), sort_keys=False) + "\n"


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent.parent
    source = Path(argv[0]) if argv else here.parent.parent / "shared" / "reference" / SOURCE_NAME
    target = Path(argv[1]) if len(argv) > 1 else here / "rules" / SOURCE_NAME
    target.write_text(dump(build_extract(source)), encoding="utf-8")
    print(f"wrote {target} ({target.stat().st_size} bytes) from {source}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
