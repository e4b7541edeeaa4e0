"""Record queries: one record, or a Relay connection of the records a reader may list.

Lists run the compiled grant set once per request and push it into SQL (cbamhub/access.py); the
page's records are then loaded with their proofs in one batch (one query per shard) from the
replica's `StoredRecordCache`. Single records go through one DataLoader per request, which batches
every id asked for in the same tick into one query per shard, so no query does N+1 shard reads.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

import strawberry
from cbamhub.policies import Decision, RecordRef
from cbamhub.vault import lifecycle, reading
from cbamhub.vault.errors import BadInput, NotFound
from cbamhub.vault.querying import MAX_LIMIT, RecordFilters
from cbamhub.vault.reading import StoredRecord
from cbamhub.vault.shards import ShardRouter
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from cbamhub.access import RecordAccess, ref_of_stored, ref_of_summary

from .graphql_types import Record
from .record_reads import access_of, decide, note_read, typed


class StoredRecordCache:
    """Records with their proofs, reused by a replica for `ttl` seconds.

    A record's content never changes (corrections are new records) and a proof against a checkpoint
    a second or two old is still a proof, so hot records need not be unsealed and proven again on
    every request. Status is never taken from here: it comes with each query. A record is read
    once however many requests miss it at the same time (single flight): when a hot page's entries
    expire, every request in flight used to read and prove the same records again."""

    def __init__(self, ttl: float, max_entries: int = 20_000) -> None:
        self.ttl = ttl
        self._max = max_entries
        self._entries: dict[str, tuple[float, StoredRecord]] = {}
        self._views: dict[str, tuple[StoredRecord, dict[tuple[Any, str], Record]]] = {}
        self._loading: dict[str, asyncio.Future[dict[str, StoredRecord]]] = {}
        """Record id -> the read under way that will bring it (only while ttl > 0)."""

    async def load(self, router: ShardRouter, ids: list[str]) -> list[StoredRecord | None]:
        now = time.monotonic()
        fresh = {
            i: hit[1]
            for i in ids
            if (hit := self._entries.get(i)) is not None and now - hit[0] < self.ttl
        }
        missing = [i for i in dict.fromkeys(ids) if i not in fresh]
        if missing and self.ttl <= 0:
            fresh.update(await self._read(router, missing, now))
        elif missing:
            ours = [i for i in missing if i not in self._loading]
            if ours:
                read = asyncio.ensure_future(self._read(router, ours, now))
                self._loading.update(dict.fromkeys(ours, read))
                read.add_done_callback(lambda done: self._landed(ours, done))
            for under_way in dict.fromkeys(self._loading[i] for i in missing):
                # shielded: a request that goes away does not cancel the others' read
                fresh.update(await asyncio.shield(under_way))
        return [fresh.get(i) for i in ids]

    async def _read(
        self, router: ShardRouter, ids: list[str], now: float
    ) -> dict[str, StoredRecord]:
        loaded = {
            s.record_id: s for s in await reading.records_with_proof(router, ids) if s is not None
        }
        if self.ttl > 0:
            if len(self._entries) + len(loaded) > self._max:
                self._entries.clear()
                self._views.clear()
            self._entries.update((i, (now, stored)) for i, stored in loaded.items())
        return loaded

    def _landed(self, ids: list[str], read: asyncio.Future[dict[str, StoredRecord]]) -> None:
        for i in ids:
            if self._loading.get(i) is read:
                del self._loading[i]

    def render(self, stored: StoredRecord, fields: frozenset[str] | None, status: str) -> Record:
        """`Record.from_stored`, kept with the record it renders for as long as that record is
        the cached one: both are immutable, and rendering (figures, proof hashes to base64) was
        ~5 % of a listed page's CPU when every request rendered every record again."""
        if self.ttl <= 0:
            return Record.from_stored(stored, fields, status)
        held = self._views.get(stored.record_id)
        if held is None or held[0] is not stored:  # a fresher load of the record replaced it
            if len(self._views) >= self._max:
                self._views.clear()
            held = self._views[stored.record_id] = (stored, {})
        views = held[1]
        view = views.get((fields, status))
        if view is None:
            view = views[(fields, status)] = Record.from_stored(stored, fields, status)
        return view


def rendered(
    info: Info, stored: StoredRecord, fields: frozenset[str] | None, status: str
) -> Record:
    """The record as this reader may see it (see `StoredRecordCache.render`)."""
    cache: StoredRecordCache = info.context["request"].app.state.stored_cache
    return cache.render(stored, fields, status)


