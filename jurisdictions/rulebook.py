"""Regulatory figures as versioned, bitemporal data.

WHY: CBAM figures change by implementing act (defaults: Impl. Reg. 2025/2621, benchmarks: 2025/2620,
prices: 2025/2548, Art. 9 act still in draft) and many are UNCONFIRMED in the reference. A change must be
a data change with a test, and a past result must stay reproducible, so every figure carries its value,
legal source and status, and every rule version carries two times:

* valid time  ``[valid_from, valid_to)`` - the period of imports the version governs;
* record time ``recorded_at``            - when the hub learned of this version.

``Rulebook.at(valid_on, known_at)`` returns what the hub knew at ``known_at`` about the rule in force on
``valid_on``: among versions recorded by ``known_at`` that cover ``valid_on``, the latest recorded wins,
so a correction recorded later supersedes without erasing the version a filed result used.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = [
    "Figure",
    "FigureMissing",
    "RuleError",
    "RuleVersion",
    "Rulebook",
    "Status",
    "load_rulebook",
]


class Status(StrEnum):
    """How far a figure is verified (the reference's own vocabulary, plus ABSENT for known gaps)."""

    CONFIRMED = "CONFIRMED"
    UNCONFIRMED = "UNCONFIRMED"
    ABSENT = "ABSENT"  # the rule exists, its figure is not in the reference yet


class RuleError(ValueError):
    """Rule data is inconsistent (overlapping versions recorded at the same time, bad JSON shape)."""


class FigureMissing(LookupError):
    """A calculation needed a figure that the rule version does not carry (or carries as ABSENT)."""


@dataclass(frozen=True, slots=True)
class Figure:
    """One regulatory figure with its provenance; ``value`` is Decimal for numbers, never float."""

    key: str
    value: Any
    status: Status
    source: str


@dataclass(frozen=True, slots=True)
class RuleVersion:
    rule_set: str
    version: str
    valid_from: date
    valid_to: date | None  # exclusive; None = open-ended
    recorded_at: datetime
    figures: Mapping[str, Figure]
    note: str = ""
    supersedes: str | None = None

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)

    def figure(self, key: str) -> Figure:
        fig = self.figures.get(key)
        if fig is None or fig.status is Status.ABSENT:
            raise FigureMissing(f"{self.version}: figure {key!r} is not available")
        return fig

    def get(self, key: str) -> Figure | None:
        """The figure, or None where it is missing or ABSENT (callers record the gap)."""
        fig = self.figures.get(key)
        return None if fig is None or fig.status is Status.ABSENT else fig

    def decimal(self, key: str) -> Decimal:
        v = self.figure(key).value
        if not isinstance(v, Decimal):
            raise RuleError(f"{self.version}: figure {key!r} is not a number")
        return v

    def strings(self, key: str) -> tuple[str, ...]:
        v = self.figure(key).value
        if not isinstance(v, list):
            raise RuleError(f"{self.version}: figure {key!r} is not a list")
        return tuple(str(x) for x in v)

    def flag(self, key: str) -> bool:
        v = self.figure(key).value
        if not isinstance(v, bool):
            raise RuleError(f"{self.version}: figure {key!r} is not a boolean")
        return v

    def revised(
        self,
        version: str,
        recorded_at: datetime,
        changes: Mapping[str, Figure],
        *,
        valid_from: date | None = None,
        valid_to: date | None = None,
        note: str = "",
    ) -> RuleVersion:
        """A new version equal to this one except ``changes`` (a correction or a new act)."""
        figs = dict(self.figures)
        figs.update(changes)
        return RuleVersion(
            rule_set=self.rule_set,
            version=version,
            valid_from=valid_from or self.valid_from,
            valid_to=valid_to if valid_from is not None or valid_to is not None else self.valid_to,
            recorded_at=recorded_at,
            figures=figs,
            note=note,
            supersedes=self.version,
        )


@dataclass(frozen=True, slots=True)
class Rulebook:
    """All recorded versions of one rule set; immutable (adding a version returns a new book)."""

    rule_set: str
    versions: tuple[RuleVersion, ...] = field(default_factory=tuple)

    def with_version(self, v: RuleVersion) -> Rulebook:
        if v.rule_set != self.rule_set:
            raise RuleError(f"version {v.version} belongs to {v.rule_set}, not {self.rule_set}")
        if any(x.version == v.version for x in self.versions):
            raise RuleError(f"version {v.version} already recorded")
        return Rulebook(self.rule_set, (*self.versions, v))

    def at(self, valid_on: date, known_at: datetime | None = None) -> RuleVersion:
        known = known_at or datetime.now(UTC)
        cands = [v for v in self.versions if v.recorded_at <= known and v.covers(valid_on)]
        if not cands:
            raise FigureMissing(f"{self.rule_set}: no rule version for {valid_on} known at {known}")
        latest = max(v.recorded_at for v in cands)
        top = [v for v in cands if v.recorded_at == latest]
        if len(top) > 1:
            raise RuleError(
                f"{self.rule_set}: versions {[v.version for v in top]} recorded at the same time "
                f"both cover {valid_on}"
            )
        return top[0]

    def version(self, name: str) -> RuleVersion:
        for v in self.versions:
            if v.version == name:
                return v
        raise FigureMissing(f"{self.rule_set}: no version {name!r}")


def _parse_value(v: Any) -> Any:
    if isinstance(v, float):  # pragma: no cover - json.loads(parse_float=Decimal) prevents this
        raise RuleError("floats are not allowed in rule data")
    if isinstance(v, str) and v.startswith("dec:"):
        return Decimal(v[4:])
    if isinstance(v, list):
        return [_parse_value(x) for x in v]
    return v


def _parse_time(s: str) -> datetime:
    t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    if t.tzinfo is None:
        raise RuleError(f"recorded_at {s!r} must carry a time zone")
    return t


def parse_rulebook(doc: Mapping[str, Any]) -> Rulebook:
    """Build a Rulebook from the JSON shape of ``rules/*.json`` (see jurisdictions/README.md)."""
    rule_set = str(doc["rule_set"])
    book = Rulebook(rule_set)
    base: dict[str, RuleVersion] = {}
    for raw in doc["versions"]:
        figs: dict[str, Figure] = {}
        parent = raw.get("extends")
        if parent is not None:
            figs.update(base[parent].figures)
        for key, f in raw["figures"].items():
            figs[key] = Figure(
                key=key,
                value=_parse_value(f.get("value")),
                status=Status(f["status"]),
                source=str(f["source"]),
            )
        v = RuleVersion(
            rule_set=rule_set,
            version=str(raw["version"]),
            valid_from=date.fromisoformat(raw["valid_from"]),
            valid_to=date.fromisoformat(raw["valid_to"]) if raw.get("valid_to") else None,
            recorded_at=_parse_time(raw["recorded_at"]),
            figures=figs,
            note=str(raw.get("note", "")),
            supersedes=raw.get("supersedes"),
        )
        base[v.version] = v
        book = book.with_version(v)
    return book


def load_json(name: str) -> Any:
    """Read a packaged rule file; numbers become Decimal so no figure passes through binary float."""
    text = resources.files("cbamhub.jurisdictions").joinpath("rules", name).read_text("utf-8")
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


def load_rulebook(name: str = "eu_cbam.json", extra: Iterable[Path] = ()) -> Rulebook:
    """The packaged rule set ``name``, plus versions from ``extra`` files (local corrections)."""
    book = parse_rulebook(load_json(name))
    for p in extra:
        more = parse_rulebook(json.loads(p.read_text("utf-8"), parse_float=Decimal))
        for v in more.versions:
            book = book.with_version(v)
    return book
