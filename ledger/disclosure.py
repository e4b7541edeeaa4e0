"""Per-field salted commitments: a reader allowed some fields of a document verifies those fields
against the log without seeing, or being able to test guesses of, the others (decision 0055).

The scheme, for a JSON object document and the record's 32-byte salt (the one of `commitment`):

    field salt    s_n = HMAC-SHA256(key = salt, msg = UTF-8(n))        for each top-level member n
    field digest  d_n = hex SHA-256(s_n || JCS([n, value_n]))
    fields        F   = hex SHA-256(JCS({n: d_n for every member n}))

The log entry carries F beside the whole-document commitment. The hub keeps one salt and derives a
field's salt when it discloses that field: HMAC is a PRF, so a field salt reveals neither the record
salt nor any other field's salt, and a withheld digest can only be tested against guesses by someone
holding its salt. A disclosure gives the allowed members with their field salts and the digests of
the others; the reader recomputes F. JCS of the whole {name: digest} map binds the set of names, so a
member cannot be added, dropped, renamed or moved between disclosed and withheld. The names of the
withheld members are visible (they are the document's top-level keys, not its figures).

A flat map rather than a Merkle tree: a record has 12-15 top-level members (25 at most), so a
disclosure of all withheld digests is small, and the whole construction is three standard hashes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

from .statements import SALT_SIZE, Statement, canonical
from .verify import VerificationError

DISCLOSURE_FORMAT = "cbamhub-selective-disclosure/v1"

_DIGEST = re.compile(r"[0-9a-f]{64}")
_scan = json.JSONDecoder().raw_decode  # the C scanner: where a JSON value (or a name) ends
_HMAC_BLOCK = 64
_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))


class DisclosureError(VerificationError):
    """The disclosure does not open the entry's per-field commitment, or is malformed."""


class NoFieldsCommitmentError(DisclosureError):
    """The entry carries no per-field commitment (an entry written before decision 0055, or not a
    record's): its fields cannot be verified one by one, only the whole document with its salt."""


def field_salt(salt: bytes, name: str) -> bytes:
    """The salt of member `name`, derived from the record's salt (HMAC-SHA256)."""
    if len(salt) != SALT_SIZE:
        raise ValueError(f"a commitment salt is {SALT_SIZE} bytes, not {len(salt)}")
    return hmac.digest(salt, name.encode(), "sha256")


def field_digest(salt_of_field: bytes, name: str, value: Any) -> str:
    """Hex SHA-256(field salt || JCS([name, value]))."""
    if len(salt_of_field) != SALT_SIZE:
        raise ValueError(f"a field salt is {SALT_SIZE} bytes, not {len(salt_of_field)}")
    return hashlib.sha256(salt_of_field + canonical([name, value])).hexdigest()


def fields_commitment(digests: Mapping[str, str]) -> str:
    """Hex SHA-256 of the JCS of the {name: field digest} map."""
    return hashlib.sha256(canonical(dict(digests))).hexdigest()


def field_digests(salt: bytes, document: Mapping[str, Any]) -> dict[str, str]:
    """Every top-level member's digest."""
    if not isinstance(document, Mapping):
        raise ValueError("per-field commitments are for JSON objects")
    return {n: field_digest(field_salt(salt, n), n, v) for n, v in document.items()}


def fields_commitment_of(salt: bytes, document: Mapping[str, Any]) -> str:
    return fields_commitment(field_digests(salt, document))


def _members(text: str) -> list[tuple[str, str, str]]:
    """(name, name as JSON, value as JSON) of each top-level member of canonical JSON object text,
    as slices of the text: in JCS, a member's name and value are serialised as JCS on their own."""
    if not text.startswith("{"):
        raise ValueError("per-field commitments are for JSON objects")
    members: list[tuple[str, str, str]] = []
    if text == "{}":
        return members
    at, last = 1, len(text) - 1
    try:
        while True:
            if text[at] != '"':
                raise ValueError(f"expected a member name at {at}")
            name, colon = _scan(text, at)
            if text[colon] != ":":
                raise ValueError(f"expected ':' at {colon}")
            end = _scan(text, colon + 1)[1]
            members.append((name, text[at:colon], text[colon + 1 : end]))
            if end == last and text[end] == "}":
                return members
            if text[end] != ",":
                raise ValueError(f"expected ',' or the final '}}' at {end}")
            at = end + 1
    except (IndexError, ValueError) as error:
        raise ValueError(f"not canonical JSON of an object: {error!r}") from error


