"""Reading a record from its home shard together with everything needed to verify it offline."""

from __future__ import annotations

import json
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
    shard = router.shard(region_of(record_id, "rec"))
    async with shard.engine.connect() as conn:
        row = (
            await conn.execute(select(schema.records).where(schema.records.c.id == record_id))
        ).first()
    if row is None:
        raise NotFound(f"no record {record_id}")
    log = shard.log
    final = await log.final_checkpoint(min_size=row.leaf_index + 1)
    if final is not None:
        size, note = final
    else:
        note = await log.checkpoint()
        size = SignedCheckpoint.parse(note).checkpoint.size
    entry = (await log.entries(row.leaf_index, row.leaf_index + 1))[0]
    proof = await log.inclusion_proof(row.leaf_index, size)
    payload = shard.open_sealed(row.payload, row.id, "payload")
    signature = shard.open_sealed(row.signature, row.id, "signature")
    document = json.loads(payload)
    evidence = RecordEvidence(
        document=document,
        salt=row.salt,
        entry=entry,
        leaf_index=row.leaf_index,
        tree_size=size,
        proof=tuple(proof),
        checkpoint=note,
    )
    return StoredRecord(
        record_id=row.id,
        region=shard.region,
        document=document,
        record=parse_record(document),
        key_id=row.key_id,
        signature=signature,
        evidence=evidence,
        final=final is not None,
    )