def stored_loader(info: Info) -> DataLoader[str, StoredRecord | None]:
    context: dict[str, Any] = info.context
    loader: DataLoader[str, StoredRecord | None] | None = context.get("stored_loader")
    if loader is None:
        router = context["router"]
        cache: StoredRecordCache = context["request"].app.state.stored_cache

        async def load(ids: list[str]) -> list[StoredRecord | None]:
            return await cache.load(router, ids)

        loader = DataLoader(load_fn=load, max_batch_size=MAX_LIMIT)
        context["stored_loader"] = loader
    return loader


async def readable_record(
    info: Info, record_id: str, access: RecordAccess | None = None
) -> tuple[StoredRecord, RecordRef, Decision]:
    """A record (through the request's loader) with the reader's allowing decision: the one way
    every single-record query reads; NotFound, or the typed denial from `decide`, otherwise."""
    stored = await stored_loader(info).load(record_id)
    if stored is None:
        raise NotFound(f"no record {record_id}")
    ref = ref_of_stored(stored)
    return stored, ref, await decide(info, ref, access)


@strawberry.input(description="Narrow a record list; every given part must match.")
class RecordFilter:
    cn_code: str | None = None
    period_start: datetime | None = strawberry.field(
        default=None, description="With periodEnd: records whose reporting period overlaps it."
    )
    period_end: datetime | None = None
    quality_tier: str | None = strawberry.field(
        default=None, description="Default, Estimated, Measured or Verified Measured."
    )
    verified_only: bool = False
    manufacturer_id: str | None = None
    include_superseded: bool = False

    def to_filters(self) -> RecordFilters:
        if (self.period_start is None) != (self.period_end is None):
            raise BadInput("give periodStart and periodEnd together")
        period = (
            (self.period_start, self.period_end)
            if self.period_start is not None and self.period_end is not None
            else None
        )
        return RecordFilters(
            cn_code=self.cn_code,
            period=period,
            quality_tier=self.quality_tier,
            verified_only=self.verified_only,
            manufacturer_id=self.manufacturer_id,
            include_superseded=self.include_superseded,
        )


@strawberry.type
class RecordEdge:
    cursor: str
    node: Record


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type(description="A page of records (Relay cursor connection).")
class RecordConnection:
    edges: list[RecordEdge]
    page_info: PageInfo


def _access_at(info: Info, as_of: datetime | None) -> RecordAccess:
    access = access_of(info)
    if as_of is None:
        return access
    if as_of.tzinfo is None:
        raise BadInput("asOf needs a time zone (e.g. 2026-05-01T00:00:00Z)")
    return RecordAccess(access.router, access.authorizer, access.principal, as_of)


@strawberry.type
class RecordQuery:
    @strawberry.field(
        description="A record you may read, with its inclusion proof and checkpoint, as the hub "
        "knew it at `asOf` (recorded time; default now)."
    )
    async def record(self, info: Info, id: strawberry.ID, as_of: datetime | None = None) -> Record:
        try:
            access = _access_at(info, as_of)
            stored, ref, decision = await readable_record(info, str(id), access)
            state = await lifecycle.record_state(access.router, str(id), as_of)
        except Exception as error:
            raise typed(error) from error
        note_read(info, ref, decision.fields)
        return rendered(info, stored, decision.fields, state.status.value)

    @strawberry.field(
        description="The records you may list (your own, granted, assigned, or audited), oldest "
        "recorded first, as known at `asOf`."
    )
    async def records(
        self,
        info: Info,
        filter: RecordFilter | None = None,
        as_of: datetime | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> RecordConnection:
        try:
            if not 1 <= first <= MAX_LIMIT:
                raise BadInput(f"first is 1..{MAX_LIMIT}, not {first}")
            access = _access_at(info, as_of)
            visible, page = await access.find(
                filter.to_filters() if filter else None, after=after, limit=first
            )
            # a page is one batch already: straight to the replica's cache, no DataLoader round
            cache: StoredRecordCache = info.context["request"].app.state.stored_cache
            loaded = await cache.load(info.context["router"], [v.summary.id for v in visible])
        except Exception as error:
            raise typed(error) from error
        for v in visible:
            note_read(info, ref_of_summary(v.summary), v.fields)
        edges = [
            RecordEdge(
                cursor=v.summary.cursor,
                node=rendered(info, stored, v.fields, v.summary.status.value),
            )
            for v, stored in zip(visible, loaded, strict=True)
            if stored is not None
        ]
        return RecordConnection(
            edges=edges,
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
        )
