"""Log entries are public statements: what happened, to which ids, when, signed by whom, and a salted
commitment to the document, never the document itself.

Tiles are public, so anyone can read every entry. The commitment is SHA-256(salt || JCS(document)) with
a fresh 32-byte salt per document (RFC 8785 canonical JSON), so the log reveals nothing about emissions
figures, not even by guessing them; whoever is entitled to a record receives it with its salt,
recomputes the commitment and checks the entry's inclusion.

A published record's entry also carries `fields`, a per-field commitment from the same salt
(ledger/disclosure.py, decision 0055), so a reader allowed only some fields can verify those. Such an
entry is statement version 2; every other entry stays version 1, byte for byte as before, so an older
verifier reads them all and refuses a version-2 entry by its version rather than misreading it.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from json.encoder import encode_basestring as _json_string
from typing import Any

import rfc8785

SALT_SIZE = 32
STATEMENT_VERSION = 1
FIELDS_STATEMENT_VERSION = 2
"""The version of a statement that carries a per-field commitment (`fields`)."""
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


class StatementKind(StrEnum):
    RECORD_PUBLISHED = "record.published"
    RECORD_ATTESTED = "record.attested"
    RECORD_REJECTED = "record.rejected"
    RECORD_SUPERSEDED = "record.superseded"
    VERIFICATION_REQUESTED = "record.verification_requested"
    ANOMALY_REVIEWED = "record.anomaly_reviewed"
    GRANT_CREATED = "grant.created"
    GRANT_REVOKED = "grant.revoked"
    ACCESS_REQUESTED = "access.requested"
    ACCESS_DECLINED = "access.declined"
    ORGANISATION_REGISTERED = "organisation.registered"
    KEY_ADDED = "key.added"
    KEY_REVOKED = "key.revoked"
    INSTALLATION_REGISTERED = "installation.registered"
    PRODUCT_LINE_REGISTERED = "product_line.registered"


def canonical(document: Any) -> bytes:
    """RFC 8785 JSON Canonicalization Scheme bytes of a JSON-compatible value."""
    return rfc8785.dumps(document)


def new_salt() -> bytes:
    return secrets.token_bytes(SALT_SIZE)


def commitment(salt: bytes, document: Any) -> str:
    """Hex SHA-256 over salt || JCS(document)."""
    return commitment_of_canonical(salt, canonical(document))


def commitment_of_canonical(salt: bytes, canonical_bytes: bytes) -> str:
    """`commitment` for a document already in canonical form (e.g. a verified signed payload),
    without encoding it again."""
    if len(salt) != SALT_SIZE:
        raise ValueError(f"a commitment salt is {SALT_SIZE} bytes, not {len(salt)}")
    return hashlib.sha256(salt + canonical_bytes).hexdigest()


@dataclass(frozen=True)
class Statement:
    kind: StatementKind
    subject: Mapping[str, str]
    """The ids the event concerns, e.g. {"record": ..., "installation": ...}."""
    time: str
    """RFC 3339 UTC time the hub accepted the event."""
    signer: str
    """Key id of the organisation key that signed the event."""
    commitment: str
    fields: str | None = None
    """Hex per-field commitment of the document (ledger/disclosure.py), or None (version 1)."""

    def to_bytes(self) -> bytes:
        fast = self._ascii_bytes()
        return self._reference_bytes() if fast is None else fast

    def _reference_bytes(self) -> bytes:
        """The definition: RFC 8785 of the members (the oracle of the tests, and the slow path)."""
        members: dict[str, Any] = {
            "v": STATEMENT_VERSION,
            "kind": self.kind.value,
            "subject": dict(self.subject),
            "time": self.time,
            "signer": self.signer,
            "commitment": self.commitment,
        }
        if self.fields is not None:
            members["v"] = FIELDS_STATEMENT_VERSION
            members["fields"] = self.fields
        return canonical(members)

    def _ascii_bytes(self) -> bytes | None:
        r"""`_reference_bytes()` written directly, ~8x faster (decision 0094); None when the proof
        below does not hold, and the reference encoder answers instead.

        When every member is a plain str and the whole text is ASCII, RFC 8785 reduces to: members
        sorted by name (UTF-16 code units = ASCII order: commitment, fields, kind, signer, subject,
        time, v), no whitespace, and strings escaped as the C JSON encoder's `encode_basestring`
        escapes ASCII (\" \\ \b \f \n \r \t, other controls as lowercase \u00xx, nothing else);
        the version is the integer 1 or 2."""
        subject = self.subject
        plain = (self.kind.value, self.time, self.signer, self.commitment)
        if (
            any(type(s) is not str for s in plain)
            or any(type(k) is not str or type(v) is not str for k, v in subject.items())
            or (self.fields is not None and type(self.fields) is not str)
        ):
            return None
        q = _json_string
        inner = ",".join([f"{q(k)}:{q(v)}" for k, v in sorted(subject.items())])
        if self.fields is None:
            head, version = q(self.commitment), STATEMENT_VERSION
        else:
            head = f'{q(self.commitment)},"fields":{q(self.fields)}'
            version = FIELDS_STATEMENT_VERSION
        text = (
            f'{{"commitment":{head},"kind":{q(self.kind.value)},"signer":{q(self.signer)},'
            f'"subject":{{{inner}}},"time":{q(self.time)},"v":{version}}}'
        )
        return text.encode() if text.isascii() else None

    @classmethod
    def parse(cls, data: bytes) -> Statement:
        """Parse an entry; raises ValueError on anything that is not a canonical statement of a
        known version (1, or 2 with a `fields` commitment)."""
        try:
            raw = json.loads(data)
            version = raw.get("v")
            if version not in (STATEMENT_VERSION, FIELDS_STATEMENT_VERSION):
                raise ValueError(f"unknown statement version {version!r}")
            fields = None
            if version == FIELDS_STATEMENT_VERSION:
                fields = raw["fields"]
                if not isinstance(fields, str) or not _HEX_DIGEST.fullmatch(fields):
                    raise ValueError("the fields commitment is not 64 lowercase hex digits")
            statement = cls(
                kind=StatementKind(raw["kind"]),
                subject={str(k): str(v) for k, v in raw["subject"].items()},
                time=str(raw["time"]),
                signer=str(raw["signer"]),
                commitment=str(raw["commitment"]),
                fields=fields,
            )
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as error:
            raise ValueError(f"not a log statement: {error}") from error
        if statement.to_bytes() != data:
            raise ValueError("statement bytes are not in canonical form")
        return statement
