"""Explicit, checked units for emissions records (pint), converted to one canonical unit per kind.

WHY: the costliest data errors in CBAM exchanges are unit slips — kilograms written as tonnes, kWh as
MWh, g/kWh as t/MWh. A quantity therefore arrives either as a bare number in the field's fixed
canonical unit, or as ``{"value": ..., "unit": ...}``, which is converted here; a unit of the wrong
dimension is an error that names the field, never a silently stored number. Spellings that industry
uses with a meaning different from pint's (``ton``, ``mt``, ``mWh``, ``kt``) are refused as ambiguous.

Conversions multiply in ``Decimal`` (the factor is cached per unit pair) and round once to a float,
so ``1234.5 kWh`` becomes exactly the float nearest to ``1.2345 MWh``. Plausibility bands are the
anomaly scorer's business, not this module's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from typing import Any

import pint

__all__ = [
    "ELECTRICITY_INTENSITY",
    "EMISSIONS",
    "EMISSION_FACTOR",
    "ENERGY",
    "MASS",
    "SEE_PER_MWH",
    "SEE_PER_TONNE",
    "UnitError",
    "UnitPlan",
    "UnitProblem",
    "canonicalise",
    "compile_plan",
    "conversion_factor",
    "convert",
    "factor_1000_hint",
    "quantity_value",
]

# Canonical units (pint syntax of this module's registry); `co2eq` is a dimension of its own.
MASS = "t"
ENERGY = "MWh"
EMISSIONS = "t co2eq"
SEE_PER_TONNE = "t co2eq / t"
SEE_PER_MWH = "t co2eq / MWh"
EMISSION_FACTOR = "t co2eq / MWh"
ELECTRICITY_INTENSITY = "MWh / t"

CANONICAL_LABELS = {
    MASS: "t",
    ENERGY: "MWh",
    EMISSIONS: "tCO2e",
    SEE_PER_TONNE: "tCO2e/t",
    SEE_PER_MWH: "tCO2e/MWh",
    ELECTRICITY_INTENSITY: "MWh/t",
}

# Spellings whose everyday meaning differs from pint's reading of them.
AMBIGUOUS = {
    "ton": "'ton' is a US short ton to pint but usually meant as a tonne: write 't' or 'short_ton'",
    "tons": "'tons' is US short tons to pint but usually meant as tonnes: write 't' or 'short_ton'",
    "mt": "'mt' reads as millitonne but usually means metric tonne: write 't'",
    "MT": "'MT' reads as megatesla but usually means metric tonne: write 't'",
    "kt": "'kt' reads as knot: write 'kilotonne' or '1000 t'",
    "mWh": "'mWh' is a milliwatt-hour, surely meant as 'MWh'",
    "mwh": "'mwh' is not a unit: write 'MWh' or 'kWh'",
    "kwh": "'kwh' is not a unit: write 'kWh'",
}
_CO2 = re.compile(r"(?i)co(?:2|₂)(?:[-_ ]?e(?:q)?)?\b")


class UnitError(ValueError):
    """A quantity whose unit is unknown, ambiguous or of the wrong dimension for its field."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class UnitProblem:
    """Stands in for a quantity that could not be converted, so the model rejects it at its field."""

    reason: str


@cache
def _registry() -> pint.UnitRegistry[Decimal]:
    registry: pint.UnitRegistry[Decimal] = pint.UnitRegistry(non_int_type=Decimal)
    registry.define("co2eq = [co2e]")
    registry.define("kilotonne = 1000 * t")
    return registry


@cache
def _dimension_names() -> dict[str, str]:
    registry = _registry()
    names = {
        MASS: "a mass",
        ENERGY: "an energy",
        EMISSIONS: "an emission quantity",
        SEE_PER_TONNE: "emissions per tonne",
        SEE_PER_MWH: "emissions per MWh",
        ELECTRICITY_INTENSITY: "energy per tonne",
        "MWh / t co2eq": "energy per emission quantity",
        "t / MWh": "mass per energy",
    }
    return {str(registry.Quantity(1, unit).dimensionality): name for unit, name in names.items()}


def _describe(dimensionality: object) -> str:
    text = str(dimensionality)
    return _dimension_names().get(text, f"of dimension {text}")