def fields_commitment_of_canonical(salt: bytes, canonical_bytes: bytes) -> str:
    """`fields_commitment_of` for a document already in RFC 8785 form (a verified signed payload),
    computed from slices of its bytes without encoding anything again (HMAC's pads are hashed once
    per record, not per member). With the parsed document at hand,
    `fields_commitment_of_document` is cheaper still.

    The caller guarantees canonical form; for anything else the result simply opens nothing."""
    _check_salt(salt)
    return _commit_members(salt, _members(canonical_bytes.decode()))


def fields_commitment_of_document(
    salt: bytes, canonical_bytes: bytes, document: Mapping[str, Any]
) -> str:
    """`fields_commitment_of_canonical(salt, canonical_bytes)`, given also `document`, the parsed
    form of those bytes (the publish path has it): the member slices come from the C JSON encoder
    instead of re-scanning the text, ~4 us less per record (decision 0094).

    The encoder's pieces are used only when, joined as an object, they reproduce the canonical text
    exactly: JSON's grammar is unambiguous, so the names and values of equal texts are the same
    slices, which is what `_members` would have cut. Anything else (a number the encoder writes
    differently, another key order, a document that is not these bytes) takes the slicing path, so
    the answer is always the canonical one."""
    _check_salt(salt)
    text = canonical_bytes.decode()
    members = _encoded_members(text, document)
    return _commit_members(salt, _members(text) if members is None else members)


def _check_salt(salt: bytes) -> None:
    if len(salt) != SALT_SIZE:
        raise ValueError(f"a commitment salt is {SALT_SIZE} bytes, not {len(salt)}")


def _encoded_members(text: str, document: Any) -> list[tuple[str, str, str]] | None:
    """`_members(text)` from `document`'s own encoding, or None when that is not provably it."""
    if c_make_encoder is None or type(document) is not dict:
        return None
    # The C encoder, compact, in the document's own key order; its own markers catch a cycle.
    encode = c_make_encoder({}, None, encode_basestring, None, ":", ",", False, False, False)
    string = encode_basestring
    try:
        members = [
            (name, string(name), string(value) if type(value) is str else "".join(encode(value, 0)))
            for name, value in document.items()
        ]
    except (TypeError, ValueError, RecursionError):  # not JSON: a non-str key, NaN, a cycle
        return None
    if "{" + ",".join([f"{n}:{v}" for _, n, v in members]) + "}" != text:
        return None
    return members


def _commit_members(salt: bytes, members: list[tuple[str, str, str]]) -> str:
    """F from (name, name as JCS, value as JCS) of each member, in JCS member order."""
    sha256 = hashlib.sha256
    key = salt.ljust(_HMAC_BLOCK, b"\0")  # RFC 2104 with a key shorter than the block
    inner = sha256(key.translate(_IPAD))
    outer = sha256(key.translate(_OPAD))
    parts = []
    for name, name_json, value_json in members:
        i = inner.copy()
        i.update(name.encode())
        o = outer.copy()
        o.update(i.digest())
        digest = sha256(o.digest() + f"[{name_json},{value_json}]".encode()).hexdigest()
        parts.append(f'{name_json}:"{digest}"')  # JCS order is the payload's member order
    return sha256(("{" + ",".join(parts) + "}").encode()).hexdigest()


@dataclass(frozen=True)
class DisclosedField:
    value: Any
    """The member's JSON value as the document holds it."""
    salt: bytes
    """Its field salt, HMAC-SHA256(record salt, name)."""


