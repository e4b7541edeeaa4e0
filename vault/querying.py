"""List queries over every shard with the reader's scopes pushed down into SQL.

A reader's grants compile (once per request, by the policy) into scopes: manufacturer, installation,
product line, CN codes. Each shard gets ONE statement whose WHERE is the OR of its scopes' conditions
(each an index range: ix_records_scope_line / _installation / _manufacturer), AND the filters, so an
importer with three grants reads the rows of three product lines, never the rest of the shard. Shards
run in parallel and their ordered pages merge on (recorded_at, id), which is also the keyset of the
opaque Relay-style cursors: a page never skips or repeats a record, whatever is published meanwhile
(new records sort after every cursor handed out before them). Decision 0048.

`as_of` (recorded time) keeps only records recorded by then, with their status as of then; it is how
"what did importer X see on D" is answered, with `grants_for_importer(X, at=D)` for the scopes.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import heapq
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, and_, exists, false, literal_column, or_, select
from sqlalchemy.sql.elements import ColumnElement

from . import schema
from .errors import BadInput
from .grants import Grant
from .identities import aware
from .ids import region_of
from .lifecycle import (
    EventKind,
    RecordStatus,
    kinds_query,
    statuses_by_record,
)
from .shards import Shard, ShardRouter

MAX_LIMIT = 500


@dataclass(frozen=True)
class RecordScope:
    """Records a reader may list: every given part must match (None = any)."""

    manufacturer_id: str | None = None
    installation_id: str | None = None
    product_line_id: str | None = None
    cn_codes: tuple[str, ...] | None = None

    @classmethod
    def of_grant(cls, grant: Grant) -> RecordScope:
        return cls(
            grant.manufacturer_id, grant.installation_id, grant.product_line_id, grant.cn_codes
        )

    def region(self) -> str | None:
        """The one shard that can hold the scope's records, when its ids name it."""
        if self.product_line_id is not None:
            return region_of(self.product_line_id, "pl")
        if self.installation_id is not None:
            return region_of(self.installation_id, "ins")
        return None

    def condition(self) -> ColumnElement[bool]:
        """The scope as one index range: its most specific id (and its CN codes).

        A product line belongs to one installation of one manufacturer (checked at publish), so
        the wider ids add nothing but would invite a planner to range over them instead."""
        records = schema.records.c
        if self.product_line_id is not None:
            part = records.product_line_id == self.product_line_id
        elif self.installation_id is not None:
            part = records.installation_id == self.installation_id
        elif self.manufacturer_id is not None:
            part = records.manufacturer_id == self.manufacturer_id
        else:
            raise BadInput("a scope names at least a manufacturer, installation or product line")
        if self.cn_codes is not None:
            return and_(part, records.cn_code.in_(self.cn_codes))
        return part


def scopes_of_grants(grants: Sequence[Grant], at: datetime) -> list[RecordScope]:
    """The scopes of the grants active at `at` (the vault's own reading of validity; the gateway
    normally takes the policy's compiled scopes instead)."""
    return [RecordScope.of_grant(g) for g in grants if g.active_at(at)]


@dataclass(frozen=True)
class RecordFilters:
    cn_code: str | None = None
    period: tuple[datetime, datetime] | None = None
    """Records whose reporting period (valid time) overlaps [start, end]."""
    quality_tier: str | None = None
    verified_only: bool = False
    manufacturer_id: str | None = None
    include_superseded: bool = False
    """By default a superseded version is left out: its correction is the record."""


@dataclass(frozen=True)
class RecordSummary:
    id: str
    region: str
    manufacturer_id: str
    installation_id: str
    product_line_id: str | None
    cn_code: str
    period: str
    quality_tier: str | None
    version: int
    supersedes: str | None
    recorded_at: datetime
    leaf_index: int
    status: RecordStatus
    """As of the query's `as_of` (now if None)."""
    cursor: str
    document: Mapping[str, Any] | None = None
    """The record as signed (KIT names), when asked for."""


@dataclass(frozen=True)
class RecordPage:
    records: tuple[RecordSummary, ...]
    has_next_page: bool
    end_cursor: str | None


