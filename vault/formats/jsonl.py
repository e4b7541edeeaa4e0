"""JSON Lines: one emissions record (KIT field names) per line.

Blank lines are skipped; line numbers in the report count every physical line from 1.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from ..record_model import EmissionsRecord, Tolerance, record_document
from .report import Batch, Collector, validate_record

__all__ = ["parse_jsonl", "write_jsonl"]


def json_objects(
    lines: Iterable[str | bytes], collector: Collector[Any], what: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(location, object) of each non-blank line holding a JSON object; any other line is a problem
    in `collector`, and a file without one such line is too (`what` names what a line holds)."""
    seen = 0
    for number, raw in enumerate(lines, start=1):
        text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
        if not text.strip():
            continue
        seen += 1
        location = f"line {number}"
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            collector.problem(location, "(line)", f"not JSON: {error.msg} at column {error.colno}")
            continue
        if not isinstance(document, dict):
            collector.problem(location, "(line)", f"a line holds one JSON object ({what})")
            continue
        yield location, document
    if seen == 0:
        collector.problem("line 1", "(file)", f"the file holds no {what}s")


def parse_jsonl(
    lines: Iterable[str | bytes], *, tolerance: Tolerance | None = None
) -> Batch[EmissionsRecord]:
    collector: Collector[EmissionsRecord] = Collector()
    for location, document in json_objects(lines, collector, "record"):
        validate_record(collector, document, location, tolerance=tolerance)
    return collector.result()


def write_jsonl(records: Iterable[EmissionsRecord]) -> Iterator[str]:
    """One line per record (with its newline), canonical units, absent figures left out."""
    for record in records:
        yield json.dumps(record_document(record), ensure_ascii=False, separators=(",", ":")) + "\n"
