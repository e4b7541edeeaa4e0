"""Everything an entitled reader needs to check a document against the log, offline.

A reader who received a document with its salt checks four things: the salt and document reproduce the
commitment in the log entry (and its per-field commitment, when the entry has one: so the document's
full reader, e.g. its manufacturer, also proves that what masked readers are shown field by field is
this document, decision 0055); the entry's leaf hash is included in the tree of the checkpoint; the
checkpoint is signed by the log's key; and, when a witness policy is given, the checkpoint carries a
quorum of witness cosignatures. The JSON form is what `cbamhub verify` reads.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from .checkpoint import SignedCheckpoint, verify_checkpoint
from .cosign import WitnessPolicy, aggregate
from .disclosure import fields_commitment_of
from .statements import Statement, commitment
from .verify import VerificationError, leaf_hash, verify_inclusion

EVIDENCE_FORMAT = "cbamhub-record-evidence/v1"


@dataclass(frozen=True)
class RecordEvidence:
    document: Any
    salt: bytes
    entry: bytes
    leaf_index: int
    tree_size: int
    proof: tuple[bytes, ...]
    checkpoint: str

    def to_json(self) -> dict[str, Any]:
        return {
            "format": EVIDENCE_FORMAT,
            "document": self.document,
            "salt": base64.b64encode(self.salt).decode(),
            "entry": self.entry.decode(),
            "leafIndex": self.leaf_index,
            "treeSize": self.tree_size,
            "proof": [base64.b64encode(p).decode() for p in self.proof],
            "checkpoint": self.checkpoint,
        }

    @classmethod
    def from_json(cls, raw: Any) -> RecordEvidence:
        """Parse the JSON form; raises VerificationError naming what is malformed."""
        try:
            if raw["format"] != EVIDENCE_FORMAT:
                raise VerificationError(f"unknown evidence format {raw['format']!r}")
            return cls(
                document=raw["document"],
                salt=base64.b64decode(raw["salt"], validate=True),
                entry=str(raw["entry"]).encode(),
                leaf_index=int(raw["leafIndex"]),
                tree_size=int(raw["treeSize"]),
                proof=tuple(base64.b64decode(p, validate=True) for p in raw["proof"]),
                checkpoint=str(raw["checkpoint"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            if isinstance(error, VerificationError):
                raise
            raise VerificationError(f"malformed evidence: {error!r}") from error


@dataclass(frozen=True)
class EvidenceReport:
    statement: Statement
    origin: str
    tree_size: int
    witnesses: tuple[str, ...] = field(default=())


def verify_evidence(
    evidence: RecordEvidence, log_vkey: str, policy: WitnessPolicy | None = None
) -> EvidenceReport:
    """Check a document's evidence end to end; raises VerificationError saying what failed."""
    try:
        statement = Statement.parse(evidence.entry)
    except ValueError as error:
        raise VerificationError(f"the log entry is not a statement: {error}") from error
    try:
        expected = commitment(evidence.salt, evidence.document)
    except ValueError as error:
        raise VerificationError(str(error)) from error
    if expected != statement.commitment:
        raise VerificationError(
            "the document and salt do not reproduce the commitment in the log entry: "
            "the document was altered"
        )
    if statement.fields is not None:
        try:
            fields = fields_commitment_of(evidence.salt, evidence.document)
        except (ValueError, TypeError) as error:
            raise VerificationError(f"the document has no per-field commitment: {error}") from error
        if fields != statement.fields:
            raise VerificationError(
                "the document and salt do not reproduce the per-field commitment in the log entry: "
                "readers of some fields would be shown other values than this document's"
            )
    signed = verify_checkpoint(SignedCheckpoint.parse(evidence.checkpoint), log_vkey)
    checkpoint = signed.checkpoint
    if checkpoint.size != evidence.tree_size:
        raise VerificationError(
            f"the proof is for tree size {evidence.tree_size}, the checkpoint for {checkpoint.size}"
        )
    verify_inclusion(
        evidence.leaf_index,
        checkpoint.size,
        leaf_hash(evidence.entry),
        evidence.proof,
        checkpoint.root,
    )
    witnesses = () if policy is None else verify_witnessed(signed, policy)
    return EvidenceReport(statement, checkpoint.origin, checkpoint.size, witnesses)


def verify_witnessed(signed: SignedCheckpoint, policy: WitnessPolicy) -> tuple[str, ...]:
    """The witnesses whose BLS cosignatures in the note make the checkpoint final under `policy`;
    raises VerificationError (NotFinalError) when they do not reach its threshold."""
    found: dict[str, bytes] = {}
    for sig in signed.note.signatures:
        name = policy.witness_for(sig)
        if name is not None:
            found.setdefault(name, sig.signature)
    agg = aggregate(list(found.values())) if found else b""
    policy.verify_final(signed.checkpoint, list(found), agg).raise_unless_final()
    return tuple(found)


def load_evidence(text: str) -> RecordEvidence:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise VerificationError(f"evidence is not JSON: {error}") from error
    return RecordEvidence.from_json(raw)
