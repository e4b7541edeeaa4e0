"""The importer's grants as the policy layer takes them: the one small function standing in for the
vault's `grants_for_importer` until it is committed (then this calls it; nothing else changes).

Grants live in the product line's home shard, so an importer's grants are gathered from every
shard. A revocation is its own row; a revoked grant is kept with `revoked=True` so the policy can
say why it no longer covers a record.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from cbamhub.policies.grants import Grant, GrantSet
from cbamhub.vault import schema
from cbamhub.vault.shards import ShardRouter
from sqlalchemy import select


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


async def importer_grants(router: ShardRouter, importer_id: str) -> GrantSet:
    g, rv = schema.grants.c, schema.grant_revocations.c
    query = (
        select(
            g.id, g.manufacturer_id, g.importer_id, g.product_line_id, g.installation_id,
            g.cn_codes, g.fields, g.purpose, g.valid_from, g.valid_until, rv.revoked_at,
        )
        .select_from(schema.grants.outerjoin(schema.grant_revocations, rv.grant_id == g.id))
        .where(g.importer_id == importer_id)
        .order_by(g.id)
    )  # fmt: skip
    grants: list[Grant] = []
    for region in router.regions:
        async with router.shard(region).engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        for row in rows:
            valid_from = _aware(row.valid_from)
            assert valid_from is not None  # NOT NULL column
            grants.append(
                Grant(
                    grant_id=row.id,
                    manufacturer_id=row.manufacturer_id,
                    importer_id=row.importer_id,
                    product_line_id=row.product_line_id,
                    installation_id=row.installation_id,
                    cn_codes=tuple(json.loads(row.cn_codes)) if row.cn_codes else (),
                    fields=None if row.fields is None else frozenset(json.loads(row.fields)),
                    purpose=row.purpose,
                    valid_from=valid_from,
                    valid_until=_aware(row.valid_until),
                    revoked=row.revoked_at is not None,
                )
            )
    fingerprint = json.dumps([[x.grant_id, x.revoked] for x in grants]).encode()
    return GrantSet.of(f"{importer_id}:{hashlib.sha256(fingerprint).hexdigest()[:16]}", grants)
