"""The all-or-nothing result of parsing a batch, and its error report.

WHY: a batch is atomic — one bad row rejects the whole file, and the submitter needs every bad row at
once (row, field, reason), not the first one per attempt. Parsers stream their input into a
`Collector`, which keeps records only while the batch is still clean and every problem always.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from ..errors import BadInput
from ..record_model import EmissionsRecord, Tolerance, parse_record, validation_problems

__all__ = ["Batch", "BatchRejected", "Collector", "Problem"]

T = TypeVar("T")


@dataclass(frozen=True)
class Problem:
    location: str
    """Where in the file: "row 3" (CSV, header = row 1), "line 7" (JSON Lines), or a JSON path."""
    field: str
    """The record field (dotted, KIT names), or "(row)", "(line)", "(message)" for the whole item."""
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"location": self.location, "field": self.field, "reason": self.reason}


class BatchRejected(BadInput):
    """The batch has problems; nothing in it may be written. `details["problems"]` lists them all."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        count = len(problems)
        super().__init__(
            f"the batch is rejected: {count} problem{'s' if count != 1 else ''}",
            {"problems": [p.as_dict() for p in problems]},
        )
        self.problems = tuple(problems)


@dataclass(frozen=True)
class Batch(Generic[T]):
    """Either every record of the input (no problems) or no record and every problem."""

    records: tuple[T, ...]
    problems: tuple[Problem, ...]

    def __post_init__(self) -> None:
        if self.records and self.problems:
            raise ValueError("a batch never carries records and problems together")

    @property
    def ok(self) -> bool:
        return not self.problems

    def accepted(self) -> tuple[T, ...]:
        """The records; raises BatchRejected when the batch has problems."""
        if self.problems:
            raise BatchRejected(self.problems)
        return self.records


@dataclass
class Collector(Generic[T]):
    """Streams items in: keeps records until the first problem, then only problems."""

    _records: list[T] = field(default_factory=list)
    _problems: list[Problem] = field(default_factory=list)

    def add(self, record: T) -> None:
        if not self._problems:
            self._records.append(record)

    def problem(self, location: str, field_name: str, reason: str) -> None:
        self._records.clear()
        self._problems.append(Problem(location, field_name, reason))

    @property
    def clean(self) -> bool:
        return not self._problems

    def result(self) -> Batch[T]:
        if self._problems:
            return Batch((), tuple(self._problems))
        return Batch(tuple(self._records), ())


def validate_record(
    collector: Collector[EmissionsRecord],
    document: Mapping[str, Any],
    location: str,
    *,
    tolerance: Tolerance | None = None,
    locate: Mapping[str, str] | None = None,
    reported: frozenset[str] = frozenset(),
) -> EmissionsRecord | None:
    """Validate one record into the collector.

    `locate` maps a top-level field to another location; problems of fields in `reported` were
    already reported by the caller in its own words and are not repeated.
    """
    try:
        record = parse_record(document, tolerance=tolerance)
    except ValidationError as error:
        for name, reason in validation_problems(error):
            if name in reported:
                continue
            top = name.split(".", 1)[0].split("[", 1)[0]
            where = (locate or {}).get(top, location)
            collector.problem(where, name, reason)
        return None
    collector.add(record)
    return record
