"""JSON Lines: one emissions record (KIT field names) per line.

Blank lines are skipped; line numbers in the report count every physical line from 1.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from ..record_model import EmissionsRecord, Tolerance, record_document
from .report import Batch, Collector, validate_record

__all__ = ["parse_jsonl", "write_jsonl"]


def parse_jsonl(
    lines: Iterable[str | bytes], *, tolerance: Tolerance | None = None
) -> Batch[EmissionsRecord]:
    collector: Collector[EmissionsRecord] = Collector()
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
            collector.problem(location, "(line)", "a line holds one JSON object (one record)")
            continue
        validate_record(collector, document, location, tolerance=tolerance)
    if seen == 0:
        collector.problem("line 1", "(file)", "the file holds no records")
    return collector.result()


def write_jsonl(records: Iterable[EmissionsRecord]) -> Iterator[str]:
    """One line per record (with its newline), canonical units, absent figures left out."""
    for record in records:
        yield json.dumps(record_document(record), ensure_ascii=False, separators=(",", ":")) + "\n"