def _normalise(unit: str) -> str:
    """`tCO2e/t` -> `t co2eq /t`: pint would read `CO2` as a power, and needs a space before it."""
    return _CO2.sub(" co2eq ", unit).strip()


@lru_cache(maxsize=1024)
def conversion_factor(unit: str, canonical: str) -> Decimal:
    """The exact factor from `unit` to `canonical`; raises UnitError (without a field name)."""
    text = unit.strip()
    if not text:
        raise UnitError("", "the unit is empty")
    if text in AMBIGUOUS:
        raise UnitError("", AMBIGUOUS[text])
    registry = _registry()
    try:
        source = registry.Quantity(Decimal(1), _normalise(text))
    except (pint.errors.UndefinedUnitError, pint.errors.DefinitionSyntaxError, AttributeError):
        raise UnitError("", f"unknown unit {unit!r}") from None
    except Exception as error:  # pint's parser raises plain errors on garbage input
        raise UnitError("", f"unreadable unit {unit!r} ({type(error).__name__})") from None
    target = registry.Quantity(Decimal(1), _normalise(canonical))
    if source.dimensionality != target.dimensionality:
        label = CANONICAL_LABELS.get(canonical, canonical)
        raise UnitError(
            "",
            f"{unit!r} is {_describe(source.dimensionality)}, "
            f"not convertible to {label} ({_describe(target.dimensionality)})",
        )
    magnitude = source.to(target.units).magnitude
    return magnitude if isinstance(magnitude, Decimal) else Decimal(str(magnitude))


def _decimal(value: float | int | str | Decimal) -> Decimal:
    if isinstance(value, bool):
        raise InvalidOperation
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidOperation
        return Decimal(repr(value))
    result = Decimal(value)
    if not result.is_finite():
        raise InvalidOperation
    return result


def convert(
    value: float | int | str | Decimal, unit: str, canonical: str, *, field: str = ""
) -> float:
    """`value` in `unit` expressed in `canonical`, rounded once to a float."""
    try:
        factor = conversion_factor(unit, canonical)
    except UnitError as error:
        raise UnitError(field, error.reason) from None
    try:
        number = _decimal(value)
    except (InvalidOperation, ValueError, TypeError):
        raise UnitError(field, f"the value {value!r} is not a finite number") from None
    return float(number * factor)


def quantity_value(raw: object, canonical: str, *, field: str = "") -> object:
    """A bare number passes through (the field's fixed unit); ``{value, unit}`` is converted.

    Anything else passes through untouched, for the model to reject with its own message.
    """
    if not isinstance(raw, Mapping) or "unit" not in raw:
        return raw
    extra = set(raw) - {"value", "unit"}
    if extra:
        raise UnitError(field, f"a quantity has only 'value' and 'unit', not {sorted(extra)}")
    if "value" not in raw or raw["value"] is None:
        raise UnitError(field, "a quantity needs a 'value' (a missing value is not zero)")
    unit = raw["unit"]
    if not isinstance(unit, str):
        raise UnitError(field, "'unit' must be a string")
    value = raw["value"]
    if not isinstance(value, int | float | str | Decimal):
        raise UnitError(field, f"the value {value!r} is not a number")
    return convert(value, unit, canonical, field=field)


def _walk(data: Any, path: Sequence[str], trail: str) -> Iterator[tuple[Any, str | int, str]]:
    """(container, key, dotted path) for every place `path` reaches; `*` enters each list item."""
    head, rest = path[0], path[1:]
    if head == "*":
        if isinstance(data, list):
            for i in range(len(data)):
                yield from _step(data, i, rest, f"{trail}[{i}]")
        return
    if isinstance(data, dict) and head in data:
        yield from _step(data, head, rest, f"{trail}.{head}" if trail else head)


def _step(
    container: Any, key: str | int, rest: Sequence[str], trail: str
) -> Iterator[tuple[Any, str | int, str]]:
    if rest:
        yield from _walk(container[key], rest, trail)
    else:
        yield container, key, trail


def _copy(data: Any) -> Any:
    if isinstance(data, Mapping):
        return {k: _copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_copy(v) for v in data]
    return data


_PLAIN = frozenset({float, int, str, bool, type(None)})
"""Types a quantity's place holds when it needs no conversion (checked before the ABC Mapping)."""


