"""CSV: one emissions record per row, under a documented header (`CSV_COLUMNS`).

WHY this layout: the header names are the record's KIT field paths (``activityData.netMass``), so a
spreadsheet column maps one to one to the record and to the Catena-X KIT. Rules:

- the header row is row 1 and may hold any subset of `CSV_COLUMNS`, in any order; an unknown or
  repeated column rejects the file;
- an empty cell is an absent value (``None``), never zero;
- a quantity cell holds a number in the column's canonical unit, or a number and a unit separated by
  a space (``1500 kg``, ``450 gCO2/kWh``), converted by `cbamhub.vault.units`;
- the list fields (`JSON_COLUMNS`: precursors, carbonPricePaid, evidenceDocuments, missingData) hold a
  JSON array of objects with KIT field names;
- rows whose cells are all empty are skipped.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ..record_model import (
    ActivityData,
    AttestationOfConformance,
    DirectEmissions,
    EmissionsRecord,
    IndirectEmissions,
    ProductionMethod,
    Tolerance,
    record_document,
    unit_plan,
)
from .report import Batch, Collector, validate_record

__all__ = ["CSV_COLUMNS", "JSON_COLUMNS", "QUANTITY_COLUMNS", "parse_csv", "write_csv"]

_NESTED: dict[str, type[Any]] = {
    "productionMethod": ProductionMethod,
    "activityData": ActivityData,
    "directEmissions": DirectEmissions,
    "indirectEmissions": IndirectEmissions,
    "attestationOfConformance": AttestationOfConformance,
}
JSON_COLUMNS = ("precursors", "carbonPricePaid", "evidenceDocuments", "missingData")


def _columns() -> tuple[str, ...]:
    out: list[str] = []
    for info in EmissionsRecord.model_fields.values():
        alias = str(info.alias)
        if alias in _NESTED:
            out.extend(f"{alias}.{sub.alias}" for sub in _NESTED[alias].model_fields.values())
        else:
            out.append(alias)
    return tuple(out)


CSV_COLUMNS = _columns()
QUANTITY_COLUMNS = frozenset(p for p in unit_plan(None) if "*" not in p)
_QUANTITY = re.compile(r"^\s*([-+]?[0-9][0-9_.eE+-]*)\s+(\S.*?)\s*$")


def _cell_value(column: str, cell: str) -> Any:
    if column in JSON_COLUMNS:
        value = json.loads(cell)
        if not isinstance(value, list):
            raise ValueError("this column holds a JSON array")
        return value
    if column in QUANTITY_COLUMNS:
        match = _QUANTITY.match(cell)
        if match:
            return {"value": match.group(1), "unit": match.group(2)}
    return cell


def _document(header: list[str], cells: list[str]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    document: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for column, raw in zip(header, cells, strict=True):
        cell = raw.strip()
        if not cell:
            continue
        try:
            value = _cell_value(column, cell)
        except (ValueError, json.JSONDecodeError) as error:
            problems.append((column, f"not a JSON array of objects: {error}"))
            continue
        top, _, sub = column.partition(".")
        if sub:
            document.setdefault(top, {})[sub] = value
        else:
            document[top] = value
    return document, problems


def parse_csv(
    lines: Iterable[str], *, tolerance: Tolerance | None = None
) -> Batch[EmissionsRecord]:
    """Every record of the file, or every problem with its row (header = row 1) and column."""
    collector: Collector[EmissionsRecord] = Collector()
    rows = csv.reader(iter(lines))
    try:
        header = [h.strip() for h in next(rows)]
    except StopIteration:
        collector.problem("row 1", "(header)", "the file is empty")
        return collector.result()
    except csv.Error as error:
        collector.problem("row 1", "(header)", f"unreadable CSV: {error}")
        return collector.result()
    if header:
        header[0] = header[0].removeprefix("\ufeff")
    known = set(CSV_COLUMNS)
    for column in header:
        if column not in known:
            collector.problem("row 1", column or "(empty)", "unknown column (see CSV_COLUMNS)")
        elif header.count(column) > 1:
            collector.problem("row 1", column, "the column appears more than once")
    if not collector.clean:
        return collector.result()
    number = 1
    records = 0
    while True:
        try:
            cells = next(rows)
        except StopIteration:
            break
        except csv.Error as error:
            number += 1
            collector.problem(f"row {number}", "(row)", f"unreadable CSV: {error}")
            continue
        number += 1
        location = f"row {number}"
        if not any(c.strip() for c in cells):
            continue
        records += 1
        if len(cells) != len(header):
            collector.problem(
                location, "(row)", f"{len(cells)} cells, but the header has {len(header)} columns"
            )
            continue
        document, problems = _document(header, cells)
        for column, reason in problems:
            collector.problem(location, column, reason)
        if not problems:
            validate_record(collector, document, location, tolerance=tolerance)
    if records == 0 and collector.clean:
        collector.problem("row 2", "(file)", "the file holds no records")
    return collector.result()


def _cells(document: Mapping[str, Any]) -> dict[str, str]:
    cells: dict[str, str] = {}
    for key, value in document.items():
        if key in JSON_COLUMNS:
            if value:
                cells[key] = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        elif isinstance(value, Mapping):
            for sub, inner in value.items():
                cells[f"{key}.{sub}"] = str(inner)
        else:
            cells[key] = str(value)
    return cells


def write_csv(records: Iterable[EmissionsRecord]) -> Iterator[str]:
    """The header and one line per record (canonical units), as lines for a text file."""

    class _Line:
        def __init__(self) -> None:
            self.text = ""

        def write(self, text: str) -> None:
            self.text += text

    def line(values: list[str]) -> str:
        out = _Line()
        csv.writer(out, lineterminator="\n").writerow(values)
        return out.text

    yield line(list(CSV_COLUMNS))
    for record in records:
        cells = _cells(record_document(record))
        yield line([cells.get(c, "") for c in CSV_COLUMNS])
