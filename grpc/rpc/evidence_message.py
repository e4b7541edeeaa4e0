"""A stored record's ledger evidence as the wire message customs and registry clients verify."""

from __future__ import annotations

import json

from cbamhub.ledger.evidence import RecordEvidence
from cbamhub.ledger.statements import canonical
from cbamhub.vault.reading import StoredRecord

from .generated import hub_evidence_pb2


def evidence_message(stored: StoredRecord) -> hub_evidence_pb2.Evidence:
    e = stored.evidence
    return hub_evidence_pb2.Evidence(
        document=canonical(e.document),
        salt=e.salt,
        entry=e.entry,
        leaf_index=e.leaf_index,
        tree_size=e.tree_size,
        proof=list(e.proof),
        checkpoint=e.checkpoint,
        final=stored.final,
        region=stored.region,
    )


def record_evidence(message: hub_evidence_pb2.Evidence) -> RecordEvidence:
    """The client side: the message back as the ledger's evidence, for `verify_evidence`."""
    return RecordEvidence(
        document=json.loads(message.document),
        salt=message.salt,
        entry=message.entry,
        leaf_index=message.leaf_index,
        tree_size=message.tree_size,
        proof=tuple(message.proof),
        checkpoint=message.checkpoint,
    )
