"""The ledger's fast encodings give byte for byte what the RFC 8785 reference (`rfc8785`) gives
(decision 0094): statement bytes and per-field commitments are a public, signed format, so a faster
path may only ever produce the same bytes, and falls back to the reference where it cannot prove it.

- `Statement.to_bytes` equals RFC 8785 of the statement's members for any kind, subject, time,
  signer and commitments, ASCII or not, with characters that need escaping, for both versions;
- `fields_commitment_of_document` (the document at hand) equals `fields_commitment_of_canonical`
  (slices of the bytes) and the definition (`fields_commitment_of`, HMAC + SHA-256 over
  `rfc8785.dumps`), for any JSON object: unicode and escaped names and strings, numbers RFC 8785
  writes differently from Python (exponent form, integral floats, -0.0), nested and empty
  containers — and when the document handed in is not the parsed bytes, the bytes decide;
- pinned outputs of fixed inputs, computed by the code before decision 0094.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
import rfc8785
from cbamhub.ledger.disclosure import (
    fields_commitment_of,
    fields_commitment_of_canonical,
    fields_commitment_of_document,
)
from cbamhub.ledger.statements import Statement, StatementKind
from hypothesis import example, given, settings
from hypothesis import strategies as st

# TEST INPUTS, not regulatory figures.
PINNED_SALT = bytes(range(32))
PINNED_DOCUMENT: dict[str, Any] = {
    "cnCode": "72081000",
    "countryCode": "TR",
    "activityData": {"netMass": 1000.0, "referencePeriodStart": "2026-01-01T00:00:00Z"},
    "directEmissions": {"specificEmbeddedEmissionsDirect": 1.92},
    "dataQualityTier": "measured",
    "precursors": [{"cnCode": "72011000", "netMass": 1.1}],
    "note": "Düsseldorf \u00e9 \U0001f600 \n",
    "big": 1e21,
    "small": 1e-7,
    "empty": {},
    "none": [],
    "x": None,
}
PINNED_FIELDS = "f32a82b853d6535e1595c5c376d95b2aa5283cb417f449f7c5194ae964f28c12"


def reference_statement(s: Statement) -> bytes:
    """The statement format as documented, encoded by the reference implementation."""
    members: dict[str, Any] = {
        "v": 1 if s.fields is None else 2,
        "kind": s.kind.value,
        "subject": dict(s.subject),
        "time": s.time,
        "signer": s.signer,
        "commitment": s.commitment,
    }
    if s.fields is not None:
        members["fields"] = s.fields
    return rfc8785.dumps(members)


def test_pinned_statements_keep_their_bytes() -> None:
    v2 = Statement(
        kind=StatementKind.RECORD_PUBLISHED,
        subject={"record": "rec_tr_1", "installation": "ins_tr_1"},
        time="2026-04-01T00:00:00Z",
        signer="org_tr_1/k1",
        commitment="a" * 64,
        fields="b" * 64,
    )
    assert v2.to_bytes() == (
        b'{"commitment":"'
        + b"a" * 64
        + b'","fields":"'
        + b"b" * 64
        + b'","kind":"record.published"'
        b',"signer":"org_tr_1/k1","subject":{"installation":"ins_tr_1","record":"rec_tr_1"},'
        b'"time":"2026-04-01T00:00:00Z","v":2}'
    )
    v1 = Statement(
        kind=StatementKind.GRANT_CREATED,
        subject={"grant": "grt_eu_1", "organisation": 'Zoë "q" \\'},
        time="2026-04-01T00:00:00Z",
        signer="org_tr_1/k1",
        commitment="c" * 64,
    )
    assert v1.to_bytes() == (
        b'{"commitment":"' + b"c" * 64 + b'","kind":"grant.created","signer":"org_tr_1/k1",'
        b'"subject":{"grant":"grt_eu_1","organisation":"Zo\xc3\xab \\"q\\" \\\\"},'
        b'"time":"2026-04-01T00:00:00Z","v":1}'
    )
    for s in (v1, v2):
        assert Statement.parse(s.to_bytes()) == s


texts = st.text(
    st.characters(blacklist_categories=("Cs",))
    | st.sampled_from(["\x00", "\x1f", "\x7f", "\b", "\f", "\n", "\r", "\t", '"', "\\", "/"])
    | st.sampled_from(["\ue000", "\uffff", "\U0001f600", "\u2028", "é"]),
    max_size=12,
)
ascii_texts = st.text(st.characters(max_codepoint=127), max_size=12)
any_texts = texts | ascii_texts


@settings(max_examples=400, deadline=None)
@given(
    kind=st.sampled_from(list(StatementKind)),
    subject=st.dictionaries(any_texts, any_texts, max_size=4),
    time=any_texts,
    signer=any_texts,
    commitment=any_texts,
    fields=st.none() | any_texts,
)
@example(
    kind=StatementKind.RECORD_PUBLISHED,
    subject={"\U0001f600": "1", "\uffff": "2", "a": "\x7f", "b": "\x00\u001f"},
    time="",
    signer="",
    commitment="",
    fields=None,
)
def test_statement_bytes_are_the_reference_encoding(
    kind: StatementKind,
    subject: dict[str, str],
    time: str,
    signer: str,
    commitment: str,
    fields: str | None,
) -> None:
    s = Statement(kind, subject, time, signer, commitment, fields)
    assert s.to_bytes() == reference_statement(s)


def test_statements_with_non_str_members_take_the_reference_path() -> None:
    """A str subclass or a non-str value is not proven by the fast path: the reference answers
    (and refuses what RFC 8785 refuses) exactly as before."""

    class Name(str):
        pass

    s = Statement(StatementKind.KEY_ADDED, {Name("key"): Name("k1")}, "t", "s", "c" * 64)
    assert s.to_bytes() == reference_statement(s)
    odd = Statement(StatementKind.KEY_ADDED, {"n": 7}, "t", "s", "c" * 64)  # type: ignore[dict-item]
    assert (
        odd.to_bytes()
        == reference_statement(odd)
        == rfc8785.dumps(
            {
                "commitment": "c" * 64,
                "kind": "key.added",
                "signer": "s",
                "subject": {"n": 7},
                "time": "t",
                "v": 1,
            }
        )
    )


# --------------------------------------------------------------------------- per-field commitments

numbers = (
    st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([1e21, 1e-7, 1.5e300, -0.0, 0.0, 2.0, 5e-324, 123456789012345680.0, 1e16])
)
json_values = st.recursive(
    st.none() | st.booleans() | numbers | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)


def _all_three(salt: bytes, document: dict[str, Any]) -> tuple[str, str, str]:
    canonical = rfc8785.dumps(document)
    parsed = json.loads(canonical)
    return (
        fields_commitment_of(salt, document),
        fields_commitment_of_canonical(salt, canonical),
        fields_commitment_of_document(salt, canonical, parsed),
    )


def test_the_pinned_fields_commitment_holds() -> None:
    assert set(_all_three(PINNED_SALT, PINNED_DOCUMENT)) == {PINNED_FIELDS}


@settings(max_examples=300, deadline=None)
@given(document=st.dictionaries(texts, json_values, max_size=8))
@example(document={})
@example(document={"a": {}, "b": [], "c": [[], {}], "d": ""})
@example(document={"n": 1e21, "m": 1e-7, "o": 2.0, "p": -0.0, "q": 10**15, "r": 0.1})
@example(document={"\U0001f600": 1, "\uffff": 2, "\ue000": 3, "a": {"\U0001f600": 1, "\uffff": 2}})
def test_the_document_path_agrees_with_the_definition(document: dict[str, Any]) -> None:
    definition, sliced, encoded = _all_three(secrets.token_bytes(32), document)
    assert sliced == definition
    assert encoded == definition


@settings(max_examples=100, deadline=None)
@given(document=st.dictionaries(texts, json_values, min_size=1, max_size=6), other=json_values)
def test_the_bytes_decide_when_the_document_is_not_their_parse(
    document: dict[str, Any], other: Any
) -> None:
    """Another key order, another value, or no JSON at all: the answer is still the one of the
    canonical bytes."""
    salt = secrets.token_bytes(32)
    canonical = rfc8785.dumps(document)
    expected = fields_commitment_of_canonical(salt, canonical)
    reordered = dict(reversed(list(json.loads(canonical).items())))
    changed = {**json.loads(canonical), next(iter(document)): other}
    for given_document in (reordered, changed, {"x": object()}, {1: 2}, [], "text"):
        got = fields_commitment_of_document(salt, canonical, given_document)  # type: ignore[arg-type]
        assert got == expected


def test_a_cyclic_document_falls_back_to_the_bytes() -> None:
    salt = secrets.token_bytes(32)
    cyclic: dict[str, Any] = {"a": []}
    cyclic["a"].append(cyclic)
    canonical = rfc8785.dumps({"a": [1]})
    expected = fields_commitment_of_canonical(salt, canonical)
    assert fields_commitment_of_document(salt, canonical, cyclic) == expected


def test_a_bad_salt_is_refused_on_every_path() -> None:
    for salt in (b"", bytes(31), bytes(33)):
        with pytest.raises(ValueError, match="32 bytes"):
            fields_commitment_of_canonical(salt, b"{}")
        with pytest.raises(ValueError, match="32 bytes"):
            fields_commitment_of_document(salt, b"{}", {})
