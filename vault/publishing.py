"""Submission -> validation -> signature check -> home shard -> ledger, in one transaction.

A record is stored only in the shard of its installation's home region, with the ledger entry that
anchors it; the two commit together or not at all.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cbamhub.ledger.statements import Statement, StatementKind, canonical, commitment, new_salt
from pydantic import ValidationError
from sqlalchemy import select

from . import schema
from .errors import BadInput, DuplicateSubmission, InvalidSignature, UnknownKey
from .identities import organisation_key
from .ids import new_id
from .models import EmissionsRecordIn
from .shards import ShardRouter
from .signing import signature_valid

MAX_PAYLOAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class Published:
    record_id: str
    region: str
    leaf_index: int
    tree_size: int
    checkpoint: str


def parse_payload(payload: bytes) -> tuple[EmissionsRecordIn, Any]:
    """Validate a signed payload: JSON, RFC 8785 canonical, and a well-formed record."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise BadInput(f"payload is {len(payload)} bytes; at most {MAX_PAYLOAD_BYTES}")
    try:
        document = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BadInput(f"payload is not JSON: {error}") from error
    try:
        record = EmissionsRecordIn.model_validate(document)
    except ValidationError as error:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"]) or "(record)", "reason": e["msg"]}
            for e in error.errors()
        ]
        raise BadInput("the record is not valid", {"problems": problems}) from error
    if canonical(document) != payload:
        raise BadInput("payload is not in RFC 8785 canonical form: sign the canonical bytes")
    return record, document


async def publish(router: ShardRouter, payload: bytes, signature: bytes, kid: str) -> Published:
    """Publish one signed record; raises a VaultError and writes nothing on any problem."""
    record, document = parse_payload(payload)
    key = await organisation_key(router, record.manufacturer_id, kid)
    if key.revoked_at is not None:
        raise UnknownKey(f"key {kid} was revoked at {key.revoked_at.isoformat()}")
    if not signature_valid(key.public_key, payload, signature):
        raise InvalidSignature(
            f"the signature does not match the payload under key {kid} of {record.manufacturer_id}"
        )
    shard = router.for_country(record.installation_country)
    digest = hashlib.sha256(payload).digest()
    record_id = new_id("rec", shard.region)
    salt = new_salt()
    now = datetime.now(UTC)
    async with shard.log.writer() as writer:
        conn = writer.connection
        existing = (
            await conn.execute(
                select(schema.records.c.id, schema.records.c.leaf_index).where(
                    schema.records.c.payload_sha256 == digest
                )
            )
        ).first()
        if existing is not None:
            raise DuplicateSubmission(
                f"this signed payload was already published as {existing.id}",
                {"recordId": existing.id, "leafIndex": existing.leaf_index},
            )
        leaf_index = writer.size
        await conn.execute(
            schema.records.insert().values(
                id=record_id,
                manufacturer_id=record.manufacturer_id,
                installation_id=record.installation_id,
                cn_code=record.cn_code,
                period=record.period,
                payload=payload,
                payload_sha256=digest,
                signature=signature,
                key_id=kid,
                salt=salt,
                leaf_index=leaf_index,
                recorded_at=now,
            )
        )
        statement = Statement(
            kind=StatementKind.RECORD_PUBLISHED,
            subject={"record": record_id, "installation": record.installation_id},
            time=now.isoformat().replace("+00:00", "Z"),
            signer=kid,
            commitment=commitment(salt, document),
        )
        result = await writer.append([statement.to_bytes()])
    return Published(record_id, shard.region, leaf_index, result.size, result.checkpoint)
