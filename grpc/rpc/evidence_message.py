"""A stored record's ledger evidence as the wire message customs and registry clients verify, and the
client side of that check."""

from __future__ import annotations

import json
from collections.abc import Collection

from cbamhub.ledger.checkpoint import SignedCheckpoint, verify_checkpoint
from cbamhub.ledger.disclosure import (
    DisclosedField,
    DisclosureError,
    DisclosureReport,
    SelectiveDisclosure,
    verify_disclosure,
)
from cbamhub.ledger.evidence import RecordEvidence
from cbamhub.ledger.statements import Statement, canonical
from cbamhub.ledger.verify import VerificationError, leaf_hash, verify_inclusion
from cbamhub.vault.disclosure import record_disclosure
from cbamhub.vault.reading import StoredRecord

from .generated import hub_evidence_pb2


def evidence_message(
    stored: StoredRecord, *, visible: Collection[str] | None
) -> hub_evidence_pb2.Evidence:
    """The proof of the record's entry, and what opens its commitments to this caller: the document
    and salt when `visible` is None (every field: the commitment covers the whole document), else
    the selective disclosure of the `visible` members (KIT names), decision 0055."""
    e = stored.evidence
    message = hub_evidence_pb2.Evidence(
        document=canonical(e.document) if visible is None else b"",
        salt=e.salt if visible is None else b"",
        entry=e.entry,
        leaf_index=e.leaf_index,
        tree_size=e.tree_size,
        proof=list(e.proof),
        checkpoint=e.checkpoint,
        final=stored.final,
        region=stored.region,
    )
    disclosure = None if visible is None else record_disclosure(stored, visible)
    if disclosure is not None:
        message.disclosure.CopyFrom(disclosure_message(disclosure))
    return message


def disclosure_message(disclosure: SelectiveDisclosure) -> hub_evidence_pb2.SelectiveDisclosure:
    return hub_evidence_pb2.SelectiveDisclosure(
        disclosed=[
            hub_evidence_pb2.DisclosedField(name=n, value=canonical(f.value), salt=f.salt)
            for n, f in disclosure.disclosed.items()
        ],
        withheld=[
            hub_evidence_pb2.WithheldField(name=n, digest=d) for n, d in disclosure.withheld.items()
        ],
    )


def selective_disclosure(message: hub_evidence_pb2.Evidence) -> SelectiveDisclosure:
    """The client side: the message's disclosure back as the ledger's, for `verify_disclosure`.
    Raises DisclosureError when there is none or it is malformed (a name twice, a value not JSON)."""
    if not message.HasField("disclosure"):
        raise DisclosureError(
            "the answer carries no selective disclosure (every field disclosed, or a record "
            "published before per-field commitments)"
        )
    disclosed: dict[str, DisclosedField] = {}
    withheld: dict[str, str] = {}
    for field in message.disclosure.disclosed:
        if field.name in disclosed:
            raise DisclosureError(f"member {field.name!r} is disclosed twice")
        try:
            value = json.loads(field.value)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise DisclosureError(
                f"disclosed member {field.name!r} is not JSON: {error}"
            ) from error
        disclosed[field.name] = DisclosedField(value, field.salt)
    for digest in message.disclosure.withheld:
        if digest.name in withheld:
            raise DisclosureError(f"member {digest.name!r} is withheld twice")
        withheld[digest.name] = digest.digest
    return SelectiveDisclosure(disclosed, withheld)


def record_evidence(message: hub_evidence_pb2.Evidence) -> RecordEvidence:
    """The client side: the message back as the ledger's evidence, for `verify_evidence`
    (a disclosed document only; without it, use `verify_disclosed`)."""
    if not message.document:
        raise ValueError(
            "the record's document was withheld: verify its disclosed members with "
            "verify_disclosed instead"
        )
    return RecordEvidence(
        document=json.loads(message.document),
        salt=message.salt,
        entry=message.entry,
        leaf_index=message.leaf_index,
        tree_size=message.tree_size,
        proof=tuple(message.proof),
        checkpoint=message.checkpoint,
    )


def verify_entry_inclusion(message: hub_evidence_pb2.Evidence, log_vkey: str) -> Statement:
    """The client side, whatever was disclosed: the checkpoint is the log's, and the entry is in its
    tree. Returns the entry's statement (kind, subject ids, time, signer, commitments); raises
    VerificationError otherwise. This proves the entry, not the figures: with the document use
    `verify_evidence`, with a disclosure `verify_disclosed`."""
    signed = verify_checkpoint(SignedCheckpoint.parse(message.checkpoint), log_vkey)
    if signed.checkpoint.size != message.tree_size:
        raise VerificationError(
            f"the proof is for tree size {message.tree_size}, the checkpoint for "
            f"{signed.checkpoint.size}"
        )
    verify_inclusion(
        message.leaf_index,
        message.tree_size,
        leaf_hash(message.entry),
        list(message.proof),
        signed.checkpoint.root,
    )
    try:
        return Statement.parse(message.entry)
    except ValueError as error:
        raise VerificationError(f"the log entry is not a statement: {error}") from error


def verify_disclosed(message: hub_evidence_pb2.Evidence, log_vkey: str) -> DisclosureReport:
    """The client side when fields were withheld, with the log's public key alone: the entry is in
    the log (`verify_entry_inclusion`) and the disclosed members open its per-field commitment
    (`ledger.verify_disclosure`). Returns the verified members; raises VerificationError
    (DisclosureError for the disclosure) saying what failed."""
    verify_entry_inclusion(message, log_vkey)
    return verify_disclosure(selective_disclosure(message), message.entry)
