"""Bring a log's newest checkpoint to its witnesses, about once a second, and record finality.

BLS cosigning costs tenths of a second with py-ecc, so witnesses see checkpoints of batches of appends,
never single records: a record is answered at once with the log-signed checkpoint, and becomes
provable against a *final* (witnessed) checkpoint at the next round.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from .checkpoint import SignedCheckpoint
from .cosign import CosignatureVerifier, WitnessPolicy
from .log import TransparencyLog
from .witness.client import WitnessClient
from .witness.collector import Cosigner, CosignResult

logger = logging.getLogger(__name__)


class CheckpointWitnessing:
    def __init__(
        self,
        log: TransparencyLog,
        witnesses: Sequence[WitnessClient],
        policy: WitnessPolicy,
        *,
        ed25519_witnesses: Sequence[CosignatureVerifier] = (),
        timeout: float = 10.0,
    ) -> None:
        self.log = log
        self.cosigner = Cosigner(
            witnesses,
            policy,
            proof_provider=self._proof,
            timeout=timeout,
            ed25519_witnesses=ed25519_witnesses,
        )
        self._submitted = 0

    async def _proof(self, old_size: int, new_size: int) -> list[bytes]:
        return [] if old_size == 0 else await self.log.consistency_proof(old_size, new_size)

    async def witness_latest(self) -> CosignResult | None:
        """One round: submit the latest checkpoint unless it is already final."""
        head = await self.log.head()
        final = await self.log.final_checkpoint()
        final_size = final[0] if final else 0
        if head.size == 0 or final_size >= head.size:
            return None
        signed = SignedCheckpoint.parse(await self.log.checkpoint(head.size))
        old = max(self._submitted, final_size)
        result = await self.cosigner.cosign(signed, old, await self._proof(old, head.size))
        if any(outcome.ok for outcome in result.outcomes):
            self._submitted = head.size
        if result.final and result.aggregate_signature is not None:
            await self.log.record_final(
                head.size, result.signed.to_text(), result.signers, result.aggregate_signature
            )
        else:
            logger.warning(
                "checkpoint %s/%d not final: %s", self.log.origin, head.size, result.finality.reason
            )
        return result

    async def run(self, interval: float, stop: asyncio.Event) -> None:
        """Witness rounds until `stop` is set; a failed round is logged and retried next time."""
        while not stop.is_set():
            try:
                await self.witness_latest()
            except Exception:  # a witness outage must never stop the log
                logger.exception("witnessing round for %s failed", self.log.origin)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
