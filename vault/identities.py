"""Organisations and their public keys, kept in each organisation's home shard.

Registering an organisation and adding a key are ledger events, so a key the hub accepted can always be
shown to have been published before the signatures made with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from cbamhub.ledger.statements import Statement, StatementKind, commitment, new_salt
from sqlalchemy import select

from . import schema
from .errors import NotFound, UnknownKey
from .ids import new_id, region_of
from .models import OrganisationIn
from .shards import ShardRouter
from .signing import key_id as make_key_id


@dataclass(frozen=True)
class RegisteredKey:
    key_id: str
    organisation_id: str
    public_key: bytes
    revoked_at: datetime | None


async def register_organisation(
    router: ShardRouter, organisation: OrganisationIn, public_key: bytes
) -> str:
    """Create an organisation with its first signing key in its home shard; returns its id."""
    shard = router.for_country(organisation.country)
    org_id = new_id("org", shard.region)
    now = datetime.now(UTC)
    kid = make_key_id(public_key)
    document = {
        "organisation": org_id,
        **organisation.model_dump(),
        "key_id": kid,
        "public_key": public_key.hex(),
    }
    time = now.isoformat().replace("+00:00", "Z")
    async with shard.log.writer() as writer:
        conn = writer.connection
        await conn.execute(
            schema.organisations.insert().values(
                id=org_id, created_at=now, **organisation.model_dump()
            )
        )
        await conn.execute(
            schema.organisation_keys.insert().values(
                key_id=kid, organisation_id=org_id, public_key=public_key, valid_from=now
            )
        )
        registered = Statement(
            kind=StatementKind.ORGANISATION_REGISTERED,
            subject={"organisation": org_id, "key": kid},
            time=time,
            signer=kid,
            commitment=commitment(new_salt(), document),
        )
        await writer.append([registered.to_bytes()])
    return org_id


async def organisation_key(router: ShardRouter, organisation_id: str, kid: str) -> RegisteredKey:
    """The key `kid` of an organisation, from the organisation's home shard."""
    shard = router.shard(region_of(organisation_id, "org"))
    async with shard.engine.connect() as conn:
        org = (
            await conn.execute(
                select(schema.organisations.c.id).where(
                    schema.organisations.c.id == organisation_id
                )
            )
        ).first()
        if org is None:
            raise NotFound(f"no organisation {organisation_id}")
        row = (
            await conn.execute(
                select(schema.organisation_keys).where(
                    schema.organisation_keys.c.key_id == kid,
                    schema.organisation_keys.c.organisation_id == organisation_id,
                )
            )
        ).first()
    if row is None:
        raise UnknownKey(f"key {kid} is not registered for organisation {organisation_id}")
    return RegisteredKey(row.key_id, row.organisation_id, row.public_key, row.revoked_at)
