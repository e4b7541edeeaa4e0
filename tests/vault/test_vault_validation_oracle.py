"""Ingest validation gives exactly the answers it gave before it was made cheaper (decision 0099).

The oracle is the code of d93e0ce kept verbatim beside these tests (`oracle_units`,
`oracle_record_model`, and `oracle_parse_payload` below). On the KIT documents the hub publishes
(the demo's, every sector sample, the records of a Catena-X response) and on hypothesis-made
variants of them — every quantity of the unit plan given as ``{value, unit}`` in canonical, other
and wrong units, malformed units and values, electricity and goods CN codes, precursor lists,
blocks of the wrong type — today's code must accept the same records with the same canonical
documents, and refuse the others with the same (field, reason) list, in the same order.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import oracle_record_model
import oracle_units
import pytest
import rfc8785
from cbamhub.vault import units
from cbamhub.vault.errors import BadInput
from cbamhub.vault.formats.catenax import parse_response
from cbamhub.vault.payloads import parse_payload
from cbamhub.vault.record_model import (
    Tolerance,
    parse_record,
    record_document,
    unit_plan,
    validation_problems,
)
from cbamhub.vault.verification import is_canonical
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from vault_samples import SAMPLES, sample

from cbamhub.demo import SAMPLE_RECORDS, sample_record

# --- the oracle's parse_payload: vault/payloads.py of d93e0ce over the oracle's record model -----


def oracle_parse_payload(payload: bytes) -> tuple[Any, Any]:
    if len(payload) > 64 * 1024:
        raise BadInput(f"payload is {len(payload)} bytes; at most {64 * 1024}")
    try:
        document = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BadInput(f"payload is not JSON: {error}") from error
    try:
        record = oracle_record_model.parse_record(document)
    except ValidationError as error:
        problems = [
            {"field": f, "reason": r} for f, r in oracle_record_model.validation_problems(error)
        ]
        raise BadInput("the record is not valid", {"problems": problems}) from error
    if record.manufacturer_id is None:
        raise BadInput(
            "manufacturerId is required to publish: it names whose key signed the record",
            {"problems": [{"field": "manufacturerId", "reason": "required to publish"}]},
        )
    if not is_canonical(payload, document):
        raise BadInput("payload is not in RFC 8785 canonical form: sign the canonical bytes")
    return record, document


# --- the documents -------------------------------------------------------------------------------


def _kit_documents() -> list[dict[str, Any]]:
    out = [sample(name) for name in sorted(SAMPLES)]
    for s in SAMPLE_RECORDS:
        out.append(sample_record("org_tr_demo", product_line_id="pl_tr_1", **s))  # type: ignore[arg-type]
    message = json.loads(Path(__file__).with_name("catenax_response_sample.json").read_text())
    hub = {"methodology": "calculationBased", "dataQualityTier": "estimated"}
    batch = parse_response(message, hub_fields=hub)
    assert batch.ok, batch.problems
    out.extend(record_document(r) for r in batch.records)
    return out


DOCUMENTS = _kit_documents()

# Every spelling the plan's families meet: canonical, convertible, wrong dimension, ambiguous,
# unknown, unreadable, empty and not a string.
UNITS: tuple[object, ...] = (
    "t", "kg", "g", "tonnes", "kilotonne", "MWh", "kWh", "GWh", "GJ", "tCO2e", "kgCO2e",
    "MtCO2e", "tCO2e/t", "kgCO2e/t", "kg CO2e / kg", "tCO2e/MWh", "kgCO2e/MWh", "tCO2/MWh",
    "gCO2/kWh", "MWh/t", "kWh/t", "ton", "tons", "mt", "MT", "kt", "mWh", "mwh", "kwh",
    "bananas", "m", "", " ", "t/", "*", 3, None,
)  # fmt: skip
VALUES: tuple[object, ...] = (
    0, 1, 2.5, 1234.5, 100.1, 1e-9, 1e12, -3.0, "12.5", "abc", "", True, False, None,
    math.nan, math.inf, [1], {"x": 1},
)  # fmt: skip
RAW: tuple[object, ...] = (
    0, 0.0, -1.0, 7, 1e308, True, "1.5", "x", None, [], {}, {"value": 1}, {"unit": "t"},
    {"value": 1, "unit": "t", "extra": 2}, {"value": None, "unit": "kg"}, math.nan,
)  # fmt: skip
CN_CODES: tuple[object, ...] = (
    "27160000", "2716 00 00", "2716.00.00", "72085120", "7208 51 20", "25231000", "76011000",
    "28141000", "28041000", "99999999", "2716000", 27160000, None, "",
)  # fmt: skip
PLANNED = tuple(unit_plan(None))
BLOCKS = ("activityData", "directEmissions", "indirectEmissions", "precursors", "missingData")


def _places(document: dict[str, Any], dotted: str) -> list[tuple[Any, str]]:
    """(container, key) of every existing place `dotted` (with `*`) names, for the mutations."""
    containers: list[Any] = [document]
    parts = dotted.split(".")
    for part in parts[:-1]:
        nxt: list[Any] = []
        for c in containers:
            if part == "*" and isinstance(c, list):
                nxt.extend(x for x in c if isinstance(x, dict))
            elif isinstance(c, dict) and part in c:
                nxt.append(c[part])
        containers = nxt
    return [(c, parts[-1]) for c in containers if isinstance(c, dict)]


def _apply(document: dict[str, Any], op: tuple[Any, ...]) -> None:
    kind = op[0]
    if kind == "quantity":
        _, dotted, unit, value, with_value = op
        for container, key in _places(document, dotted):
            container[key] = {"unit": unit, **({"value": value} if with_value else {})}
    elif kind == "raw":
        for container, key in _places(document, op[1]):
            container[key] = copy.deepcopy(op[2])
    elif kind == "drop":
        for container, key in _places(document, op[1]):
            container.pop(key, None)
    elif kind == "cn":
        document["cnCode"] = op[1]
    elif kind == "precursors":
        document["precursors"] = copy.deepcopy(op[1])
    elif kind == "block":
        document[op[1]] = copy.deepcopy(op[2])
    elif kind == "missing":
        document["missingData"] = [
            {"field": f, "reason": "not available from the supplier"} for f in op[1]
        ]


_STEEL_PRECURSOR = sample("steel")["precursors"][0]
OPS = st.one_of(
    st.tuples(
        st.just("quantity"),
        st.sampled_from(PLANNED),
        st.sampled_from(UNITS),
        st.sampled_from(VALUES),
        st.booleans(),
    ),
    st.tuples(st.just("raw"), st.sampled_from(PLANNED), st.sampled_from(RAW)),
    st.tuples(st.just("drop"), st.sampled_from(PLANNED)),
    st.tuples(st.just("cn"), st.sampled_from(CN_CODES)),
    st.tuples(
        st.just("precursors"),
        st.sampled_from(
            [
                [],
                [_STEEL_PRECURSOR],
                [_STEEL_PRECURSOR, {**_STEEL_PRECURSOR, "netMass": {"value": 5, "unit": "kg"}}],
                [{**_STEEL_PRECURSOR, "netMass": None}],
                ["x"],
                {"netMass": 1.0},
                "none",
            ]
        ),
    ),
    st.tuples(
        st.just("block"),
        st.sampled_from(BLOCKS),
        st.sampled_from([None, "x", [1], [], {}, {"netMass": {"value": 1, "unit": "t"}}]),
    ),
    st.tuples(
        st.just("missing"),
        st.sampled_from(
            [(), ("indirectEmissions",), ("precursors",), ("precursors", "precursors"), ("x",)]
        ),
    ),
)


# --- comparing answers ---------------------------------------------------------------------------


def _outcome(
    parse: Callable[..., Any],
    problems: Callable[[ValidationError], list[tuple[str, str]]],
    dump: Callable[[Any], dict[str, Any]],
    document: Any,
    **kwargs: Any,
) -> tuple[Any, ...]:
    try:
        record = parse(document, **kwargs)
    except ValidationError as error:
        return ("invalid", problems(error))
    except Exception as error:  # anything else must be the same failure too
        return ("raised", type(error).__name__, str(error))
    return (
        "valid",
        dump(record),
        record.model_dump(mode="json"),
        record.sector,
        record.activity_level,
        record.is_electricity,
    )


def assert_same_validation(document: Any) -> None:
    before = repr(document)
    for kwargs in ({}, {"tolerance": Tolerance(relative=0.5, absolute=1.0)}):
        old = _outcome(
            oracle_record_model.parse_record,
            oracle_record_model.validation_problems,
            oracle_record_model.record_document,
            document,
            **kwargs,
        )
        new = _outcome(parse_record, validation_problems, record_document, document, **kwargs)
        assert new == old
    assert repr(document) == before  # validation never changes its input


def _payload_outcome(parse: Callable[[bytes], tuple[Any, Any]], payload: bytes) -> tuple[Any, ...]:
    try:
        record, document = parse(payload)
    except BadInput as error:
        return ("refused", str(error), repr(error.details))
    return ("accepted", record.model_dump(mode="json"), repr(document))


def assert_same_payload_answer(document: Any) -> None:
    try:
        canonical = rfc8785.dumps(document)
    except Exception:  # NaN, infinities: not JSON the hub could be sent as canonical
        canonical = json.dumps(document).encode()
    for payload in (canonical, json.dumps(document, indent=1).encode()):
        new = _payload_outcome(parse_payload, payload)
        assert new == _payload_outcome(oracle_parse_payload, payload)


def _units_view(value: Any) -> Any:
    """UnitProblem of either module as one comparable value; containers compared by content."""
    if isinstance(value, units.UnitProblem | oracle_units.UnitProblem):
        return ("UnitProblem", value.reason)
    if isinstance(value, dict):
        return {k: _units_view(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_units_view(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    return value


def assert_same_canonical(document: Any, plan: dict[str, str]) -> None:
    before = repr(document)
    new = units.canonicalise(document, plan)
    assert _units_view(new) == _units_view(oracle_units.canonicalise(document, plan))
    assert new is not document
    assert repr(document) == before


# --- the tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("index", range(len(DOCUMENTS)))
def test_kit_documents_validate_as_before(index: int) -> None:
    document = DOCUMENTS[index]
    assert_same_validation(document)
    assert_same_payload_answer(document)
    assert _outcome(parse_record, validation_problems, record_document, document)[0] == "valid"
    for cn in (None, "27160000", document.get("cnCode")):
        assert_same_canonical(document, unit_plan(cn))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(range(len(DOCUMENTS))), st.lists(OPS, min_size=1, max_size=5))
def test_variants_validate_as_before(index: int, ops: list[tuple[Any, ...]]) -> None:
    document = copy.deepcopy(DOCUMENTS[index])
    for op in ops:
        _apply(document, op)
    assert_same_validation(document)
    for cn in (None, "27160000", document.get("cnCode")):
        assert_same_canonical(document, unit_plan(cn))


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(range(len(DOCUMENTS))), st.lists(OPS, min_size=0, max_size=3))
def test_variants_as_payloads_get_the_same_answer(index: int, ops: list[tuple[Any, ...]]) -> None:
    document = copy.deepcopy(DOCUMENTS[index])
    for op in ops:
        _apply(document, op)
    assert_same_payload_answer(document)


@pytest.mark.parametrize("unit", [u for u in UNITS if isinstance(u, str)])
@pytest.mark.parametrize("dotted", PLANNED)
def test_each_planned_quantity_in_each_unit_validates_as_before(dotted: str, unit: str) -> None:
    """Every unit family of the plan at every place, goods and electricity: the same conversion
    (or the same refusal at the same field)."""
    for base in (sample("steel"), sample("electricity"), sample("cement")):
        for value in (1234.5, 2, "0.5"):
            document = copy.deepcopy(base)
            _apply(document, ("quantity", dotted, unit, value, True))
            assert_same_validation(document)


@pytest.mark.parametrize("raw", range(len(RAW)))
@pytest.mark.parametrize("dotted", PLANNED)
def test_each_planned_place_holding_a_bare_value_validates_as_before(dotted: str, raw: int) -> None:
    """Booleans, strings, negatives, nulls, half quantities: the same refusal at the same field."""
    for base in (sample("steel"), sample("electricity"), sample("cement")):
        document = copy.deepcopy(base)
        _apply(document, ("raw", dotted, RAW[raw]))
        assert_same_validation(document)


def test_not_a_mapping_and_odd_plans_canonicalise_as_before() -> None:
    odd_plans = [
        {"a": units.MASS, "a.b": units.MASS},  # a place that is a quantity and has one below it
        {"*.x": units.MASS, "*": units.MASS},
        {"*": units.ENERGY},
        {"": units.MASS, "a.*.*.b": units.ENERGY},
    ]
    documents: list[Any] = [
        {"a": {"value": 1, "unit": "kg", "b": {"value": 2, "unit": "kg"}}},
        {"a": {"b": {"value": 2000, "unit": "kg"}}},
        {"": {"value": 1, "unit": "t"}, "a": [[{"b": {"value": 5, "unit": "kWh"}}], [3]]},
        {"*": {"value": 1, "unit": "kg"}},
        {"a": 3, "x": [1, 2]},
        {},
    ]
    for plan in odd_plans + [unit_plan(None), unit_plan("27160000")]:
        for document in documents + DOCUMENTS[:3]:
            assert_same_canonical(document, plan)
    for document in ([], "text", 3, None, [{"cnCode": "72085120"}]):
        assert_same_validation(document)


def test_canonical_documents_pass_through_uncopied_and_quantities_are_converted() -> None:
    """The point of the change, held: nothing to convert is no copy; a quantity is still found."""
    plan = units.compile_plan(unit_plan(None))
    assert plan is units.compile_plan(unit_plan(None))  # compiled once per plan's contents
    document = sample("steel")
    assert not plan.needs_conversion(document)
    document["precursors"][0]["netMass"] = {"value": 1_000_000, "unit": "kg"}
    assert plan.needs_conversion(document)
    assert plan.convert_copy(document)["precursors"][0]["netMass"] == 1000.0
    assert parse_record(document).precursors[0].net_mass == 1000.0
