"""The hub's transparency log: RFC 9162 Merkle tree, C2SP checkpoints, witnesses and tiles.

This package stands alone: it imports nothing from the rest of the hub, so auditors can run it (or just
`verify.py`, which needs only the standard library) without trusting the hub.

Public API (checked by tests/ledger/test_public_api.py); everything else is internal.
"""

from __future__ import annotations

from .checkpoint import Checkpoint, SignedCheckpoint, sign_checkpoint, verify_checkpoint
from .cosign import BlsPublicKey, BlsSigner, CosignatureSigner, WitnessPolicy
from .disclosure import DisclosureError, SelectiveDisclosure, verify_disclosure
from .evidence import RecordEvidence, verify_evidence
from .log import AppendResult, LogCorrupted, LogError, TransparencyLog, TreeHead
from .note import Ed25519Signer, Ed25519Verifier
from .statements import Statement, StatementKind, commitment
from .storage import create_engine, create_tables
from .verify import VerificationError, leaf_hash, node_hash, verify_consistency, verify_inclusion

__all__ = [
    "AppendResult",
    "BlsPublicKey",
    "BlsSigner",
    "Checkpoint",
    "CosignatureSigner",
    "DisclosureError",
    "Ed25519Signer",
    "Ed25519Verifier",
    "LogCorrupted",
    "LogError",
    "RecordEvidence",
    "SelectiveDisclosure",
    "SignedCheckpoint",
    "Statement",
    "StatementKind",
    "TransparencyLog",
    "TreeHead",
    "VerificationError",
    "WitnessPolicy",
    "commitment",
    "create_engine",
    "create_tables",
    "leaf_hash",
    "node_hash",
    "sign_checkpoint",
    "verify_checkpoint",
    "verify_consistency",
    "verify_disclosure",
    "verify_evidence",
    "verify_inclusion",
]
