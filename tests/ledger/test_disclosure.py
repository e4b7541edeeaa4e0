"""Per-field salted commitments (ledger/disclosure.py, decision 0055): a reader shown some members
of a document verifies them against the log entry's `fields` commitment, and learns nothing checkable
about the others.

- the construction is exactly the documented one (HMAC field salts, SHA-256 over JCS([name, value]),
  SHA-256 over the JCS {name: digest} map), and the publish path's fast form over canonical bytes
  agrees with it on arbitrary JSON objects (non-ASCII and escaped names, nested values, numbers);
- a disclosure round-trips (also through its JSON form) and every tampering is detected: a changed
  value, a swapped or wrong salt, a dropped, added or renamed member, a member moved between
  disclosed and withheld, another record's entry, an entry without a fields commitment;
- a withheld digest is unlinkable to its value without the field salt (the salts of the disclosed
  members do not help), and the entry alone reveals nothing either;
- statements: version 1 stays byte-identical, version 2 carries `fields`, both parse strictly;
- verify_evidence (the full reader) also checks the fields commitment against the document.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any

import pytest
import rfc8785
from cbamhub.ledger import DisclosureError, SelectiveDisclosure, verify_disclosure
from cbamhub.ledger.checkpoint import Checkpoint, sign_checkpoint
from cbamhub.ledger.disclosure import (
    DisclosedField,
    NoFieldsCommitmentError,
    disclose,
    field_digest,
    field_salt,
    fields_commitment_of,
    fields_commitment_of_canonical,
)
from cbamhub.ledger.evidence import RecordEvidence, verify_evidence
from cbamhub.ledger.note import Ed25519Signer
from cbamhub.ledger.statements import Statement, StatementKind, commitment
from cbamhub.ledger.verify import VerificationError, leaf_hash
from hypothesis import given, settings
from hypothesis import strategies as st

# TEST INPUTS, not regulatory figures.
DOCUMENT: dict[str, Any] = {
    "cnCode": "72081000",
    "countryCode": "TR",
    "activityData": {"netMass": 1000.0, "referencePeriodStart": "2026-01-01T00:00:00Z"},
    "directEmissions": {"specificEmbeddedEmissionsDirect": 1.92},
    "dataQualityTier": "measured",
    "precursors": [{"cnCode": "72011000", "netMass": 1.1}],
}
CUSTOMS = {"cnCode", "directEmissions", "dataQualityTier"}


def entry_of(document: dict[str, Any], salt: bytes, record: str = "rec_tr_1") -> bytes:
    return Statement(
        kind=StatementKind.RECORD_PUBLISHED,
        subject={"record": record, "installation": "ins_tr_1"},
        time="2026-04-01T00:00:00Z",
        signer="org_tr_1/k1",
        commitment=commitment(salt, document),
        fields=fields_commitment_of_canonical(salt, rfc8785.dumps(document)),
    ).to_bytes()


@pytest.fixture
def salt() -> bytes:
    return secrets.token_bytes(32)


def test_the_construction_is_the_documented_one(salt: bytes) -> None:
    sha = hashlib.sha256
    digests = {}
    for name, value in DOCUMENT.items():
        s = hmac.new(salt, name.encode("utf-8"), "sha256").digest()
        assert field_salt(salt, name) == s
        digests[name] = sha(s + rfc8785.dumps([name, value])).hexdigest()
        assert field_digest(s, name, value) == digests[name]
    expected = sha(rfc8785.dumps(dict(sorted(digests.items())))).hexdigest()
    assert fields_commitment_of(salt, DOCUMENT) == expected
    assert fields_commitment_of_canonical(salt, rfc8785.dumps(DOCUMENT)) == expected
    # the salt is the record's: another salt, another commitment
    assert fields_commitment_of(secrets.token_bytes(32), DOCUMENT) != expected
    with pytest.raises(ValueError, match="32 bytes"):
        fields_commitment_of_canonical(salt[:16], rfc8785.dumps(DOCUMENT))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
# names beyond the BMP and around U+E000..U+FFFF are where JCS order differs from code-point order
names = st.text(
    st.characters(blacklist_categories=("Cs",))
    | st.sampled_from(["\ue000", "\uffff", "😀", '"', "\\"]),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(document=st.dictionaries(names, json_values, max_size=8))
def test_the_fast_path_over_canonical_bytes_agrees_with_the_definition(
    document: dict[str, Any],
) -> None:
    salt = bytes(32)
    payload = rfc8785.dumps(document)
    assert fields_commitment_of_canonical(salt, payload) == fields_commitment_of(salt, document)


def test_the_fast_path_refuses_what_is_not_an_object(salt: bytes) -> None:
    for payload in (b"[1,2]", b'"x"', b'{"a":1', b'{"a":1}x', b'{"a" 1}', b"{a:1}"):
        with pytest.raises(ValueError):
            fields_commitment_of_canonical(salt, payload)
    assert fields_commitment_of_canonical(salt, b"{}") == fields_commitment_of(salt, {})


def test_a_disclosure_round_trips(salt: bytes) -> None:
    entry = entry_of(DOCUMENT, salt)
    disclosure = disclose(salt, DOCUMENT, CUSTOMS | {"notInTheDocument"})
    assert set(disclosure.disclosed) == CUSTOMS
    assert set(disclosure.withheld) == set(DOCUMENT) - CUSTOMS
    report = verify_disclosure(disclosure, entry)
    assert report.disclosed == {n: DOCUMENT[n] for n in CUSTOMS}
    assert report.withheld == ("activityData", "countryCode", "precursors")
    assert report.statement.subject["record"] == "rec_tr_1"
    # through the JSON form, as a client keeps it
    again = SelectiveDisclosure.from_json(json.loads(json.dumps(disclosure.to_json())))
    assert verify_disclosure(again, entry).disclosed == report.disclosed
    # everything disclosed, nothing disclosed: both open the commitment
    assert verify_disclosure(disclose(salt, DOCUMENT, set(DOCUMENT)), entry).withheld == ()
    assert verify_disclosure(disclose(salt, DOCUMENT, set()), entry).disclosed == {}


def _tampered(
    disclosure: SelectiveDisclosure,
    disclosed: dict[str, DisclosedField] | None = None,
    withheld: dict[str, str] | None = None,
) -> SelectiveDisclosure:
    return SelectiveDisclosure(
        disclosed if disclosed is not None else dict(disclosure.disclosed),
        withheld if withheld is not None else dict(disclosure.withheld),
    )


def test_every_tampering_is_detected(salt: bytes) -> None:
    entry = entry_of(DOCUMENT, salt)
    good = disclose(salt, DOCUMENT, CUSTOMS)
    verify_disclosure(good, entry)
    d = dict(good.disclosed)
    w = dict(good.withheld)
    see = d["directEmissions"]
    tier = d["dataQualityTier"]
    cases: dict[str, SelectiveDisclosure] = {
        "changed value": _tampered(
            good,
            {
                **d,
                "directEmissions": DisclosedField(
                    {"specificEmbeddedEmissionsDirect": 0.92}, see.salt
                ),
            },
        ),
        "changed number type": _tampered(
            good,
            {
                **d,
                "directEmissions": DisclosedField(
                    {"specificEmbeddedEmissionsDirect": "1.92"}, see.salt
                ),
            },
        ),
        "swapped salts": _tampered(
            good,
            {
                **d,
                "directEmissions": DisclosedField(see.value, tier.salt),
                "dataQualityTier": DisclosedField(tier.value, see.salt),
            },
        ),
        "the record salt instead of the field salt": _tampered(
            good, {**d, "directEmissions": DisclosedField(see.value, salt)}
        ),
        "dropped disclosed member": _tampered(
            good, {k: v for k, v in d.items() if k != "dataQualityTier"}
        ),
        "dropped withheld member": _tampered(
            good, withheld={k: v for k, v in w.items() if k != "activityData"}
        ),
        "added member": _tampered(
            good, {**d, "extra": DisclosedField(1, field_salt(salt, "extra"))}
        ),
        "added withheld digest": _tampered(good, withheld={**w, "extra": "0" * 64}),
        "renamed disclosed member": _tampered(
            good,
            {
                **{k: v for k, v in d.items() if k != "dataQualityTier"},
                "dataQualityTIER": tier,
            },
        ),
        "renamed withheld member": _tampered(
            good,
            withheld={
                **{k: v for k, v in w.items() if k != "countryCode"},
                "country": w["countryCode"],
            },
        ),
        "changed withheld digest": _tampered(
            good, withheld={**w, "countryCode": hashlib.sha256(b"x").hexdigest()}
        ),
        "disclosed member listed as withheld instead": _tampered(
            good,
            {k: v for k, v in d.items() if k != "cnCode"},
            {**w, "cnCode": hashlib.sha256(b"guess").hexdigest()},
        ),
    }
    for what, disclosure in cases.items():
        try:
            verify_disclosure(disclosure, entry)
        except DisclosureError as error:
            assert "do not open the per-field commitment" in str(error), what
        else:
            pytest.fail(f"not detected: {what}")

    # the same member both disclosed and withheld
    with pytest.raises(DisclosureError, match="both disclosed and withheld"):
        verify_disclosure(_tampered(good, withheld={**w, "cnCode": w["countryCode"]}), entry)
    # a malformed digest, a short salt
    with pytest.raises(DisclosureError, match="not 64 hex digits"):
        verify_disclosure(_tampered(good, withheld={**w, "countryCode": "AB" * 32}), entry)
    with pytest.raises(DisclosureError, match="32 bytes"):
        short = {**d, "cnCode": DisclosedField("72081000", b"\0" * 31)}
        verify_disclosure(_tampered(good, short), entry)


def test_another_records_entry_does_not_open(salt: bytes) -> None:
    disclosure = disclose(salt, DOCUMENT, CUSTOMS)
    # the same document under another salt (republished), or another document
    with pytest.raises(DisclosureError, match="do not open"):
        verify_disclosure(disclosure, entry_of(DOCUMENT, secrets.token_bytes(32)))
    other = {**DOCUMENT, "countryCode": "CN"}
    with pytest.raises(DisclosureError, match="do not open"):
        verify_disclosure(disclosure, entry_of(other, salt))
    # an entry without a per-field commitment (version 1): nothing to open, said as such
    v1 = Statement(
        StatementKind.RECORD_PUBLISHED, {"record": "rec_tr_1"}, "t", "k", commitment(salt, DOCUMENT)
    ).to_bytes()
    with pytest.raises(NoFieldsCommitmentError, match="no per-field commitment"):
        verify_disclosure(disclosure, v1)
    with pytest.raises(DisclosureError, match="not a statement"):
        verify_disclosure(disclosure, b"garbage")


def test_a_withheld_digest_leaks_nothing_checkable_without_its_salt(salt: bytes) -> None:
    """Activity data has little entropy: a reader who guesses the exact value still cannot confirm
    it, with the digest, the entry and every disclosed salt in hand, because the withheld member's
    salt is an HMAC under the record salt the reader never gets."""
    entry = entry_of(DOCUMENT, salt)
    disclosure = disclose(salt, DOCUMENT, CUSTOMS)
    statement = Statement.parse(entry)
    secret = DOCUMENT["activityData"]
    digest = disclosure.withheld["activityData"]
    known_salts = [f.salt for f in disclosure.disclosed.values()]
    public = [
        b"",
        statement.commitment.encode(),
        bytes.fromhex(statement.commitment),
        bytes.fromhex(str(statement.fields)),
        *known_salts,
        *(hashlib.sha256(s).digest() for s in known_salts),
    ]
    for key in public:
        for attempt in (
            hashlib.sha256(key + rfc8785.dumps(["activityData", secret])).hexdigest(),
            hashlib.sha256(key + rfc8785.dumps(secret)).hexdigest(),
            hashlib.sha256(rfc8785.dumps(["activityData", secret])).hexdigest(),
        ):
            assert attempt != digest
    for s in known_salts:  # a disclosed field's salt does not derive another's
        assert hmac.new(s, b"activityData", "sha256").digest() != field_salt(salt, "activityData")
    # with the right salt (which only the hub and full readers can derive) the guess is confirmed:
    # the digest does bind the value
    assert field_digest(field_salt(salt, "activityData"), "activityData", secret) == digest
    # and the disclosure carries nothing of the withheld values themselves
    text = rfc8785.dumps(disclosure.to_json()).decode()
    assert "netMass" not in text and "72011000" not in text and '"TR"' not in text


def test_statement_versions() -> None:
    base = Statement(StatementKind.RECORD_ATTESTED, {"record": "r"}, "t", "k", "c" * 64)
    v1 = base.to_bytes()
    assert json.loads(v1)["v"] == 1 and "fields" not in json.loads(v1)
    assert v1 == rfc8785.dumps(  # byte for byte the format every existing entry has
        {"v": 1, "kind": "record.attested", "subject": {"record": "r"}, "time": "t", "signer": "k",
         "commitment": "c" * 64}
    )  # fmt: skip
    assert Statement.parse(v1) == base
    with_fields = Statement(
        StatementKind.RECORD_PUBLISHED, {"record": "r"}, "t", "k", "c" * 64, fields="f" * 64
    )
    v2 = with_fields.to_bytes()
    assert json.loads(v2)["v"] == 2 and json.loads(v2)["fields"] == "f" * 64
    assert Statement.parse(v2) == with_fields

    def recanonical(change: dict[str, Any], drop: str = "") -> bytes:
        raw = {**json.loads(v2), **change}
        raw.pop(drop, None)
        return rfc8785.dumps(raw)

    with pytest.raises(ValueError, match="not a log statement"):
        Statement.parse(recanonical({}, drop="fields"))  # version 2 without fields
    with pytest.raises(ValueError, match="canonical"):
        Statement.parse(recanonical({"v": 1}))  # version 1 with fields
    with pytest.raises(ValueError, match="64 lowercase hex"):
        Statement.parse(recanonical({"fields": "F" * 64}))
    with pytest.raises(ValueError, match="unknown statement version 3"):
        Statement.parse(recanonical({"v": 3}))
    with pytest.raises(ValueError, match="canonical"):
        Statement.parse(v2.replace(b",", b", ", 1))


def _evidence(document: dict[str, Any], salt: bytes, entry: bytes) -> RecordEvidence:
    signer = Ed25519Signer("hub.example/log/test", bytes(range(32)))
    signed = sign_checkpoint(Checkpoint("hub.example/log/test", 1, leaf_hash(entry)), signer)
    return RecordEvidence(document, salt, entry, 0, 1, (), signed.to_text())


def test_the_full_reader_checks_the_fields_commitment_too(salt: bytes) -> None:
    """So a manufacturer verifying its own record proves that what masked readers are shown field
    by field is the document it signed: a hub committing other per-field values is caught."""
    vkey = Ed25519Signer("hub.example/log/test", bytes(range(32))).vkey()
    entry = entry_of(DOCUMENT, salt)
    assert verify_evidence(_evidence(DOCUMENT, salt, entry), vkey).statement.fields is not None
    forged = Statement(
        kind=StatementKind.RECORD_PUBLISHED,
        subject={"record": "rec_tr_1", "installation": "ins_tr_1"},
        time="2026-04-01T00:00:00Z",
        signer="org_tr_1/k1",
        commitment=commitment(salt, DOCUMENT),  # the whole document is right ...
        fields=fields_commitment_of(
            salt, {**DOCUMENT, "directEmissions": {"x": 0}}
        ),  # ... not this
    ).to_bytes()
    with pytest.raises(VerificationError, match="per-field commitment"):
        verify_evidence(_evidence(DOCUMENT, salt, forged), vkey)
