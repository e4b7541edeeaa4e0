"""A transparency-log witness (c2sp.org/tlog-witness): the service, its client, and the log-side collector."""

from __future__ import annotations

from .app import WitnessConfig, create_witness_app
from .client import (
    BadRequest,
    Conflict,
    InconsistentProof,
    LogSignatureRejected,
    UnknownLog,
    WitnessClient,
    WitnessError,
    WitnessUnavailable,
)
from .collector import Cosigner, CosignResult, ProofProvider, WitnessOutcome
from .protocol import SIZE_CONTENT_TYPE, AddCheckpointRequest, MalformedRequestError
from .store import LogState, Refusal, WitnessStore

__all__ = [
    "SIZE_CONTENT_TYPE",
    "AddCheckpointRequest",
    "BadRequest",
    "Conflict",
    "CosignResult",
    "Cosigner",
    "InconsistentProof",
    "LogSignatureRejected",
    "LogState",
    "MalformedRequestError",
    "ProofProvider",
    "Refusal",
    "UnknownLog",
    "WitnessClient",
    "WitnessConfig",
    "WitnessError",
    "WitnessOutcome",
    "WitnessStore",
    "WitnessUnavailable",
    "create_witness_app",
]