def encode_cursor(recorded_at: datetime, record_id: str) -> str:
    when = recorded_at.astimezone(UTC).isoformat()
    if _PLAIN_ID.fullmatch(record_id):  # nothing to escape: the text json.dumps would write
        raw = f'["{when}", "{record_id}"]'.encode()
    else:
        raw = json.dumps([when, record_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_PLAIN_ID = re.compile(r"[A-Za-z0-9_]+")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        when, record_id = json.loads(raw)
        at = datetime.fromisoformat(when)
        region_of(record_id, "rec")
    except (ValueError, TypeError, binascii.Error, BadInput):
        raise BadInput(
            "not a cursor of this list", {"problems": [{"field": "after", "reason": "malformed"}]}
        ) from None
    return at.astimezone(UTC), record_id


def _event_exists(kind: EventKind, as_of: datetime | None) -> ColumnElement[bool]:
    events = schema.record_events.c
    condition = and_(events.record_id == schema.records.c.id, events.kind == kind.value)
    if as_of is not None:
        condition = and_(condition, events.recorded_at <= as_of)
    return exists().where(condition)


def shard_query(
    scopes: Sequence[RecordScope] | None,
    filters: RecordFilters,
    as_of: datetime | None,
    after: tuple[datetime, str] | None,
    limit: int,
    dialect: str = "postgresql",
    documents: bool = True,
) -> Select[Any]:
    """The one statement a shard runs: scopes OR-ed, filters AND-ed, keyset order and limit.

    One scope without CN codes is an equality on an index that is also in list order
    (ix_records_line_time, ..._installation_time, ..._scope_manufacturer): the page walks it and stops
    at LIMIT, however large the line. Otherwise, on SQLite, the order is `+recorded_at, +id`: the
    unary plus is SQLite's way to keep its planner from walking ix_records_recorded in order (a scan
    of the whole table, stopping at LIMIT) instead of seeking the scopes' index ranges and sorting
    the rows they hold."""
    records = schema.records.c
    query: Select[Any] = select(*_columns(documents))
    if scopes is not None:
        query = query.where(or_(*(s.condition() for s in scopes)) if scopes else false())
    if filters.cn_code is not None:
        query = query.where(records.cn_code == filters.cn_code)
    if filters.manufacturer_id is not None:
        query = query.where(records.manufacturer_id == filters.manufacturer_id)
    if filters.quality_tier is not None:
        query = query.where(records.quality_tier == filters.quality_tier)
    if filters.period is not None:
        start, end = (t.astimezone(UTC) for t in filters.period)
        query = query.where(records.valid_from <= end, records.valid_until >= start)
    if as_of is not None:
        query = query.where(records.recorded_at <= as_of)
    if filters.verified_only:
        query = query.where(_event_exists(EventKind.VERIFIED, as_of))
    if not filters.include_superseded:
        query = query.where(~_event_exists(EventKind.SUPERSEDED, as_of))
    if after is not None:
        at, record_id = after
        query = query.where(
            or_(records.recorded_at > at, and_(records.recorded_at == at, records.id > record_id))
        )
    in_index_order = scopes is not None and len(scopes) == 1 and scopes[0].cn_codes is None
    if scopes is not None and dialect == "sqlite" and not in_index_order:
        ordered: Select[Any] = query.order_by(
            literal_column("+records.recorded_at"), literal_column("+records.id")
        )
    else:
        ordered = query.order_by(records.recorded_at, records.id)
    return ordered.limit(limit)


async def _shard_page(
    shard: Shard,
    scopes: Sequence[RecordScope] | None,
    filters: RecordFilters,
    as_of: datetime | None,
    after: tuple[datetime, str] | None,
    limit: int,
    documents: bool,
) -> list[RecordSummary]:
    dialect = shard.engine.dialect.name
    inputs = (
        tuple(scopes) if scopes is not None else None,
        filters,
        as_of,
        after,
        limit,
        documents,
    )
    page = shard.direct.built(
        ("page", *inputs),
        lambda: shard_query(scopes, filters, as_of, after, limit, dialect, documents),
    )
    # the page's events by the page's own statement, so both are read in one go and one snapshot
    kinds = shard.direct.built(
        ("page events", *inputs),
        lambda: kinds_query(page.with_only_columns(schema.records.c.id), as_of),
    )
    rows, kind_rows = await shard.direct.fetch_each([page, kinds])
    status = statuses_by_record([r.id for r in rows], kind_rows)
    return [_summary(shard, row, status[row.id], documents) for row in rows]


_SUMMARY_COLUMNS = (
    "id",
    "manufacturer_id",
    "installation_id",
    "product_line_id",
    "cn_code",
    "period",
    "quality_tier",
    "version",
    "supersedes",
    "recorded_at",
    "leaf_index",
)


def _columns(documents: bool) -> list[Any]:
    """The records' columns a summary reads, and the sealed payload only with documents (most of a
    row's bytes, and a sort would carry them): every further column is converted per row."""
    names = (*_SUMMARY_COLUMNS, "payload") if documents else _SUMMARY_COLUMNS
    return [schema.records.c[name] for name in names]


def _summary(shard: Shard, row: Any, status: RecordStatus, documents: bool) -> RecordSummary:
    """`status` is the record's as of the query's `as_of`, folded from the events its statement
    read."""
    recorded_at = aware(row.recorded_at) or row.recorded_at
    document = None
    if documents:
        document = json.loads(shard.open_sealed(row.payload, row.id, "payload"))
    return RecordSummary(
        id=row.id,
        region=shard.region,
        manufacturer_id=row.manufacturer_id,
        installation_id=row.installation_id,
        product_line_id=row.product_line_id,
        cn_code=row.cn_code,
        period=row.period,
        quality_tier=row.quality_tier,
        version=row.version or 1,
        supersedes=row.supersedes,
        recorded_at=recorded_at,
        leaf_index=row.leaf_index,
        status=status,
        cursor=encode_cursor(recorded_at, row.id),
        document=document,
    )


async def find_records(
    router: ShardRouter,
    scopes: Sequence[RecordScope] | None,
    *,
    filters: RecordFilters | None = None,
    as_of: datetime | None = None,
    after: str | None = None,
    limit: int = 50,
    documents: bool = False,
) -> RecordPage:
    """One page of the records the scopes cover, oldest recorded first.

    `scopes=None` lists every record (for callers the policy lets audit everything); an EMPTY
    sequence lists nothing. Each shard is queried only if a scope can reach it."""
    if not 1 <= limit <= MAX_LIMIT:
        raise BadInput(f"limit is 1..{MAX_LIMIT}, not {limit}")
    filters = filters or RecordFilters()
    as_of = as_of.astimezone(UTC) if as_of is not None else None
    keyset = decode_cursor(after) if after is not None else None
    per_region: dict[str, list[RecordScope] | None] = {}
    if scopes is None:
        per_region = dict.fromkeys(router.regions)
    else:
        for scope in scopes:
            region = scope.region()
            for name in [region] if region is not None else router.regions:
                listed = per_region.setdefault(name, [])
                assert listed is not None
                listed.append(scope)
    pages = await asyncio.gather(
        *(
            _shard_page(router.shard(region), listed, filters, as_of, keyset, limit + 1, documents)
            for region, listed in per_region.items()
        )
    )
    merged = list(heapq.merge(*pages, key=lambda r: (r.recorded_at, r.id)))
    page = tuple(merged[:limit])
    return RecordPage(page, len(merged) > limit, page[-1].cursor if page else None)


async def records_by_ids(
    router: ShardRouter,
    ids: Sequence[str],
    *,
    as_of: datetime | None = None,
    documents: bool = True,
) -> list[RecordSummary | None]:
    """Records by id, one query per shard, in the order asked (None where unknown, or not yet
    recorded at `as_of`): the batch function behind DataLoaders."""
    as_of = as_of.astimezone(UTC) if as_of is not None else None
    by_region: dict[str, list[str]] = {}
    for record_id in dict.fromkeys(ids):
        by_region.setdefault(region_of(record_id, "rec"), []).append(record_id)

    async def one(region: str, wanted: list[str]) -> list[RecordSummary]:
        shard = router.shard(region)
        query = select(*_columns(documents)).where(schema.records.c.id.in_(wanted))
        if as_of is not None:
            query = query.where(schema.records.c.recorded_at <= as_of)
        ids = query.with_only_columns(schema.records.c.id)
        rows, kind_rows = await shard.direct.fetch_each([query, kinds_query(ids, as_of)])
        status = statuses_by_record([r.id for r in rows], kind_rows)
        return [_summary(shard, r, status[r.id], documents) for r in rows]

    found = await asyncio.gather(*(one(r, w) for r, w in by_region.items()))
    index = {s.id: s for summaries in found for s in summaries}
    return [index.get(record_id) for record_id in ids]
