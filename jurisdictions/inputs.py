"""Import lines and report headers from JSON or CSV text (the CLI's files), with precise errors.

WHY here: the file formats are part of the calculation's contract (what a broker's export must
carry), and parsing them strictly, every number as an exact Decimal from its text, keeps a filed
figure reproducible to the digit. Field names are snake_case in both formats:

``line_id, cn, net_mass, origin, import_date`` (required); ``see_direct, see_indirect`` (actual data,
both or neither), ``installation_id, route, commitment`` (optional); JSON lines may also carry
``carbon_price`` {scheme, country, year, currency, price_per_tco2e, priced_emissions_per_t,
rebate_per_tco2e?, certified_by?, legal_act?, commitment?}. A JSON file is a list of lines or an
object {"importer": ..., "lines": [...]}.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .art9 import CarbonPricePaid
from .declaration import ImportLine
from .documents import Address, Declarant, ReportHeader
from .see import SEE

__all__ = [
    "InputError",
    "LineFile",
    "parse_header",
    "parse_line",
    "parse_time",
    "read_lines",
]

LINE_FIELDS = (
    "line_id",
    "cn",
    "net_mass",
    "origin",
    "import_date",
    "see_direct",
    "see_indirect",
    "installation_id",
    "route",
    "commitment",
)


class InputError(ValueError):
    """The input cannot be read as import lines (says where and what)."""


@dataclass(frozen=True, slots=True)
class LineFile:
    importer: str | None
    lines: tuple[ImportLine, ...]


def _get(row: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    value = row.get(key)
    if value is None or (isinstance(value, str) and value.strip() == ""):
        if required:
            raise InputError(f"{where}: missing {key}")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InputError(f"{where}: {key} must be text or a number")
    return str(value).strip()


def _decimal(
    row: Mapping[str, Any], key: str, where: str, *, required: bool = True
) -> Decimal | None:
    text = _get(row, key, where, required=required)
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InputError(f"{where}: {key} {text!r} is not a decimal number") from None
    if not value.is_finite():
        raise InputError(f"{where}: {key} must be finite")
    return value


def _req_decimal(row: Mapping[str, Any], key: str, where: str) -> Decimal:
    value = _decimal(row, key, where)
    assert value is not None
    return value


def _date(text: str, key: str, where: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{where}: {key} {text!r} is not a date YYYY-MM-DD") from None


def _carbon_price(raw: Any, where: str) -> CarbonPricePaid:
    if not isinstance(raw, Mapping):
        raise InputError(f"{where}: carbon_price must be an object")
    w = f"{where}.carbon_price"
    year = _get(raw, "year", w)
    assert year is not None
    if not year.isdigit():
        raise InputError(f"{w}: year {year!r} is not a year")
    return CarbonPricePaid(
        scheme=_get(raw, "scheme", w) or "",
        country=(_get(raw, "country", w) or "").upper(),
        year=int(year),
        currency=(_get(raw, "currency", w) or "").upper(),
        price_per_tco2e=_req_decimal(raw, "price_per_tco2e", w),
        priced_emissions_per_t=_req_decimal(raw, "priced_emissions_per_t", w),
        rebate_per_tco2e=_decimal(raw, "rebate_per_tco2e", w, required=False) or Decimal(0),
        certified_by=_get(raw, "certified_by", w, required=False),
        legal_act=_get(raw, "legal_act", w, required=False) or "",
        commitment=_get(raw, "commitment", w, required=False),
    )


def parse_line(row: Mapping[str, Any], where: str) -> ImportLine:
    """One import line from a mapping of the field names above; InputError names the field."""
    direct = _decimal(row, "see_direct", where, required=False)
    indirect = _decimal(row, "see_indirect", where, required=False)
    if (direct is None) != (indirect is None):
        raise InputError(f"{where}: give both see_direct and see_indirect, or neither")
    origin = _get(row, "origin", where) or ""
    if len(origin) != 2 or not origin.isalpha():
        raise InputError(f"{where}: origin {origin!r} is not an ISO 3166-1 alpha-2 code")
    cn = (_get(row, "cn", where) or "").replace(" ", "")
    if not cn.isdigit() or not 4 <= len(cn) <= 8:
        raise InputError(f"{where}: cn {cn!r} is not a CN code of 4 to 8 digits")
    raw_cp = row.get("carbon_price")
    return ImportLine(
        line_id=_get(row, "line_id", where) or "",
        cn=cn,
        net_mass=_req_decimal(row, "net_mass", where),
        origin=origin.upper(),
        import_date=_date(_get(row, "import_date", where) or "", "import_date", where),
        actual_see=None if direct is None or indirect is None else SEE(direct, indirect),
        installation_id=_get(row, "installation_id", where, required=False),
        route=_get(row, "route", where, required=False),
        carbon_price=None if raw_cp is None else _carbon_price(raw_cp, where),
        commitment=_get(row, "commitment", where, required=False),
    )


def _unique(lines: list[ImportLine]) -> tuple[ImportLine, ...]:
    seen: set[str] = set()
    for ln in lines:
        if ln.line_id in seen:
            raise InputError(f"line_id {ln.line_id!r} appears twice")
        seen.add(ln.line_id)
    return tuple(lines)


def read_lines(text: str, fmt: str) -> LineFile:
    """Import lines from ``text`` in ``fmt`` ("json" or "csv")."""
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text))
        missing = [f for f in LINE_FIELDS[:5] if f not in (reader.fieldnames or ())]
        if missing:
            raise InputError(f"CSV header lacks {', '.join(missing)}")
        rows = [parse_line(row, f"row {i}") for i, row in enumerate(reader, start=2)]
        return LineFile(None, _unique(rows))
    if fmt != "json":
        raise InputError(f"unknown input format {fmt!r}")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"not JSON: {error}") from None
    importer: str | None = None
    if isinstance(doc, Mapping):
        importer = _get(doc, "importer", "file", required=False)
        doc = doc.get("lines")
    if not isinstance(doc, list):
        raise InputError("expected a list of lines or an object with a 'lines' list")
    lines = []
    for i, raw in enumerate(doc):
        if not isinstance(raw, Mapping):
            raise InputError(f"line {i}: not an object")
        lines.append(parse_line(raw, f"line {i}"))
    return LineFile(importer, _unique(lines))


def parse_header(raw: Any) -> ReportHeader:
    """A QReport header from JSON: report_id, submission_date, declarant{identification_number,
    name, role?, address{country, city, street?, number?, postcode?}}, nca_reference,
    signature_date, signature_place, signatory, position."""
    if not isinstance(raw, Mapping):
        raise InputError("the report header must be a JSON object")
    w = "header"
    dec = raw.get("declarant")
    if not isinstance(dec, Mapping) or not isinstance(dec.get("address"), Mapping):
        raise InputError(f"{w}: declarant with an address object required")
    addr = dec["address"]
    wa = f"{w}.declarant.address"

    def req(m: Mapping[str, Any], key: str, where: str) -> str:
        return _get(m, key, where) or ""

    return ReportHeader(
        report_id=req(raw, "report_id", w),
        submission_date=_date(req(raw, "submission_date", w), "submission_date", w),
        declarant=Declarant(
            identification_number=req(dec, "identification_number", f"{w}.declarant"),
            name=req(dec, "name", f"{w}.declarant"),
            role=_get(dec, "role", f"{w}.declarant", required=False) or "01",
            address=Address(
                country=req(addr, "country", wa).upper(),
                city=req(addr, "city", wa),
                street=_get(addr, "street", wa, required=False),
                number=_get(addr, "number", wa, required=False),
                postcode=_get(addr, "postcode", wa, required=False),
            ),
        ),
        nca_reference=req(raw, "nca_reference", w),
        signature_date=_date(req(raw, "signature_date", w), "signature_date", w),
        signature_place=req(raw, "signature_place", w),
        signatory=req(raw, "signatory", w),
        position=req(raw, "position", w),
    )


def parse_time(text: str) -> datetime:
    """An RFC 3339 time with a zone (known-at of a declaration)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"{text!r} is not an ISO 8601 time") from None
    if value.tzinfo is None:
        raise InputError(f"{text!r} needs a time zone (e.g. 2026-11-23T00:00:00+00:00)")
    return value