@dataclass(frozen=True)
class SelectiveDisclosure:
    """Some members of a committed document, opened; the others only as their digests."""

    disclosed: Mapping[str, DisclosedField]
    withheld: Mapping[str, str]
    """Member name -> hex field digest."""

    def to_json(self) -> dict[str, Any]:
        return {
            "format": DISCLOSURE_FORMAT,
            "disclosed": {
                n: {"value": f.value, "salt": base64.b64encode(f.salt).decode()}
                for n, f in self.disclosed.items()
            },
            "withheld": dict(self.withheld),
        }

    @classmethod
    def from_json(cls, raw: Any) -> SelectiveDisclosure:
        """Parse the JSON form; raises DisclosureError naming what is malformed."""
        try:
            if raw["format"] != DISCLOSURE_FORMAT:
                raise DisclosureError(f"unknown disclosure format {raw['format']!r}")
            disclosed = {
                str(n): DisclosedField(f["value"], base64.b64decode(f["salt"], validate=True))
                for n, f in raw["disclosed"].items()
            }
            withheld = {str(n): str(d) for n, d in raw["withheld"].items()}
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            if isinstance(error, DisclosureError):
                raise
            raise DisclosureError(f"malformed disclosure: {error!r}") from error
        return cls(disclosed, withheld)


def disclose(
    salt: bytes, document: Mapping[str, Any], names: Collection[str]
) -> SelectiveDisclosure:
    """The hub's side: the document's members named in `names` opened, every other one as its
    digest. Names the document does not have are ignored."""
    disclosed: dict[str, DisclosedField] = {}
    withheld: dict[str, str] = {}
    for name, value in document.items():
        s = field_salt(salt, name)
        if name in names:
            disclosed[name] = DisclosedField(value, s)
        else:
            withheld[name] = field_digest(s, name, value)
    return SelectiveDisclosure(disclosed, withheld)


@dataclass(frozen=True)
class DisclosureReport:
    statement: Statement
    disclosed: Mapping[str, Any]
    """The verified members: name -> value."""
    withheld: tuple[str, ...]
    """The names of the members the disclosure did not open, sorted."""


def verify_disclosure(disclosure: SelectiveDisclosure, entry: bytes) -> DisclosureReport:
    """Check that the disclosed members, with the withheld digests, open the per-field commitment of
    the log entry `entry` (whose inclusion the caller checks with the log's key, as for
    `verify_evidence`). Raises DisclosureError saying what failed."""
    try:
        statement = Statement.parse(entry)
    except ValueError as error:
        raise DisclosureError(f"the log entry is not a statement: {error}") from error
    if statement.fields is None:
        raise NoFieldsCommitmentError(
            "the log entry carries no per-field commitment: only the whole document with its "
            "salt can be verified against it"
        )
    both = set(disclosure.disclosed) & set(disclosure.withheld)
    if both:
        raise DisclosureError(f"members both disclosed and withheld: {sorted(both)}")
    digests = dict(disclosure.withheld)
    for name, digest in digests.items():
        if not _DIGEST.fullmatch(digest):
            raise DisclosureError(f"the digest of withheld member {name!r} is not 64 hex digits")
    for name, field in disclosure.disclosed.items():
        try:
            digests[name] = field_digest(field.salt, name, field.value)
        except (ValueError, TypeError, UnicodeError) as error:  # bad salt, value not JSON
            raise DisclosureError(f"disclosed member {name!r}: {error}") from error
    try:
        opened = fields_commitment(digests)
    except (ValueError, TypeError, UnicodeError) as error:
        raise DisclosureError(f"member names cannot be committed to: {error}") from error
    if opened != statement.fields:
        raise DisclosureError(
            "the disclosed members and withheld digests do not open the per-field commitment in "
            "the log entry: a value, a field salt or the set of members was altered"
        )
    return DisclosureReport(
        statement,
        {n: f.value for n, f in disclosure.disclosed.items()},
        tuple(sorted(disclosure.withheld)),
    )
