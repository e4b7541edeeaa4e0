"""A manufacturer's installations and product lines, in the shard of the installation's home region.

The installation's country decides its region (settings' country table), like its records; a product
line belongs to exactly one installation and lives beside it, so an installation's whole description
is served by one shard. Both name their organisation (whose rows may be in another shard) by id only.
Registering either is signed by the manufacturer with a key valid now and is a ledger entry in the
installation's region, in the same transaction as the row. Replaying the same signed document returns
the existing object instead of creating a second one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cbamhub.ledger.statements import StatementKind
from sqlalchemy import select

from . import schema
from .errors import Forbidden, NotFound
from .identities import (
    append_statement,
    aware,
    get_organisation,
    parse_signed,
    verify_signed,
)
from .ids import new_id, region_of
from .models import InstallationIn, ProductLineIn
from .shards import ShardRouter
from .signing import SignedDocument


@dataclass(frozen=True)
class Installation:
    id: str
    organisation_id: str
    name: str
    country: str
    region: str
    un_locode: str | None
    latitude: float | None
    longitude: float | None
    production_routes: tuple[str, ...]
    created_at: datetime
    product_lines: tuple[ProductLine, ...] = ()


@dataclass(frozen=True)
class ProductLine:
    id: str
    installation_id: str
    organisation_id: str
    name: str
    cn_codes: tuple[str, ...]
    created_at: datetime


def _digest(signed: SignedDocument) -> bytes:
    return hashlib.sha256(signed.payload).digest()


async def _manufacturer(router: ShardRouter, organisation_id: str, signed: SignedDocument) -> None:
    """The document is the organisation's (key valid now), and the organisation makes goods."""
    organisation = await get_organisation(router, organisation_id)
    await verify_signed(router, organisation_id, signed)
    if organisation.role != "manufacturer":
        raise Forbidden(
            f"{organisation_id} is a {organisation.role}: only manufacturers have installations"
        )


def _installation(row: Any, region: str, lines: tuple[ProductLine, ...] = ()) -> Installation:
    return Installation(
        row.id,
        row.organisation_id,
        row.name,
        row.country,
        region,
        row.un_locode,
        row.latitude,
        row.longitude,
        tuple(json.loads(row.production_routes)),
        aware(row.created_at) or row.created_at,
        lines,
    )


def _line(row: Any) -> ProductLine:
    return ProductLine(
        row.id,
        row.installation_id,
        row.organisation_id,
        row.name,
        tuple(json.loads(row.cn_codes)),
        aware(row.created_at) or row.created_at,
    )


async def register_installation(router: ShardRouter, signed: SignedDocument) -> Installation:
    document = parse_signed(InstallationIn, signed)
    await _manufacturer(router, document.organisation, signed)
    shard = router.for_country(document.country)
    digest = _digest(signed)
    now = datetime.now(UTC)
    async with shard.log.writer() as writer:
        conn = writer.connection
        existing = (
            await conn.execute(
                select(schema.installations).where(schema.installations.c.request_digest == digest)
            )
        ).first()
        if existing is not None:
            return _installation(existing, shard.region)
        installation_id = new_id("ins", shard.region)
        values = {
            "id": installation_id,
            "organisation_id": document.organisation,
            "name": document.name,
            "country": document.country,
            "un_locode": document.un_locode,
            "latitude": document.latitude,
            "longitude": document.longitude,
            "production_routes": json.dumps(document.production_routes),
            "request_digest": digest,
            "key_id": signed.key_id,
            "created_at": now,
        }
        await conn.execute(schema.installations.insert().values(**values))
        await append_statement(
            writer,
            StatementKind.INSTALLATION_REGISTERED,
            {"installation": installation_id, "organisation": document.organisation},
            now,
            signed.key_id,
            json.loads(signed.payload),
        )
    return Installation(
        installation_id,
        document.organisation,
        document.name,
        document.country,
        shard.region,
        document.un_locode,
        document.latitude,
        document.longitude,
        tuple(document.production_routes),
        now,
    )


async def register_product_line(router: ShardRouter, signed: SignedDocument) -> ProductLine:
    document = parse_signed(ProductLineIn, signed)
    await _manufacturer(router, document.organisation, signed)
    shard = router.shard(region_of(document.installation, "ins"))
    digest = _digest(signed)
    now = datetime.now(UTC)
    async with shard.log.writer() as writer:
        conn = writer.connection
        owner = (
            await conn.execute(
                select(schema.installations.c.organisation_id).where(
                    schema.installations.c.id == document.installation
                )
            )
        ).first()
        if owner is None:
            raise NotFound(f"no installation {document.installation}")
        if owner[0] != document.organisation:
            raise Forbidden(
                f"installation {document.installation} is not {document.organisation}'s"
            )
        existing = (
            await conn.execute(
                select(schema.product_lines).where(schema.product_lines.c.request_digest == digest)
            )
        ).first()
        if existing is not None:
            return _line(existing)
        line_id = new_id("pl", shard.region)
        await conn.execute(
            schema.product_lines.insert().values(
                id=line_id,
                installation_id=document.installation,
                organisation_id=document.organisation,
                name=document.name,
                cn_codes=json.dumps(document.cn_codes),
                request_digest=digest,
                key_id=signed.key_id,
                created_at=now,
            )
        )
        await append_statement(
            writer,
            StatementKind.PRODUCT_LINE_REGISTERED,
            {"product_line": line_id, "installation": document.installation},
            now,
            signed.key_id,
            json.loads(signed.payload),
        )
    return ProductLine(
        line_id,
        document.installation,
        document.organisation,
        document.name,
        tuple(document.cn_codes),
        now,
    )


async def get_installation(router: ShardRouter, installation_id: str) -> Installation:
    """An installation with its product lines, from its home shard alone."""
    shard = router.shard(region_of(installation_id, "ins"))
    async with shard.engine.connect() as conn:
        row = (
            await conn.execute(
                select(schema.installations).where(schema.installations.c.id == installation_id)
            )
        ).first()
        if row is None:
            raise NotFound(f"no installation {installation_id}")
        lines = (
            await conn.execute(
                select(schema.product_lines)
                .where(schema.product_lines.c.installation_id == installation_id)
                .order_by(schema.product_lines.c.created_at, schema.product_lines.c.id)
            )
        ).all()
    return _installation(row, shard.region, tuple(_line(r) for r in lines))
