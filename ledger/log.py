"""The append-only transparency log of one region, stored in that region's database.

Appends update only the log's right edge: the partial tile of each level and the partial entry bundle.
Every completed subtree hash is persisted in expanded tiles (tiles.py), so appending costs about two
hashes per leaf and a proof costs one indexed read, whatever the size of the log. One asyncio lock per
log (and, on PostgreSQL, a row lock on the head) serialises writers; the in-memory edge is a cache that
is checked against the committed head at the start of every write and reloaded when it differs.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func as sa_func
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from . import bundles, proofs, schema
from .checkpoint import Checkpoint, sign_checkpoint
from .note import Ed25519Signer
from .storage import TileReader, insert_ignore, tiles_in, upsert
from .tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    expand,
    node_from_tile,
    split_hashes,
    tile_key,
    tile_root,
)
from .verify import EMPTY_ROOT, HASH_SIZE, leaf_hash


class LogError(Exception):
    """The log cannot do what was asked (bad sizes, oversized entries)."""


class LogCorrupted(LogError):
    """Stored data contradicts itself: something was altered outside the log."""


@dataclass(frozen=True)
class TreeHead:
    size: int
    root: bytes


@dataclass(frozen=True)
class AppendResult:
    first_index: int
    size: int
    root: bytes
    checkpoint: str
    """The signed checkpoint note committing to the new size."""


@dataclass
class _Edge:
    """The right edge of the tree at `size`: partial tiles per level and the partial entry bundle."""

    size: int
    root: bytes
    tiles: dict[int, tuple[int, int, bytes]] = field(
        default_factory=dict
    )  # level -> (idx, width, blob)
    bundle: list[bytes] = field(default_factory=list)

    def node(self, height: int, index: int) -> bytes:
        level = height // TILE_HEIGHT
        idx, width, blob = self.tiles[level]
        if tile_key(height, index) != (level, idx):
            raise LogCorrupted(f"node {height}/{index} is not on the log's right edge")
        found = node_from_tile(blob, width, height, index)
        if found is None:
            raise LogCorrupted(f"edge tile {level}/{idx} lacks node {height}/{index}")
        return found

    def compute_root(self) -> bytes:
        if self.size == 0:
            return EMPTY_ROOT
        return proofs.fold([self.node(h, i) for h, i in proofs.root_nodes(self.size)])


class TransparencyLog:
    """One region's log. Create with `await TransparencyLog.open(engine, origin, signer)`."""

    def __init__(
        self,
        engine: AsyncEngine,
        origin: str,
        signer: Ed25519Signer,
        *,
        tile_cache: int = 4096,
    ) -> None:
        self.engine = engine
        self.origin = origin
        self._signer = signer
        self._lock = asyncio.Lock()
        self._edge: _Edge | None = None
        self._cache: OrderedDict[tuple[int, int], tuple[int, bytes]] = OrderedDict()
        self._cache_limit = tile_cache
        self._reader = TileReader(engine)

    @classmethod
    async def open(
        cls,
        engine: AsyncEngine,
        origin: str,
        signer: Ed25519Signer,
        *,
        tile_cache: int = 4096,
    ) -> TransparencyLog:
        """Open the log stored in `engine`, creating its head row for a new log."""
        log = cls(engine, origin, signer, tile_cache=tile_cache)
        empty = sign_checkpoint(Checkpoint(origin=origin, size=0, root=EMPTY_ROOT), signer)
        async with engine.connect() as conn:
            await conn.execution_options(immediate=True)
            async with conn.begin():
                # A new log signs its empty tree, so there is always a checkpoint to serve. Replicas
                # starting together may race here: the inserts do nothing when a row exists, and
                # Ed25519 signatures are deterministic, so every replica writes the same bytes.
                await conn.execute(
                    insert_ignore(conn, schema.head, ["id"]).values(
                        id=1, origin=origin, size=0, root=EMPTY_ROOT
                    )
                )
                await conn.execute(
                    insert_ignore(conn, schema.checkpoints, ["size"]).values(
                        size=0, root=EMPTY_ROOT, note=empty.to_text(), created_at=datetime.now(UTC)
                    )
                )
                row = (await conn.execute(select(schema.head).where(schema.head.c.id == 1))).one()
                if row.origin != origin:
                    raise LogError(f"this database holds the log {row.origin!r}, not {origin!r}")
        return log

    async def close(self) -> None:
        """Release the log's own read connection (the engine stays the caller's)."""
        await self._reader.close()

    # ----------------------------------------------------------------- writing

    @asynccontextmanager
    async def writer(self) -> AsyncIterator[LogWriter]:
        """A write transaction holding the log's lock until it commits.

        Callers write their own rows through `writer.connection` and append entries with
        `writer.append`; everything commits together or not at all.
        """
        async with self._lock, self.engine.connect() as conn:
            await conn.execution_options(immediate=True)
            async with conn.begin():
                try:
                    edge = await self._lock_edge(conn)
                    writer = LogWriter(self, conn, edge)
                    yield writer
                except BaseException:
                    self._edge = None  # the transaction rolls back: the cached edge is unknown
                    raise
            self._edge = writer.edge

    async def append(self, entries: Sequence[bytes]) -> AppendResult:
        """Append a batch of entries in one transaction with its new signed checkpoint."""
        async with self.writer() as writer:
            return await writer.append(entries)

    async def _lock_edge(self, conn: AsyncConnection) -> _Edge:
        query = select(schema.head.c.size, schema.head.c.root).where(schema.head.c.id == 1)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = (await conn.execute(query)).one()
        edge = self._edge
        if edge is None or edge.size != row.size or edge.root != row.root:
            signed = (
                await conn.execute(sa_func.max(schema.checkpoints.c.size).select())
            ).scalar_one()
            if signed is not None and signed > row.size:
                raise LogCorrupted(
                    f"the log head says size {row.size}, but the log signed a checkpoint of size "
                    f"{signed}: the head was rolled back"
                )
            edge = await self._load_edge(conn, row.size)
            if edge.root != row.root:
                raise LogCorrupted(
                    f"the stored tiles give root {edge.root.hex()} at size {row.size}, "
                    f"but the log head says {row.root.hex()}"
                )
        return edge

    async def _load_edge(self, conn: AsyncConnection, size: int) -> _Edge:
        edge = _Edge(size=size, root=EMPTY_ROOT)
        wanted = []
        level = 0
        while size >> (TILE_HEIGHT * level):
            count = size >> (TILE_HEIGHT * level)
            if count % TILE_WIDTH:
                wanted.append((level, count // TILE_WIDTH, count % TILE_WIDTH))
            level += 1
        if wanted:
            keys = [(lv, idx) for lv, idx, _ in wanted]
            rows = await conn.execute(select(schema.tiles).where(tiles_in(keys)))
            found = {(r.level, r.idx): r for r in rows}
            for lv, idx, width in wanted:
                row = found.get((lv, idx))
                if row is None or row.width < width:
                    raise LogCorrupted(
                        f"tile {lv}/{idx} is missing or shorter than size {size} needs"
                    )
                full = expand(split_hashes(row.hashes[: width * HASH_SIZE]))
                edge.tiles[lv] = (idx, width, full)
        if size % TILE_WIDTH:
            row = (
                await conn.execute(
                    select(schema.entry_bundles).where(
                        schema.entry_bundles.c.idx == size // TILE_WIDTH
                    )
                )
            ).first()
            entries = bundles.decode(row.data) if row is not None else []
            if len(entries) < size % TILE_WIDTH:
                raise LogCorrupted(f"entry bundle {size // TILE_WIDTH} is missing entries")
            edge.bundle = entries[: size % TILE_WIDTH]
            # The edge entries are carried into the next bundle write: check them against the tile.
            idx, width, blob = edge.tiles[0]
            for offset, (entry, stored) in enumerate(
                zip(edge.bundle, split_hashes(blob[: width * HASH_SIZE]), strict=True)
            ):
                if leaf_hash(entry) != stored:
                    raise LogCorrupted(
                        f"entry {size - len(edge.bundle) + offset} does not match its leaf hash "
                        f"in tile 0/{idx}: the entry or the tile was altered"
                    )
        edge.root = edge.compute_root()
        return edge

    # ----------------------------------------------------------------- reading

    async def head(self) -> TreeHead:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(schema.head.c.size, schema.head.c.root).where(schema.head.c.id == 1)
                )
            ).one()
        return TreeHead(row.size, row.root)

    async def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 PATH(index, D[0:size]) for a committed size."""
        try:
            ranges = proofs.inclusion_ranges(index, size)
        except ValueError as error:
            raise LogError(str(error)) from error
        return await self._range_hashes(size, ranges)

    async def inclusion_proofs(self, indices: Sequence[int], size: int) -> list[list[bytes]]:
        """PATH(i, D[0:size]) for each index, from one read of the tiles they need (batched reads)."""
        try:
            plans = [proofs.inclusion_ranges(index, size) for index in indices]
        except ValueError as error:
            raise LogError(str(error)) from error
        hashes = await self._range_hashes(size, [r for plan in plans for r in plan])
        out, at = [], 0
        for plan in plans:
            out.append(hashes[at : at + len(plan)])
            at += len(plan)
        return out

    async def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """RFC 9162 PROOF(old_size, D[0:new_size]) for committed sizes (empty when they are equal)."""
        if old_size == new_size and old_size > 0:
            await self._nodes([], new_size)  # only to refuse a size the log has not committed
            return []
        try:
            ranges = proofs.consistency_ranges(old_size, new_size)
        except ValueError as error:
            raise LogError(str(error)) from error
        return await self._range_hashes(new_size, ranges)

    async def root_at(self, size: int) -> bytes:
        """The root hash of the tree at any committed size, from stored subtrees."""
        if size == 0:
            return EMPTY_ROOT
        return (await self._range_hashes(size, [(0, size)]))[0]

    async def leaf_hash_at(self, index: int) -> bytes:
        nodes = await self._nodes([(0, index)], index + 1)
        return nodes[(0, index)]

    async def entries(self, start: int, end: int) -> list[bytes]:
        """Entries [start, end) of the committed log."""
        head = await self.head()
        if not 0 <= start <= end <= head.size:
            raise LogError(f"entries {start}..{end} are outside the log of size {head.size}")
        first, last = start // TILE_WIDTH, (end - 1) // TILE_WIDTH
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(schema.entry_bundles)
                .where(schema.entry_bundles.c.idx.between(first, last))
                .order_by(schema.entry_bundles.c.idx)
            )
            out: list[bytes] = []
            expected = first
            for row in rows:
                if row.idx != expected:
                    raise LogCorrupted(f"entry bundle {expected} is missing")
                out.extend(bundles.decode(row.data))
                expected += 1
        base = first * TILE_WIDTH
        result = out[start - base : end - base]
        if len(result) != end - start:
            raise LogCorrupted(f"entry bundles hold fewer entries than {start}..{end}")
        return result

    async def entries_at(self, indices: Sequence[int]) -> dict[int, bytes]:
        """The entries at scattered indices, from one query for the bundles holding them."""
        if not indices:
            return {}
        head = await self.head()
        if min(indices) < 0 or max(indices) >= head.size:
            raise LogError(f"entries {sorted(indices)} reach outside the log of size {head.size}")
        wanted = sorted({i // TILE_WIDTH for i in indices})
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(schema.entry_bundles).where(schema.entry_bundles.c.idx.in_(wanted))
                )
            ).all()
        decoded = {row.idx: bundles.decode(row.data) for row in rows}
        out: dict[int, bytes] = {}
        for index in indices:
            bundle = decoded.get(index // TILE_WIDTH)
            if bundle is None:
                raise LogCorrupted(f"entry bundle {index // TILE_WIDTH} is missing")
            if index % TILE_WIDTH >= len(bundle):
                raise LogCorrupted(f"entry bundle {index // TILE_WIDTH} lacks entry {index}")
            out[index] = bundle[index % TILE_WIDTH]
        return out

    async def checkpoint(self, size: int | None = None) -> str:
        """The signed checkpoint note for `size` (default: the latest)."""
        query = select(schema.checkpoints.c.note)
        if size is None:
            query = query.order_by(schema.checkpoints.c.size.desc()).limit(1)
        else:
            query = query.where(schema.checkpoints.c.size == size)
        async with self.engine.connect() as conn:
            note = (await conn.execute(query)).scalar_one_or_none()
        if note is None:
            raise LogError(
                "the log has no checkpoint" + ("" if size is None else f" of size {size}")
            )
        return str(note)

    async def record_final(
        self, size: int, note: str, signers: Sequence[str], aggregate: bytes
    ) -> None:
        """Remember that the checkpoint of `size` reached the witness threshold (idempotent)."""
        async with self.engine.begin() as conn:
            exists = (
                await conn.execute(
                    select(schema.final_checkpoints.c.size).where(
                        schema.final_checkpoints.c.size == size
                    )
                )
            ).first()
            if exists is None:
                await conn.execute(
                    schema.final_checkpoints.insert().values(
                        size=size,
                        note=note,
                        signers=",".join(signers),
                        aggregate=aggregate,
                        finalised_at=datetime.now(UTC),
                    )
                )

    async def final_checkpoint(self, min_size: int = 0) -> tuple[int, str] | None:
        """(size, cosigned note) of the latest final checkpoint, if it covers at least `min_size`."""
        table = schema.final_checkpoints
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(table.c.size, table.c.note).order_by(table.c.size.desc()).limit(1)
                )
            ).first()
        if row is None or row.size < min_size:
            return None
        return row.size, row.note

    async def finalised(self) -> tuple[int, datetime] | None:
        """(size, time) of the latest final checkpoint: how far behind witnessing runs."""
        table = schema.final_checkpoints
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(table.c.size, table.c.finalised_at)
                    .order_by(table.c.size.desc())
                    .limit(1)
                )
            ).first()
        if row is None:
            return None
        at = row.finalised_at
        return row.size, at if at.tzinfo is not None else at.replace(tzinfo=UTC)

    async def tile(self, level: int, index: int) -> tuple[int, bytes]:
        """(width, expanded hashes) of a stored tile, for serving and auditing."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(schema.tiles.c.width, schema.tiles.c.hashes).where(
                        schema.tiles.c.level == level, schema.tiles.c.idx == index
                    )
                )
            ).first()
        if row is None:
            raise LogError(f"no tile {level}/{index}")
        return row.width, row.hashes

    async def entry_bundle(self, index: int) -> list[bytes]:
        async with self.engine.connect() as conn:
            data = (
                await conn.execute(
                    select(schema.entry_bundles.c.data).where(schema.entry_bundles.c.idx == index)
                )
            ).scalar_one_or_none()
        if data is None:
            raise LogError(f"no entry bundle {index}")
        try:
            return bundles.decode(data)
        except ValueError as error:
            raise LogCorrupted(f"entry bundle {index}: {error}") from error

    async def _range_hashes(self, size: int, ranges: Sequence[proofs.Range]) -> list[bytes]:
        needed = [n for a, b in ranges for n in proofs.perfect_nodes(a, b)]
        found = await self._nodes(needed, size)
        return proofs.range_hashes(ranges, found.__getitem__)

    async def _nodes(self, nodes: Iterable[proofs.Node], size: int) -> dict[proofs.Node, bytes]:
        """Look up perfect subtrees of the committed tree of `size` leaves: one query at most.

        Leaf `size - 1` is always looked up too: it exists only if `size` is committed, so no proof is
        ever made for a tree the log has not signed. Tiles are cached, partial ones included: a node,
        once complete, never changes, and a cached partial tile that lacks a node is read again.
        """
        wanted = list(nodes)
        if size <= 0:
            raise LogError(f"tree size {size} holds no leaves")
        wanted.append((0, size - 1))
        out: dict[proofs.Node, bytes] = {}
        missing: dict[tuple[int, int], list[proofs.Node]] = {}
        for h, i in wanted:
            key = tile_key(h, i)
            cached = self._cache.get(key)
            value = None if cached is None else node_from_tile(cached[1], cached[0], h, i)
            if value is None:
                missing.setdefault(key, []).append((h, i))
            else:
                self._cache.move_to_end(key)
                out[(h, i)] = value
        if missing:
            for level, idx, width, blob in await self._reader.fetch(list(missing)):
                self._remember((level, idx), width, blob)
                for h, i in missing.pop((level, idx)):
                    value = node_from_tile(blob, width, h, i)
                    if value is None:
                        missing.setdefault((level, idx), []).append((h, i))
                    else:
                        out[(h, i)] = value
        if (0, size - 1) not in out:
            committed = (await self.head()).size
            if size > committed:
                raise LogError(f"tree size {size} is beyond the log's committed size {committed}")
            key = tile_key(0, size - 1)
            raise LogCorrupted(f"tile {key[0]}/{key[1]} lacks leaf {size - 1} of the committed log")
        if missing:
            key, lacking = next(iter(missing.items()))
            raise LogCorrupted(
                f"tile {key[0]}/{key[1]} lacks node {lacking[0]} of a committed tree"
            )
        return out

    def _remember(self, key: tuple[int, int], width: int, blob: bytes) -> None:
        self._cache[key] = (width, blob)
        self._cache.move_to_end(key)
        if len(self._cache) > self._cache_limit:
            self._cache.popitem(last=False)


