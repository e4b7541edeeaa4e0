"""The signed batch a manufacturer produces on its own machine, and its JSON Lines form.

WHY: the hub never holds an organisation's private key. The manufacturer validates its records,
canonicalises each (RFC 8785, via `cbamhub.ledger.statements.canonical`) and signs it with
`OrganisationKey.sign_document`; the hub receives payload, signature and key id per record. The
payload travels base64-encoded, so the exact signed bytes survive any JSON tooling on the way.

One line: ``{"keyId": "...", "payload": "<base64 of the canonical bytes>", "signature": "<base64>"}``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from cbamhub.ledger.statements import canonical
from pydantic import ValidationError

from ..record_model import (
    EmissionsRecord,
    Tolerance,
    parse_record,
    record_document,
    validation_problems,
)
from ..signing import OrganisationKey, SignedDocument, signature_valid
from .jsonl import json_objects
from .report import Batch, Collector

__all__ = ["SignedRecord", "parse_signed_jsonl", "sign_batch", "write_signed_jsonl"]

_KEYS = {"keyId", "payload", "signature"}


@dataclass(frozen=True)
class SignedRecord:
    record: EmissionsRecord
    signed: SignedDocument


def sign_batch(records: Sequence[EmissionsRecord], key: OrganisationKey) -> list[SignedDocument]:
    """Each record's canonical document (canonical units, absent figures left out), signed."""
    return [key.sign_document(record_document(record)) for record in records]


def write_signed_jsonl(documents: Iterable[SignedDocument]) -> Iterator[str]:
    for document in documents:
        line = {
            "keyId": document.key_id,
            "payload": base64.b64encode(document.payload).decode("ascii"),
            "signature": base64.b64encode(document.signature).decode("ascii"),
        }
        yield json.dumps(line, sort_keys=True, separators=(",", ":")) + "\n"


def _b64(value: object) -> bytes:
    if not isinstance(value, str):
        raise ValueError("expected a base64 string")
    return base64.b64decode(value, validate=True)


def parse_signed_jsonl(
    lines: Iterable[str | bytes],
    *,
    public_keys: Mapping[str, bytes] | None = None,
    tolerance: Tolerance | None = None,
) -> Batch[SignedRecord]:
    """Every signed record, or every problem; with `public_keys` each signature is checked too.

    A payload must be the RFC 8785 canonical form of a valid record, so the bytes the ledger commits
    to are exactly the bytes that were signed.
    """
    collector: Collector[SignedRecord] = Collector()
    for location, line in json_objects(lines, collector, "record"):
        if set(line) != _KEYS:
            collector.problem(location, "(line)", f"a signed record has exactly {sorted(_KEYS)}")
            continue
        try:
            payload = _b64(line["payload"])
        except (ValueError, binascii.Error):
            collector.problem(location, "payload", "not base64")
            continue
        try:
            signature = _b64(line["signature"])
        except (ValueError, binascii.Error):
            collector.problem(location, "signature", "not base64")
            continue
        key_id = line["keyId"]
        if not isinstance(key_id, str) or not key_id:
            collector.problem(location, "keyId", "missing key id")
            continue
        try:
            document = json.loads(payload)
        except (json.JSONDecodeError, UnicodeDecodeError):
            collector.problem(location, "payload", "the payload is not JSON")
            continue
        if canonical(document) != payload:
            collector.problem(
                location, "payload", "not RFC 8785 canonical: sign the canonical bytes"
            )
            continue
        try:
            record = parse_record(document, tolerance=tolerance)
        except ValidationError as error:
            for field, reason in validation_problems(error):
                collector.problem(location, f"payload.{field}", reason)
            continue
        if public_keys is not None:
            public_key = public_keys.get(key_id)
            if public_key is None:
                collector.problem(location, "keyId", f"unknown key {key_id}")
                continue
            if not signature_valid(public_key, payload, signature):
                collector.problem(
                    location, "signature", f"does not match the payload under {key_id}"
                )
                continue
        collector.add(SignedRecord(record, SignedDocument(payload, signature, key_id)))
    return collector.result()
