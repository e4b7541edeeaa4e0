"""Grants and verification assignments as the policy reads them.

The vault owns the grants table (same field names); this module only turns grants into the policy's
input: a map importer id -> product line id ("*" for a grant by CN code alone) -> grant id -> grant,
so the policy looks grants up instead of scanning a list.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

ANY_PRODUCT_LINE = "*"


def rfc3339(moment: datetime) -> str:
    """UTC with a "Z" suffix: one spelling, so equal instants are equal strings in cache keys."""
    if moment.tzinfo is None:
        raise ValueError(f"{moment!r} has no time zone; grants need aware datetimes")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Grant:
    """A manufacturer's permission for an importer to read some of its records.

    `cn_codes` empty = every CN code of the product line (a listed code matches as a prefix);
    `fields` None = every field; `valid_until` None = until revoked.
    """

    grant_id: str
    manufacturer_id: str
    importer_id: str
    product_line_id: str | None
    installation_id: str | None
    cn_codes: tuple[str, ...]
    fields: frozenset[str] | None
    purpose: str
    valid_from: datetime
    valid_until: datetime | None
    revoked: bool

    def __post_init__(self) -> None:
        rfc3339(self.valid_from)
        if self.valid_until is not None:
            rfc3339(self.valid_until)

    def to_input(self) -> dict[str, Any]:
        return {
            "grant_id": self.grant_id,
            "manufacturer_id": self.manufacturer_id,
            "importer_id": self.importer_id,
            "product_line_id": self.product_line_id,
            "installation_id": self.installation_id,
            "cn_codes": list(self.cn_codes),
            "fields": None if self.fields is None else sorted(self.fields),
            "purpose": self.purpose,
            "valid_from": rfc3339(self.valid_from),
            "valid_until": None if self.valid_until is None else rfc3339(self.valid_until),
            "revoked": self.revoked,
        }


@dataclass(frozen=True)
class GrantSet:
    """The grants a decision may rely on, with a version that changes whenever any of them does.

    The version keys the decision cache: a grant created or revoked means a new version, so no
    cached decision outlives the grants it was made from.
    """

    version: str
    grants: tuple[Grant, ...] = ()

    @classmethod
    def of(cls, version: str, grants: Iterable[Grant]) -> GrantSet:
        return cls(version, tuple(grants))

    @cached_property
    def document(self) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
        """importer id -> product line id or "*" -> grant id -> grant (built once per set)."""
        tree: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
        for grant in self.grants:
            line = grant.product_line_id or ANY_PRODUCT_LINE
            tree.setdefault(grant.importer_id, {}).setdefault(line, {})[grant.grant_id] = (
                grant.to_input()
            )
        return tree

    def lookup(self, importer_id: str, product_line_id: str | None) -> dict[str, Any]:
        """The part of `document` a decision about one record looks at: the importer's grants on
        the record's product line and its "*" grants, under the same keys.

        Converting the input is most of a decision's cost in rego-cpp (300 grants, ~100 KB of
        JSON: ~50 ms; this slice: ~1 ms, measured in bench/bench_policy.py), and the policy looks
        up exactly these keys. A slice can only hold fewer grants than the whole, so it can turn
        an allow into a denial, never the reverse.
        """
        lines = self.document.get(importer_id)
        if lines is None:
            return {}
        keys = (product_line_id, ANY_PRODUCT_LINE) if product_line_id else (ANY_PRODUCT_LINE,)
        return {importer_id: {k: lines[k] for k in keys if k in lines}}

    def of_importer(self, importer_id: str) -> dict[str, Any]:
        """The importer's own grants (what its compiled grant set is made from)."""
        lines = self.document.get(importer_id)
        return {} if lines is None else {importer_id: lines}

    @cached_property
    def _boundaries(self) -> tuple[datetime, ...]:
        moments = {g.valid_from for g in self.grants}
        moments.update(g.valid_until for g in self.grants if g.valid_until is not None)
        return tuple(sorted(moments))

    def next_boundary(self, after: datetime) -> datetime | None:
        """The first instant after `after` at which some grant starts or ends: a decision made at
        `after` may change then, so it is not cached beyond it."""
        return next((m for m in self._boundaries if m > after), None)


@dataclass(frozen=True)
class AssignmentSet:
    """Verification assignments: record id -> the verifier asked to verify it."""

    version: str
    verifier_by_record: Mapping[str, str] = field(default_factory=dict)

    @cached_property
    def document(self) -> dict[str, dict[str, str]]:
        return {record: {"verifier_id": v} for record, v in self.verifier_by_record.items()}


NO_GRANTS = GrantSet("none")
NO_ASSIGNMENTS = AssignmentSet("none")
