"""Organisations, installations and product lines by id, many at once: one query per shard and
table, shards in parallel, answers in the order asked (None where unknown).

The batch functions behind the gateway's DataLoaders (federation `_entities` lookups name many
entities in one request; one lookup per id would be N round trips per shard). Every id must be
well formed (`ids.region_of`); the caller sorts out malformed ones first, so one bad id cannot fail
the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from . import schema
from .identities import Organisation, _key, aware
from .ids import region_of
from .installations import Installation, ProductLine, _installation, _line
from .shards import ShardRouter

_T = TypeVar("_T")

Fetch = Callable[[AsyncConnection, str, list[str]], Awaitable[list[tuple[str, _T]]]]


async def _per_shard(
    router: ShardRouter, ids: Sequence[str], kind: str, fetch: Fetch[_T]
) -> list[_T | None]:
    by_region: dict[str, list[str]] = {}
    for identifier in dict.fromkeys(ids):
        by_region.setdefault(region_of(identifier, kind), []).append(identifier)

    async def one(region: str, wanted: list[str]) -> list[tuple[str, _T]]:
        async with router.shard(region).engine.connect() as conn:
            return await fetch(conn, region, wanted)

    found = await asyncio.gather(*(one(r, w) for r, w in by_region.items()))
    index = dict(pair for part in found for pair in part)
    return [index.get(identifier) for identifier in ids]


async def _rows(conn: AsyncConnection, table: Table, column: str, values: list[str]) -> list[Any]:
    query = select(table).where(table.c[column].in_(values))
    return list((await conn.execute(query)).all())


async def organisations_by_ids(
    router: ShardRouter, ids: Sequence[str]
) -> list[Organisation | None]:
    """Organisations with their keys, from their home shards."""

    async def fetch(
        conn: AsyncConnection, region: str, wanted: list[str]
    ) -> list[tuple[str, Organisation]]:
        orgs = await _rows(conn, schema.organisations, "id", wanted)
        keys = await _rows(conn, schema.organisation_keys, "organisation_id", wanted)
        keys.sort(key=lambda k: (aware(k.valid_from), k.key_id))
        return [
            (
                o.id,
                Organisation(
                    o.id,
                    o.role,
                    o.legal_name,
                    o.country,
                    o.eori,
                    aware(o.created_at) or o.created_at,
                    tuple(_key(k) for k in keys if k.organisation_id == o.id),
                ),
            )
            for o in orgs
        ]

    return await _per_shard(router, ids, "org", fetch)


async def installations_by_ids(
    router: ShardRouter, ids: Sequence[str]
) -> list[Installation | None]:
    """Installations with their product lines, from their home shards."""

    async def fetch(
        conn: AsyncConnection, region: str, wanted: list[str]
    ) -> list[tuple[str, Installation]]:
        rows = await _rows(conn, schema.installations, "id", wanted)
        lines = await _rows(conn, schema.product_lines, "installation_id", wanted)
        lines.sort(key=lambda r: (aware(r.created_at), r.id))
        return [
            (
                r.id,
                _installation(
                    r, region, tuple(_line(p) for p in lines if p.installation_id == r.id)
                ),
            )
            for r in rows
        ]

    return await _per_shard(router, ids, "ins", fetch)


async def product_lines_by_ids(router: ShardRouter, ids: Sequence[str]) -> list[ProductLine | None]:
    """Product lines, from their installations' shards (a line's id carries that region)."""

    async def fetch(
        conn: AsyncConnection, region: str, wanted: list[str]
    ) -> list[tuple[str, ProductLine]]:
        return [(r.id, _line(r)) for r in await _rows(conn, schema.product_lines, "id", wanted)]

    return await _per_shard(router, ids, "pl", fetch)
