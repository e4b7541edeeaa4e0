"""What the policy answers (`Decision`, `Scope`) and the strict reading of its raw answers.

An answer that does not have exactly the expected shape is an engine failure, never a guess: the
parsers raise `PolicyEngineError` and the `Authorizer` turns that into a denial.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr, ValidationError

from .errors import PolicyEngineError
from .subjects import RecordRef


@dataclass(frozen=True)
class Decision:
    """allow, and which fields may be returned: None = every field, else exactly these."""

    allow: bool
    fields: frozenset[str] | None
    reason: str

    def permits(self, field: str) -> bool:
        return self.allow and (self.fields is None or field in self.fields)

    def mask(self, document: Mapping[str, Any]) -> dict[str, Any]:
        """The top-level keys of `document` this decision lets through (nothing if denied)."""
        if not self.allow:
            return {}
        if self.fields is None:
            return dict(document)
        return {k: v for k, v in document.items() if k in self.fields}


@dataclass(frozen=True)
class Scope:
    """One part of a principal's compiled grant set: a SQL-able filter and the fields it yields.

    None = any value (region None = every shard); `cn_codes` empty = any CN code, else a prefix
    match; `fields` None = every field.
    """

    grant_id: str | None
    manufacturer_id: str | None
    installation_id: str | None
    product_line_id: str | None
    cn_codes: tuple[str, ...]
    record_id: str | None
    region: str | None
    fields: frozenset[str] | None

    def matches(self, record: RecordRef) -> bool:
        """The reference meaning of a scope, which a SQL WHERE built from it must equal."""
        return (
            _any_or_equal(self.manufacturer_id, record.manufacturer_id)
            and _any_or_equal(self.installation_id, record.installation_id)
            and _any_or_equal(self.product_line_id, record.product_line_id)
            and _any_or_equal(self.record_id, record.id)
            and _any_or_equal(self.region, record.region)
            and (not self.cn_codes or any(record.cn_code.startswith(c) for c in self.cn_codes))
        )


def _any_or_equal(wanted: str | None, actual: str | None) -> bool:
    return wanted is None or wanted == actual


def fields_for(scopes: Iterable[Scope], record: RecordRef) -> frozenset[str] | bool | None:
    """The fields `record` may return under `scopes`: False if no scope matches it, None if every
    field, else the union of the matching scopes' fields."""
    matching = [s for s in scopes if s.matches(record)]
    if not matching:
        return False
    if any(s.fields is None for s in matching):
        return None
    return frozenset().union(*(s.fields or frozenset() for s in matching))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _DecisionAnswer(_Strict):
    allow: StrictBool
    fields: list[StrictStr] | None
    reason: StrictStr


class _ScopeAnswer(_Strict):
    grant_id: StrictStr | None
    manufacturer_id: StrictStr | None
    installation_id: StrictStr | None
    product_line_id: StrictStr | None
    cn_codes: list[StrictStr]
    record_id: StrictStr | None
    region: StrictStr | None
    fields: list[StrictStr] | None


def parse_decision(path: str, answer: Any) -> Decision:
    if answer is None:
        raise PolicyEngineError(
            f"policy {path} gave no decision (undefined): is the bundle loaded?"
        )
    try:
        parsed = _DecisionAnswer.model_validate(answer)
    except ValidationError as exc:
        raise PolicyEngineError(f"policy {path} answered a malformed decision: {exc}") from exc
    if not parsed.allow:
        return Decision(False, frozenset(), parsed.reason)
    fields = None if parsed.fields is None else frozenset(parsed.fields)
    return Decision(True, fields, parsed.reason)


def parse_scopes(path: str, answer: Any) -> tuple[Scope, ...]:
    if not isinstance(answer, list):
        raise PolicyEngineError(f"policy {path} answered {type(answer).__name__}, not a scope list")
    try:
        parsed = [_ScopeAnswer.model_validate(item) for item in answer]
    except ValidationError as exc:
        raise PolicyEngineError(f"policy {path} answered a malformed scope: {exc}") from exc
    scopes = {
        Scope(
            grant_id=s.grant_id,
            manufacturer_id=s.manufacturer_id,
            installation_id=s.installation_id,
            product_line_id=s.product_line_id,
            cn_codes=tuple(sorted(s.cn_codes)),
            record_id=s.record_id,
            region=s.region,
            fields=None if s.fields is None else frozenset(s.fields),
        )
        for s in parsed
    }
    return tuple(sorted(scopes, key=_scope_order))


def _scope_order(scope: Scope) -> tuple[str, ...]:
    return tuple(
        value or ""
        for value in (
            scope.region,
            scope.manufacturer_id,
            scope.product_line_id,
            scope.installation_id,
            scope.record_id,
            scope.grant_id,
            ",".join(scope.cn_codes),
            ",".join(sorted(scope.fields)) if scope.fields is not None else "*",
        )
    )
