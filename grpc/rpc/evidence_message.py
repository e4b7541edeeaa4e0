"""A stored record's ledger evidence as the wire message customs and registry clients verify."""

from __future__ import annotations

import json

from cbamhub.ledger.checkpoint import SignedCheckpoint, verify_checkpoint
from cbamhub.ledger.evidence import RecordEvidence
from cbamhub.ledger.statements import Statement, canonical
from cbamhub.ledger.verify import VerificationError, leaf_hash, verify_inclusion
from cbamhub.vault.reading import StoredRecord

from .generated import hub_evidence_pb2


def evidence_message(stored: StoredRecord, *, disclose: bool) -> hub_evidence_pb2.Evidence:
    """The proof of the record's entry; the document and salt that open its commitment only when
    `disclose` (the caller may see every field: the commitment covers the whole document)."""
    e = stored.evidence
    return hub_evidence_pb2.Evidence(
        document=canonical(e.document) if disclose else b"",
        salt=e.salt if disclose else b"",
        entry=e.entry,
        leaf_index=e.leaf_index,
        tree_size=e.tree_size,
        proof=list(e.proof),
        checkpoint=e.checkpoint,
        final=stored.final,
        region=stored.region,
    )


def record_evidence(message: hub_evidence_pb2.Evidence) -> RecordEvidence:
    """The client side: the message back as the ledger's evidence, for `verify_evidence`
    (a disclosed document only; without it, check the entry's inclusion with ledger.verify)."""
    if not message.document:
        raise ValueError("the record's document was withheld: only the entry's inclusion is proven")
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
    """The client side when the document was withheld: the checkpoint is the log's, and the entry is
    in its tree. Returns the entry's statement (kind, subject ids, time, signer, commitment);
    raises VerificationError otherwise. With the document, use `verify_evidence` instead."""
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
