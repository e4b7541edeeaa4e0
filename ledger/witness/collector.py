"""Collect witness cosignatures for a new checkpoint and decide whether it is final.

The log side of c2sp.org/tlog-witness: submit to every witness in parallel, tolerate any of them being
slow, down or refusing, retry once after a 409 with the size the witness reported (asking the caller's
proof provider for that proof), then aggregate the BLS cosignatures and check the quorum of the
WitnessPolicy. Holds no log storage: proofs come from the `ProofProvider` callback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from ..checkpoint import SignedCheckpoint
from ..cosign import (
    CosignatureVerifier,
    Finality,
    WitnessPolicy,
    aggregate,
    bls_verify,
)
from ..note import MalformedNoteError, Signature
from ..verify import VerificationError
from .client import Conflict, WitnessClient, WitnessError

ProofProvider = Callable[[int, int], Awaitable[list[bytes]]]
"""`async (old_size, new_size) -> consistency proof` supplied by the log."""


@dataclass(frozen=True)
class WitnessOutcome:
    """What one witness did with the checkpoint."""

    url: str
    signatures: tuple[Signature, ...] = ()
    """Every cosignature line it returned (kept or not)."""
    error: str | None = None
    retried_from: int | None = None
    """The size the witness reported in a 409, when we retried from it."""

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class CosignResult:
    """The checkpoint with the cosignatures that checked out, and whether the quorum is met."""

    signed: SignedCheckpoint
    signers: tuple[str, ...]
    aggregate_signature: bytes | None
    finality: Finality
    outcomes: tuple[WitnessOutcome, ...]

    @property
    def final(self) -> bool:
        return self.finality.final


class Cosigner:
    """Gathers cosignatures from several witnesses under one WitnessPolicy.

    Only lines that check out are added to the checkpoint note: BLS lines of policy witnesses (through
    the aggregate, or one by one if it fails) and Ed25519 cosignature/v1 lines of the keys given in
    `ed25519_witnesses`; anything else a witness returns is reported in its outcome and dropped, so a
    misbehaving witness cannot make the note fail for downstream verifiers.
    """

    def __init__(
        self,
        witnesses: Sequence[WitnessClient],
        policy: WitnessPolicy,
        *,
        proof_provider: ProofProvider | None = None,
        timeout: float = 10.0,
        ed25519_witnesses: Sequence[CosignatureVerifier] = (),
    ) -> None:
        self.witnesses = tuple(witnesses)
        self.policy = policy
        self.proof_provider = proof_provider
        self.timeout = timeout
        self.ed25519_witnesses = {(v.name, v.key_id): v for v in ed25519_witnesses}

    async def cosign(
        self, signed: SignedCheckpoint, old_size: int, proof: Sequence[bytes]
    ) -> CosignResult:
        """Submit `signed` (log-signed) with a proof from `old_size` to every witness at once."""
        outcomes = await asyncio.gather(
            *(self._submit(w, signed, old_size, proof) for w in self.witnesses)
        )
        bls: dict[str, Signature] = {}
        ed25519: dict[tuple[str, bytes], Signature] = {}
        for outcome in outcomes:
            for sig in outcome.signatures:
                name = self.policy.witness_for(sig)
                if name is not None:
                    bls.setdefault(name, sig)
                elif (sig.name, sig.key_id) in self.ed25519_witnesses:
                    ed25519.setdefault((sig.name, sig.key_id), sig)

        kept_bls, agg, finality = await asyncio.to_thread(self._finality, signed, bls)
        body = signed.checkpoint.body()
        kept_ed25519 = [
            sig
            for ident, sig in ed25519.items()
            if self.ed25519_witnesses[ident].verify(body, sig.signature)
        ]
        return CosignResult(
            signed=signed.with_signatures(kept_ed25519 + kept_bls),
            signers=finality.signers,
            aggregate_signature=agg,
            finality=finality,
            outcomes=tuple(outcomes),
        )

    def _finality(
        self, signed: SignedCheckpoint, bls: dict[str, Signature]
    ) -> tuple[list[Signature], bytes | None, Finality]:
        """Aggregate and verify once; only if that fails, find the bad signatures one by one."""
        checkpoint = signed.checkpoint
        names = list(bls)
        if len(names) >= self.policy.threshold:
            try:
                agg = aggregate([bls[n].signature for n in names])
                finality = self.policy.verify_final(checkpoint, names, agg)
            except VerificationError:
                finality = None
            if finality is not None and finality.final:
                return [bls[n] for n in names], agg, finality
        # Below the threshold, or some signature is bad: check each (rare, slow with py_ecc).
        good = [
            n for n in names if bls_verify(self.policy.witnesses[n], checkpoint, bls[n].signature)
        ]
        agg_good = aggregate([bls[n].signature for n in good]) if good else None
        finality = self.policy.verify_final(checkpoint, good, agg_good or b"")
        return [bls[n] for n in good], agg_good, finality

    async def _submit(
        self, client: WitnessClient, signed: SignedCheckpoint, old_size: int, proof: Sequence[bytes]
    ) -> WitnessOutcome:
        note = signed.to_bytes()
        size = signed.checkpoint.size
        retried_from: int | None = None
        try:
            try:
                lines = await asyncio.wait_for(
                    client.add_checkpoint(old_size, proof, note), self.timeout
                )
            except Conflict as conflict:
                latest = conflict.latest_size
                if latest == old_size:
                    return WitnessOutcome(
                        client.url, error=f"refused as a split view at size {latest}"
                    )
                if latest > size:
                    return WitnessOutcome(
                        client.url, error=f"witness is already at size {latest} > {size}"
                    )
                if 0 < latest < size:
                    if self.proof_provider is None:
                        return WitnessOutcome(
                            client.url,
                            error=f"witness is at size {latest} and no proof provider is set",
                        )
                    retry_proof: Sequence[bytes] = await asyncio.wait_for(
                        self.proof_provider(latest, size), self.timeout
                    )
                else:
                    retry_proof = []  # from 0 (first contact) or to the same size: no proof
                retried_from = latest
                lines = await asyncio.wait_for(
                    client.add_checkpoint(latest, retry_proof, note), self.timeout
                )
            signatures = tuple(Signature.parse_line(line) for line in lines)
        except (WitnessError, MalformedNoteError, TimeoutError) as exc:
            return WitnessOutcome(client.url, error=_describe(exc), retried_from=retried_from)
        except Exception as exc:
            return WitnessOutcome(client.url, error=_describe(exc), retried_from=retried_from)
        return WitnessOutcome(client.url, signatures, retried_from=retried_from)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"
