"""Reading a record from its home shard together with everything needed to verify it offline."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cbamhub.ledger.checkpoint import SignedCheckpoint
from cbamhub.ledger.evidence import RecordEvidence
from sqlalchemy import select

from . import schema
from .errors import NotFound
from .ids import region_of
from .record_model import EmissionsRecord, parse_record
from .shards import ShardRouter


@dataclass(frozen=True)
class StoredRecord:
    record_id: str
    region: str
    document: dict[str, Any]
    """The record exactly as its manufacturer signed it (KIT field names)."""
    record: EmissionsRecord
    """The same record parsed, in canonical units."""
    key_id: str
    signature: bytes
    evidence: RecordEvidence
    final: bool
    """Whether the checkpoint of the evidence reached the witness threshold."""


async def record_with_proof(router: ShardRouter, record_id: str) -> StoredRecord:
    """The record, its salt, ledger entry and inclusion proof against the newest checkpoint.

    The newest *final* (witness-cosigned) checkpoint that covers the record is preferred; a record
    younger than that gets the log-signed checkpoint of the latest batch.
    """
    (found,) = await records_with_proof(router, [record_id])
    if found is None:
        raise NotFound(f"no record {record_id}")
    return found


async def records_with_proof(
    router: ShardRouter, record_ids: Sequence[str]
) -> list[StoredRecord | None]:
    """Many records at once, in the order asked (None where unknown): one row query and one
    checkpoint lookup per shard, then each record's proof from its log (the batch function behind
    the gateway's DataLoader)."""
    by_region: dict[str, list[str]] = {}
    for record_id in dict.fromkeys(record_ids):
        by_region.setdefault(region_of(record_id, "rec"), []).append(record_id)
    found = await asyncio.gather(*(_from_shard(router, r, ids) for r, ids in by_region.items()))
    index = {stored.record_id: stored for part in found for stored in part}
    return [index.get(record_id) for record_id in record_ids]


async def _from_shard(
    router: ShardRouter, region: str, record_ids: list[str]
) -> list[StoredRecord]:
    shard = router.shard(region)
    async with shard.engine.connect() as conn:
        rows = (
            await conn.execute(select(schema.records).where(schema.records.c.id.in_(record_ids)))
        ).all()
    if not rows:
        return []
    log = shard.log
    final = await log.final_checkpoint(min_size=min(r.leaf_index for r in rows) + 1)
    latest_note = await log.checkpoint()
    latest_size = SignedCheckpoint.parse(latest_note).checkpoint.size
    final_rows = [r for r in rows if final is not None and final[0] > r.leaf_index]
    latest_rows = [r for r in rows if not (final is not None and final[0] > r.leaf_index)]
    entries = await log.entries_at([r.leaf_index for r in rows])
    proofs: dict[str, list[bytes]] = {}
    for size, group in ((final[0] if final else 0, final_rows), (latest_size, latest_rows)):
        if group:
            paths = await log.inclusion_proofs([r.leaf_index for r in group], size)
            proofs.update(zip((r.id for r in group), paths, strict=True))
    stored = []
    for row in rows:
        is_final = final is not None and final[0] > row.leaf_index
        size, note = (
            (final[0], final[1]) if final is not None and is_final else (latest_size, latest_note)
        )
        payload = shard.open_sealed(row.payload, row.id, "payload")
        signature = shard.open_sealed(row.signature, row.id, "signature")
        document = json.loads(payload)
        evidence = RecordEvidence(
            document=document,
            salt=row.salt,
            entry=entries[row.leaf_index],
            leaf_index=row.leaf_index,
            tree_size=size,
            proof=tuple(proofs[row.id]),
            checkpoint=note,
        )
        stored.append(
            StoredRecord(
                record_id=row.id,
                region=shard.region,
                document=document,
                record=parse_record(document),
                key_id=row.key_id,
                signature=signature,
                evidence=evidence,
                final=is_final,
            )
        )
    return stored