class LogWriter:
    """Appends inside an open transaction (see TransparencyLog.writer)."""

    def __init__(self, log: TransparencyLog, conn: AsyncConnection, edge: _Edge) -> None:
        self.log = log
        self.connection = conn
        self.edge = edge

    @property
    def size(self) -> int:
        return self.edge.size

    async def append(self, entries: Sequence[bytes]) -> AppendResult:
        if not entries:
            raise LogError("an append needs at least one entry")
        for position, entry in enumerate(entries):
            if not isinstance(entry, bytes) or len(entry) > bundles.MAX_ENTRY_SIZE:
                raise LogError(
                    f"entry {position} must be bytes of at most {bundles.MAX_ENTRY_SIZE} bytes"
                )
        old = self.edge
        n, n2 = old.size, old.size + len(entries)
        bundle_rows = self._bundles(old, entries)
        new = [leaf_hash(e) for e in entries]
        tile_rows: list[dict[str, object]] = []
        edge_tiles = dict(old.tiles)
        level = 0
        while new:
            before = n >> (TILE_HEIGHT * level)
            first_tile = before // TILE_WIDTH
            combined = new
            if before % TILE_WIDTH:
                idx, width, blob = old.tiles[level]
                combined = split_hashes(blob[: width * HASH_SIZE]) + new
            tops = []
            edge_tiles.pop(level, None)
            for offset in range(0, len(combined), TILE_WIDTH):
                chunk = combined[offset : offset + TILE_WIDTH]
                blob = expand(chunk)
                idx = first_tile + offset // TILE_WIDTH
                tile_rows.append({"level": level, "idx": idx, "width": len(chunk), "hashes": blob})
                if len(chunk) == TILE_WIDTH:
                    tops.append(tile_root(blob))
                else:
                    edge_tiles[level] = (idx, len(chunk), blob)
            new = tops
            level += 1
        edge = _Edge(size=n2, root=EMPTY_ROOT, tiles=edge_tiles, bundle=bundle_rows[-1][1])
        edge.root = edge.compute_root()
        checkpoint = Checkpoint(origin=self.log.origin, size=n2, root=edge.root)
        note = sign_checkpoint(checkpoint, self.log._signer).to_text()

        conn = self.connection
        await conn.execute(upsert(conn, schema.tiles, ["level", "idx"]), tile_rows)
        await conn.execute(
            upsert(conn, schema.entry_bundles, ["idx"]),
            [
                {"idx": idx, "count": len(items), "data": bundles.encode(items)}
                for idx, items in bundle_rows
            ],
        )
        await conn.execute(
            schema.checkpoints.insert().values(
                size=n2, root=edge.root, note=note, created_at=datetime.now(UTC)
            )
        )
        await conn.execute(
            update(schema.head).where(schema.head.c.id == 1).values(size=n2, root=edge.root)
        )
        if len(edge.bundle) == TILE_WIDTH:
            edge.bundle = []
        self.edge = edge
        return AppendResult(first_index=n, size=n2, root=edge.root, checkpoint=note)

    @staticmethod
    def _bundles(old: _Edge, entries: Sequence[bytes]) -> list[tuple[int, list[bytes]]]:
        """The entry bundles this append writes: the old partial one grown, then new ones."""
        combined = old.bundle + list(entries)
        first = old.size // TILE_WIDTH
        return [
            (first + offset // TILE_WIDTH, combined[offset : offset + TILE_WIDTH])
            for offset in range(0, len(combined), TILE_WIDTH)
        ]
