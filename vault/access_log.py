"""Who read what: the reads of a manufacturer's records by other organisations.

Written once per request (one INSERT per shard touched), in the record's home shard, so the log of
a record lives where the record does and leaves the region only as ids. Read back by the
manufacturer, newest first, across every shard in parallel.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from . import schema
from .identities import aware
from .ids import region_of
from .shards import ShardRouter

MAX_ENTRIES = 1000


@dataclass(frozen=True)
class Read:
    record_id: str
    manufacturer_id: str
    reader_id: str
    request_id: str | None
    fields: tuple[str, ...] | None
    """The fields served; None = every field."""
    read_at: datetime


async def log_reads(router: ShardRouter, reads: Sequence[Read]) -> None:
    """Append reads, grouped into one statement per home shard."""
    by_region: dict[str, list[Read]] = {}
    for read in reads:
        by_region.setdefault(region_of(read.record_id, "rec"), []).append(read)

    fields_json: dict[tuple[str, ...], str] = {}  # a request's reads mostly share one field set

    def listed(fields: tuple[str, ...] | None) -> str | None:
        if fields is None:
            return None
        found = fields_json.get(fields)
        if found is None:
            found = fields_json[fields] = json.dumps(sorted(fields))
        return found

    async def one(region: str, rows: list[Read]) -> None:
        ids = secrets.token_bytes(16 * len(rows))  # one system call for every row's random id
        await router.shard(region).direct.append(
            schema.access_log,
            [
                {
                    "id": ids[16 * i : 16 * i + 16].hex(),
                    "record_id": r.record_id,
                    "manufacturer_id": r.manufacturer_id,
                    "reader_id": r.reader_id,
                    "request_id": r.request_id,
                    "fields": listed(r.fields),
                    "read_at": r.read_at.astimezone(UTC),
                }
                for i, r in enumerate(rows)
            ],
        )

    await asyncio.gather(*(one(region, rows) for region, rows in by_region.items()))


async def reads_of_manufacturer(
    router: ShardRouter, manufacturer_id: str, *, since: datetime | None = None, limit: int = 100
) -> list[Read]:
    """The newest `limit` reads of the manufacturer's records (since `since`), newest first."""
    limit = max(1, min(limit, MAX_ENTRIES))
    table = schema.access_log
    query = (
        select(table)
        .where(table.c.manufacturer_id == manufacturer_id)
        .order_by(table.c.read_at.desc(), table.c.id)
        .limit(limit)
    )
    if since is not None:
        query = query.where(table.c.read_at >= since.astimezone(UTC))

    async def one(region: str) -> list[Read]:
        async with router.shard(region).engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            Read(
                r.record_id,
                r.manufacturer_id,
                r.reader_id,
                r.request_id,
                None if r.fields is None else tuple(json.loads(r.fields)),
                aware(r.read_at) or r.read_at,
            )
            for r in rows
        ]

    found = await asyncio.gather(*(one(r) for r in router.regions))
    merged = sorted((r for part in found for r in part), key=lambda r: r.read_at, reverse=True)
    return merged[:limit]