@dataclass(frozen=True, slots=True)
class _Node:
    """One place of a plan's path tree: a quantity itself (`leaf`), dict keys below it, and `*`."""

    leaf: bool
    keys: tuple[tuple[str, _Node], ...]
    star: _Node | None
    inner: bool  # keys or star: a path goes on below this place


def _tree(paths: Sequence[Sequence[str]]) -> _Node:
    leaf = any(not path for path in paths)
    heads: dict[str, list[Sequence[str]]] = {}
    for path in paths:
        if path:
            heads.setdefault(path[0], []).append(path[1:])
    star = heads.pop("*", None)
    keys = tuple((key, _tree(rests)) for key, rests in heads.items())
    return _Node(leaf, keys, None if star is None else _tree(star), bool(keys) or star is not None)


def _reaches_quantity(data: Any, node: _Node) -> bool:
    """Whether a place below `node` holds a mapping: what `_walk` over each path finds. A value
    of a plain type is neither a quantity nor a container, so it ends its branch at once."""
    if node.keys and isinstance(data, dict):
        for key, child in node.keys:
            if key in data:
                value = data[key]
                if type(value) in _PLAIN:
                    continue
                if child.leaf and isinstance(value, Mapping):
                    return True
                if child.inner and _reaches_quantity(value, child):
                    return True
    star = node.star
    if star is not None and isinstance(data, list):
        for value in data:
            if type(value) in _PLAIN:
                continue
            if star.leaf and isinstance(value, Mapping):
                return True
            if star.inner and _reaches_quantity(value, star):
                return True
    return False


@dataclass(frozen=True, slots=True)
class UnitPlan:
    """A plan (dotted path -> canonical unit) compiled once into a path tree.

    WHY: bulk ingest canonicalises every record, and almost none carries a ``{value, unit}``; the
    tree answers "anything to convert?" with one pass over the record's few planned places
    instead of walking every dotted path anew (decision 0099)."""

    paths: tuple[tuple[str, str], ...]
    tree: _Node

    def needs_conversion(self, document: Mapping[str, Any]) -> bool:
        return _reaches_quantity(document, self.tree)

    def convert_copy(self, document: Mapping[str, Any]) -> dict[str, Any]:
        """A deep copy of `document` with every planned ``{value, unit}`` converted (or marked)."""
        out: dict[str, Any] = _copy(document)
        for dotted, canonical in self.paths:
            for container, key, trail in _walk(out, dotted.split("."), ""):
                try:
                    container[key] = quantity_value(container[key], canonical, field=trail)
                except UnitError as error:
                    container[key] = UnitProblem(error.reason)
        return out


@lru_cache(maxsize=64)
def _compiled(paths: tuple[tuple[str, str], ...]) -> UnitPlan:
    return UnitPlan(paths, _tree([dotted.split(".") for dotted, _ in paths]))


def compile_plan(plan: Mapping[str, str]) -> UnitPlan:
    """The compiled form of `plan`, cached on its contents (same plan, same object)."""
    return _compiled(tuple(plan.items()))


def canonicalise(document: Mapping[str, Any], plan: Mapping[str, str] | UnitPlan) -> dict[str, Any]:
    """A copy of `document` with every ``{value, unit}`` named by `plan` converted.

    `plan` maps dotted paths (``*`` = every list item) to canonical units. A quantity that fails becomes
    a `UnitProblem`, so validation reports it at its own field next to every other problem.
    """
    compiled = plan if isinstance(plan, UnitPlan) else compile_plan(plan)
    if not compiled.needs_conversion(document):
        return dict(document)  # nothing to convert: spare the copy (the bulk-ingest common case)
    return compiled.convert_copy(document)


def factor_1000_hint(given: float, computed: float, *, mass: str, energy: str | None = None) -> str:
    """A hint naming the classic slip when two figures differ by a factor of about 1000."""
    if given == 0 or computed == 0:
        return ""
    ratio = computed / given
    for factor, direction in ((1000.0, "high"), (0.001, "low")):
        if math.isclose(ratio, factor, rel_tol=0.05):
            units = f"{mass} in kg rather than t" + (
                f", or {energy} in kWh rather than MWh" if energy else ""
            )
            return f" (off by a factor of {factor:g}, computed value too {direction}: is {units}?)"
    return ""
