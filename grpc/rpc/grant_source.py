"""The importer's grants as the policy layer takes them (cbamhub.policies.GrantSet), from the vault's
`grants_for_importer` (every shard; revoked and expired ones included: the policy judges validity
and says why a grant no longer covers a record)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from cbamhub.policies.grants import Grant, GrantSet
from cbamhub.vault.grants import Grant as VaultGrant
from cbamhub.vault.grants import grants_for_importer
from cbamhub.vault.shards import ShardRouter


def policy_grant(grant: VaultGrant, now: datetime) -> Grant:
    return Grant(
        grant_id=grant.id,
        manufacturer_id=grant.manufacturer_id,
        importer_id=grant.importer_id,
        product_line_id=grant.product_line_id,
        installation_id=grant.installation_id,
        cn_codes=grant.cn_codes or (),
        fields=None if grant.fields is None else frozenset(grant.fields),
        purpose=grant.purpose,
        valid_from=grant.valid_from,
        valid_until=grant.valid_until,
        revoked=grant.revoked_at is not None and grant.revoked_at <= now,
    )


async def importer_grants(router: ShardRouter, importer_id: str) -> GrantSet:
    now = datetime.now(UTC)
    grants = [policy_grant(g, now) for g in await grants_for_importer(router, importer_id)]
    # the version keys the Authorizer's decision cache: any grant added or revoked changes it
    fingerprint = json.dumps([[g.grant_id, g.revoked] for g in grants]).encode()
    return GrantSet.of(f"{importer_id}:{hashlib.sha256(fingerprint).hexdigest()[:16]}", grants)
