"""Full audit ("fsck") of a transparency log by anyone who holds nothing but the log's public key.

The auditor rebuilds the whole Merkle tree from the entries alone and checks everything the log
publishes against it: each entry's leaf hash against the level-0 tiles, each tile hash against the hash
of the stored tile below it, the roots (from the entries and from the stored tiles) against the signed
checkpoint, and the roots at the sizes of checkpoints saved by earlier audits. Every discrepancy is
reported with what and where; nothing is raised, so one run lists them all. Only a source that cannot
be reached (`SourceUnavailable`) aborts: it says nothing about the log, and must not be reported as a
missing tile.

Reading goes through a `TileSource`: the log's database (`LogTileSource`, which also checks what only
the database shows: the head row and the tiles' stored inner rows) or the log's tlog-tiles endpoints
(`HttpTileSource`). The walk is streaming, in entry order: per tree level it keeps only the tile being
filled (the tree's right edge), so memory is one tile per level plus a small prefetch window, whatever
the size of the log.

Consistency with a checkpoint seen earlier comes in two strengths:

* `audit(..., earlier=[...])` recomputes the root at each saved size from the entries while walking.
  That proves the saved tree is a prefix of these very entries; a consistency proof cannot, since it
  trusts the tiles to be the hashes of the entries. A saved checkpoint of the current size with another
  root is two signed roots for one size: a split view.
* `consistency(source, saved, key)` is the cheap check between full audits (what a witness does): it
  reads O(log n) tiles, builds the RFC 9162 consistency proof from them and verifies it.

Command line: `python -m cbamhub.ledger.audit <base-url> <log-vkey>` exits 0 when the log is clean,
1 with the problems printed, 2 on a usage or network error.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import deque
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Protocol

import httpx

from . import bundles, proofs
from .checkpoint import Checkpoint, SignedCheckpoint, verify_checkpoint
from .log import LogError, TransparencyLog
from .note import Ed25519Verifier
from .tiles import TILE_HEIGHT, TILE_WIDTH, bottom_row, expand, split_hashes, tile_path
from .verify import (
    EMPTY_ROOT,
    HASH_SIZE,
    VerificationError,
    leaf_hash,
    node_hash,
    verify_consistency,
)

# --------------------------------------------------------------------------------------------------
# Sources


class SourceError(Exception):
    """The source could not give a resource; the message says which and why."""


class NotFound(SourceError):
    """The resource does not exist at the source."""


class SourceUnavailable(SourceError):
    """The source cannot be reached or is overloaded: no finding about the log, so audits stop."""


class TileSource(Protocol):
    """Where an auditor reads a log: the three kinds of tlog-tiles resources."""

    async def get_checkpoint(self) -> str:
        """The latest signed checkpoint note."""
        ...

    async def get_tile(self, level: int, index: int, width: int) -> bytes:
        """The bottom row of tile `level/index`, `width` hashes wide (full tiles: 256)."""
        ...

    async def get_entry_bundle(self, index: int, width: int) -> bytes:
        """Entry bundle `index` with `width` entries, in the bundles.py encoding."""
        ...


def tile_name(level: int | str, index: int) -> str:
    """`tile 1/003`, `tile entries/x001/234`: how problems name a tile."""
    return "tile " + tile_path(level, index).removeprefix("tile/")


class LogTileSource:
    """Reads a log's database as stored, for an operator's fsck.

    A tile or bundle shorter than asked is returned as it is, so the audit can say how short it is
    (over HTTP it is simply not found). Each tile's stored inner rows are checked against its bottom
    row on the way: proofs are read from them, but they are never published.
    """

    def __init__(self, log: TransparencyLog) -> None:
        self.log = log
        self._findings: dict[str, None] = {}  # ordered set: a tile may be read twice

    async def get_checkpoint(self) -> str:
        try:
            return await self.log.checkpoint()
        except LogError as exc:
            raise NotFound(str(exc)) from exc

    async def get_tile(self, level: int, index: int, width: int) -> bytes:
        try:
            stored, blob = await self.log.tile(level, index)
        except LogError as exc:
            raise NotFound(str(exc)) from exc
        try:
            intact = blob == expand(split_hashes(bottom_row(blob, stored)))
        except ValueError:  # a width outside 1..256
            intact = False
        if not intact:
            self._findings[
                f"{tile_name(level, index)}: the rows stored above its bottom row are not the hashes "
                f"of its {stored} hashes (the stored tile was altered; proofs read from it are wrong)"
            ] = None
        return bottom_row(blob, min(width, stored))

    async def get_entry_bundle(self, index: int, width: int) -> bytes:
        try:
            entries = await self.log.entry_bundle(index)
        except LogError as exc:
            raise NotFound(str(exc)) from exc
        except ValueError as exc:
            raise SourceError(f"stored entry bundle {index} is not a valid bundle: {exc}") from exc
        return bundles.encode(entries[:width])

    async def database_findings(self, audited: Checkpoint, verifier: Ed25519Verifier) -> list[str]:
        """Problems only the database shows: the head row, and tiles' inner rows seen so far.

        The head row must be the tree head of a checkpoint the log signed. It is compared with the
        checkpoint of its own size (checkpoints never change), so a log growing during the audit is no
        false alarm; a checkpoint whose signature fails is the audit's finding, not the head's.
        """
        found = list(self._findings)
        head = await self.log.head()
        if head.size < audited.size:
            found.append(
                f"the log's head row says size {head.size}, but the log signed a checkpoint of size "
                f"{audited.size} (the head row was edited: the log was rolled back)"
            )
            return found
        try:
            note = await self.log.checkpoint(head.size)
        except LogError:
            found.append(
                f"the log's head row says size {head.size}, for which the log signed no checkpoint "
                "(the head row was edited)"
            )
            return found
        try:
            signed = verify_checkpoint(note, verifier).checkpoint
        except VerificationError as exc:
            if head.size != audited.size:
                found.append(
                    f"the log's checkpoint of size {head.size} (its head) is invalid: {exc}"
                )
            return found
        if signed.root != head.root:
            found.append(
                f"the log's head row says root {head.root.hex()} at size {head.size}, but the log "
                f"signed root {signed.root.hex()} for that size (the head row was edited)"
            )
        return found


class HttpTileSource:
    """Reads a log's tlog-tiles endpoints under `base_url` (gzip-compressed bundles are welcome).

    404 and 410 mean the resource does not exist; 429 and 502-504 (and network failures, after two
    connection retries) mean the log is unavailable; other statuses are reported with their body.
    """

    def __init__(
        self, base_url: str, *, client: httpx.AsyncClient | None = None, timeout: float = 30.0
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=True,
            transport=httpx.AsyncHTTPTransport(retries=2),
        )

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()

    async def __aenter__(self) -> HttpTileSource:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _get(self, path: str) -> bytes:
        url = self.base_url + path
        try:
            response = await self._client.get(url)
        except httpx.TransportError as exc:
            raise SourceUnavailable(f"cannot reach {url}: {exc or type(exc).__name__}") from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise SourceError(f"GET {url}: {exc or type(exc).__name__}") from exc
        if response.status_code == 200:
            return response.content
        detail = f"GET {url}: HTTP {response.status_code}"
        body = response.text.strip()[:300]
        if body:
            detail += f": {body}"
        if response.status_code in (404, 410):
            raise NotFound(detail)
        if response.status_code in (429, 502, 503, 504):
            raise SourceUnavailable(detail)
        raise SourceError(detail)

    async def get_checkpoint(self) -> str:
        data = await self._get("checkpoint")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SourceError(f"{self.base_url}checkpoint is not UTF-8 text: {exc}") from exc

    async def get_tile(self, level: int, index: int, width: int) -> bytes:
        return await self._get(tile_path(level, index, width))

    async def get_entry_bundle(self, index: int, width: int) -> bytes:
        return await self._get(tile_path("entries", index, width))


# --------------------------------------------------------------------------------------------------
# Reports


@dataclass
class AuditReport:
    """What an audit found: `ok` when there is no problem at all."""

    origin: str
    size: int
    root: bytes
    checkpoint: str = ""
    """The checkpoint note audited; save it for the next audit's `earlier`."""
    problems: list[str] = field(default_factory=list)
    entries_checked: int = 0
    bundles_checked: int = 0
    tiles_checked: int = 0
    earlier_checked: int = 0
    """Saved checkpoints whose root was recomputed from the entries."""

    @property
    def ok(self) -> bool:
        return not self.problems


class _Problems:
    """Problems in order of discovery, at most `limit` of them listed (a rewritten log has many)."""

    def __init__(self, limit: int) -> None:
        self.items: list[str] = []
        self.limit = limit
        self.dropped = 0

    def add(self, message: str) -> None:
        if len(self.items) < self.limit:
            self.items.append(message)
        else:
            self.dropped += 1

    def result(self) -> list[str]:
        more = [f"... and {self.dropped} more problem(s)"] if self.dropped else []
        return self.items + more


# --------------------------------------------------------------------------------------------------
# Tree arithmetic


def _width(size: int, level: int, index: int) -> int:
    """How many hashes wide tile `level/index` is in the tree of `size` leaves."""
    return min(TILE_WIDTH, (size >> (TILE_HEIGHT * level)) - index * TILE_WIDTH)


def _subtree(hashes: Sequence[bytes]) -> bytes:
    """Root of a perfect subtree from its 2**k bottom hashes."""
    row = list(hashes)
    while len(row) > 1:
        row = [node_hash(row[i], row[i + 1]) for i in range(0, len(row), 2)]
    return row[0]


def _verifier(log_vkey: str | Ed25519Verifier) -> Ed25519Verifier:
    return Ed25519Verifier.from_vkey(log_vkey) if isinstance(log_vkey, str) else log_vkey


@dataclass
class _Level:
    """The tile being filled at one level: the audit's right edge there."""

    index: int = 0
    computed: list[bytes] = field(default_factory=list)
    """Hashes recomputed from the entries."""
    below: list[bytes | None] = field(default_factory=list)
    """For each position, the hash of the stored tile one level down (None where it is unreadable)."""
    known: list[bool] = field(default_factory=list)
    """For each position, whether `computed` is known (False where leaves below are lost)."""
    stored: list[bytes] | None = None
    """The stored row of the last, partial tile (for the root the tiles give)."""


# --------------------------------------------------------------------------------------------------
# The walk


class _Walk:
    """One pass over the entries in order, rebuilding the tree and comparing as it goes."""

    def __init__(
        self,
        source: TileSource,
        size: int,
        saved: dict[int, bytes],
        problems: _Problems,
        report: AuditReport,
        prefetch: int,
    ) -> None:
        self.source = source
        self.size = size
        self.saved = saved
        self.saved_sizes = deque(sorted(saved))
        self.problems = problems
        self.report = report
        self.prefetch = max(1, prefetch)
        self.levels = [_Level()]
        self.unread = 0
        """Entries that could not be read: their tile hashes stand in for them."""
        self.lost = 0
        """Leaves readable neither as entries nor as tile hashes: no root can be recomputed."""

    async def run(self) -> tuple[bytes, bytes | None]:
        """Walk every entry; return the roots given by the entries and by the stored tiles."""
        count = -(-self.size // TILE_WIDTH)
        pending: deque[
            tuple[int, asyncio.Task[bytes | SourceError], asyncio.Task[bytes | SourceError]]
        ]
        pending = deque()
        ahead = 0
        try:
            while ahead < count or pending:
                while ahead < count and len(pending) < self.prefetch:
                    width = _width(self.size, 0, ahead)
                    bundle = self.source.get_entry_bundle(ahead, width)
                    tile = self.source.get_tile(0, ahead, width)
                    pending.append(
                        (
                            ahead,
                            asyncio.create_task(_fetch(bundle)),
                            asyncio.create_task(_fetch(tile)),
                        )
                    )
                    ahead += 1
                index, bundle_task, tile_task = pending.popleft()
                await self._level0(index, await bundle_task, await tile_task)
        finally:
            tasks = [t for _, b, t2 in pending for t in (b, t2)]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for level in range(1, len(self.levels)):
            edge = self.levels[level]
            if edge.computed:
                edge.stored = await self._compare_upper(level)
        return self._root(self.size), self._tiles_root()

    async def _level0(
        self, index: int, bundle: bytes | SourceError, tile: bytes | SourceError
    ) -> None:
        base, width = index * TILE_WIDTH, _width(self.size, 0, index)
        lost_before = self.lost
        entries = self._entries(index, width, bundle)
        row = self._row(0, index, width, tile)
        leaves = None if entries is None else [leaf_hash(e) for e in entries]
        if leaves is not None and row is not None:
            self._compare_leaves(index, width, leaves, row)
        if leaves is not None and len(leaves) == width:
            hashes = leaves
        elif row is not None and len(row) == width:
            self.unread += width
            hashes = row
        else:
            self.lost += width
            hashes = [bytes(HASH_SIZE)] * width
        known = self.lost == lost_before
        edge = self.levels[0]
        while self.saved_sizes and self.saved_sizes[0] < base + TILE_WIDTH:
            size = self.saved_sizes.popleft()
            edge.computed = hashes[: size - base]
            self._check_saved(size)
        edge.computed, edge.stored = hashes, row
        if width < TILE_WIDTH:
            return
        computed_root = _subtree(hashes)
        stored_root = None
        if row == hashes:
            stored_root = computed_root
        elif row is not None and len(row) == TILE_WIDTH:
            stored_root = _subtree(row)
        edge.index, edge.computed, edge.stored = index + 1, [], None
        await self._push(1, computed_root, stored_root, known)
        if self.saved_sizes and self.saved_sizes[0] == base + TILE_WIDTH:
            self._check_saved(self.saved_sizes.popleft())

    async def _push(self, level: int, computed: bytes, stored: bytes | None, known: bool) -> None:
        """Add one tile's hash to the level above, completing (and checking) that tile when full."""
        if level == len(self.levels):
            self.levels.append(_Level())
        edge = self.levels[level]
        edge.computed.append(computed)
        edge.below.append(stored)
        edge.known.append(known)
        if len(edge.computed) < TILE_WIDTH:
            return
        row = await self._compare_upper(level)
        computed_root = _subtree(edge.computed)
        stored_root = None
        if row == edge.computed:
            stored_root = computed_root
        elif row is not None and len(row) == TILE_WIDTH:
            stored_root = _subtree(row)
        known = all(edge.known)
        edge.index, edge.computed, edge.below, edge.known = edge.index + 1, [], [], []
        await self._push(level + 1, computed_root, stored_root, known)

    async def _compare_upper(self, level: int) -> list[bytes] | None:
        """Fetch this level's current tile and check each hash against the stored tile below it."""
        edge = self.levels[level]
        width = len(edge.computed)
        row = self._row(
            level, edge.index, width, await _fetch(self.source.get_tile(level, edge.index, width))
        )
        if row is None:
            return None
        name = tile_name(level, edge.index)
        for position, stored in enumerate(row):
            child_index = edge.index * TILE_WIDTH + position
            child = tile_name(level - 1, child_index)
            expected = edge.below[position]
            if expected is not None:
                if stored != expected:
                    self.problems.add(
                        f"{name} position {position} differs from the hash of {child} (a tile was altered)"
                    )
            elif edge.known[position] and stored != edge.computed[position]:
                first = child_index << (TILE_HEIGHT * level)
                last = first + (1 << (TILE_HEIGHT * level)) - 1
                self.problems.add(
                    f"{name} position {position} differs from the hash of entries {first}..{last} "
                    f"({child} is unreadable, so the hash was recomputed from the entries)"
                )
        return row

    def _entries(self, index: int, width: int, fetched: bytes | SourceError) -> list[bytes] | None:
        name = f"bundle {index}"
        if isinstance(fetched, NotFound):
            self.problems.add(
                f"{name} is missing: checkpoint size {self.size} needs it with {width} entries ({fetched})"
            )
            return None
        if isinstance(fetched, SourceError):
            self.problems.add(f"{name} cannot be read: {fetched}")
            return None
        try:
            entries = bundles.decode(fetched)
        except ValueError as exc:
            self.problems.add(f"{name} is malformed: {exc}")
            return None
        self.report.bundles_checked += 1
        self.report.entries_checked += len(entries)
        if len(entries) != width:
            what = "dropped" if len(entries) < width else "added"
            self.problems.add(
                f"{name} holds {len(entries)} entries, checkpoint size {self.size} needs {width} "
                f"(entries {what})"
            )
        return entries

    def _row(
        self, level: int, index: int, width: int, fetched: bytes | SourceError
    ) -> list[bytes] | None:
        name = tile_name(level, index)
        if isinstance(fetched, NotFound):
            self.problems.add(
                f"{name} is missing: checkpoint size {self.size} needs it {width} hashes wide ({fetched})"
            )
            return None
        if isinstance(fetched, SourceError):
            self.problems.add(f"{name} cannot be read: {fetched}")
            return None
        self.report.tiles_checked += 1
        if len(fetched) != width * HASH_SIZE:
            self.problems.add(
                f"{name} is {len(fetched)} bytes, checkpoint size {self.size} needs {width} hashes "
                f"({width * HASH_SIZE} bytes) (the tile was truncated or padded)"
            )
        whole = min(len(fetched) // HASH_SIZE, width)
        return split_hashes(fetched[: whole * HASH_SIZE])

    def _compare_leaves(
        self, index: int, width: int, leaves: list[bytes], row: list[bytes]
    ) -> None:
        """Entries against tile 0/index, position by position (set-wise if entries are missing)."""
        if leaves == row:
            return
        name, base = tile_name(0, index), index * TILE_WIDTH
        if len(leaves) != len(row) and len(row) == width:
            in_bundle, in_tile = set(leaves), set(row)
            for p, stored in enumerate(row):
                if stored not in in_bundle:
                    self.problems.add(
                        f"entry {base + p}: {name} position {p} has no matching entry in bundle "
                        f"{index} (the entry was dropped or altered)"
                    )
            for p, leaf in enumerate(leaves):
                if leaf not in in_tile:
                    self.problems.add(
                        f"bundle {index} position {p}: the entry's leaf hash is not in {name} "
                        "(an entry was added or altered)"
                    )
            return
        where = {h: p for p, h in enumerate(row)}
        for p, (leaf, stored) in enumerate(zip(leaves, row, strict=False)):
            if leaf == stored:
                continue
            q = where.get(leaf)
            if q is not None:
                self.problems.add(
                    f"entry {base + p}: its leaf hash is at {name} position {q}, not {p} "
                    "(entries reordered)"
                )
            else:
                self.problems.add(
                    f"entry {base + p}: its leaf hash differs from {name} position {p} "
                    "(the entry or the tile was altered)"
                )

    def _check_saved(self, size: int) -> None:
        if self.lost:
            self.problems.add(
                f"saved checkpoint of size {size} cannot be checked: {self.lost} leaves are unreadable"
            )
            return
        root = self._root(size)
        self.report.earlier_checked += 1
        if root != self.saved[size]:
            self.problems.add(
                f"saved checkpoint of size {size} has root {self.saved[size].hex()}, but the entries "
                f"give {root.hex()} at that size: the log is not consistent with what was seen "
                f"before (history rewritten){self.unread_note()}"
            )

    def unread_note(self) -> str:
        if not self.unread:
            return ""
        return f"; tile hashes stood in for {self.unread} unreadable entries"

    def _root(self, size: int) -> bytes:
        """Root of the first `size` leaves from the recomputed right edge (valid at that point)."""
        if size == 0:
            return EMPTY_ROOT
        parts = []
        for height, index in proofs.root_nodes(size):
            level, rise = divmod(height, TILE_HEIGHT)
            edge = self.levels[level]
            start = (index << rise) - edge.index * TILE_WIDTH
            parts.append(_subtree(edge.computed[start : start + (1 << rise)]))
        return proofs.fold(parts)

    def _tiles_root(self) -> bytes | None:
        """Root of the tree the stored partial tiles give (None if one of them is unreadable)."""
        if self.size == 0:
            return EMPTY_ROOT
        parts = []
        for height, index in proofs.root_nodes(self.size):
            level, rise = divmod(height, TILE_HEIGHT)
            edge = self.levels[level]
            start = (index << rise) - edge.index * TILE_WIDTH
            span = (edge.stored or [])[start : start + (1 << rise)]
            if len(span) != 1 << rise:
                return None
            parts.append(_subtree(span))
        return proofs.fold(parts)


async def _fetch(call: Awaitable[bytes]) -> bytes | SourceError:
    """A resource or the reason it is not there; an unavailable source aborts the audit."""
    try:
        return await call
    except SourceUnavailable:
        raise
    except SourceError as exc:
        return exc


def _saved_roots(
    earlier: Sequence[str], verifier: Ed25519Verifier, current: Checkpoint, problems: _Problems
) -> dict[int, bytes]:
    """The saved checkpoints to check while walking (size -> root); the rest is checked right here."""
    saved: dict[int, bytes] = {}
    for position, text in enumerate(earlier):
        try:
            checkpoint = verify_checkpoint(text, verifier).checkpoint
        except VerificationError as exc:
            problems.add(f"saved checkpoint #{position + 1} is not signed by the log key: {exc}")
            continue
        size, root = checkpoint.size, checkpoint.root
        if checkpoint.origin != current.origin:
            problems.add(
                f"saved checkpoint #{position + 1} is for the log {checkpoint.origin!r}, "
                f"not {current.origin!r}"
            )
        elif size > current.size:
            problems.add(
                f"saved checkpoint of size {size} is larger than the log's checkpoint of size "
                f"{current.size}: the log shrank (rolled back)"
            )
        elif size == current.size and root != current.root:
            problems.add(
                f"two different roots for one size {size}: the saved checkpoint has {root.hex()}, "
                f"the log's checkpoint has {current.root.hex()} (split view)"
            )
        elif saved.get(size, root) != root:
            problems.add(
                f"two different roots for one size {size} among the saved checkpoints: "
                f"{saved[size].hex()} and {root.hex()} (split view)"
            )
        elif 0 < size < current.size:
            saved[size] = root
    return saved


async def audit(
    source: TileSource,
    log_vkey: str | Ed25519Verifier,
    *,
    earlier: Sequence[str] = (),
    max_problems: int = 100,
    prefetch: int = 8,
) -> AuditReport:
    """Audit the log behind `source` against its latest checkpoint (and checkpoints saved `earlier`).

    `prefetch` level-0 tiles and bundles are fetched ahead, each with its tile: that bounds memory and
    keeps a remote log's round trips overlapped.
    """
    verifier = _verifier(log_vkey)
    problems = _Problems(max_problems)
    try:
        text = await source.get_checkpoint()
        signed = SignedCheckpoint.parse(text)
    except SourceUnavailable:
        raise
    except (SourceError, VerificationError) as exc:
        problems.add(f"checkpoint cannot be read: {exc}")
        return AuditReport("", 0, EMPTY_ROOT, problems=problems.result())
    current = signed.checkpoint
    report = AuditReport(current.origin, current.size, current.root, checkpoint=text)
    signed_ok = True
    try:
        verify_checkpoint(signed, verifier)
    except VerificationError as exc:
        signed_ok = False
        problems.add(f"checkpoint signature invalid: {exc}")
    saved = _saved_roots(earlier, verifier, current, problems)
    walk = _Walk(source, current.size, saved, problems, report, prefetch)
    entries_root, tiles_root = await walk.run()
    if walk.lost:
        problems.add(
            f"root at size {current.size} cannot be recomputed: {walk.lost} leaves are readable "
            "neither as entries nor as tile hashes"
        )
    elif entries_root != current.root:
        cause = (
            "history rewritten: these entries are not the ones the log signed"
            if signed_ok
            else "the checkpoint was altered"
        )
        problems.add(
            f"root recomputed from the entries ({entries_root.hex()}) differs from the "
            f"{'signed ' if signed_ok else ''}checkpoint's root ({current.root.hex()}) at size "
            f"{current.size} ({cause}{walk.unread_note()})"
        )
    if tiles_root is not None and tiles_root not in (current.root, entries_root):
        problems.add(
            f"root of the stored tiles ({tiles_root.hex()}) differs from the checkpoint's root at size "
            f"{current.size} (tiles altered: proofs computed from them fail)"
        )
    if isinstance(source, LogTileSource):
        for finding in await source.database_findings(current, verifier):
            problems.add(finding)
    report.problems = problems.result()
    return report


# --------------------------------------------------------------------------------------------------
# Consistency from tiles


class _TileUnusable(Exception):
    pass


class _TreeTiles:
    """Subtree hashes of the tree of `size` leaves read from its tiles, each tile fetched once."""

    def __init__(self, source: TileSource, size: int) -> None:
        self.source = source
        self.size = size
        self.rows: dict[tuple[int, int], list[bytes]] = {}

    async def node(self, height: int, index: int) -> bytes:
        level, rise = divmod(height, TILE_HEIGHT)
        first = index << rise
        key = (level, first // TILE_WIDTH)
        row = self.rows.get(key)
        if row is None:
            width = _width(self.size, *key)
            fetched = await _fetch(self.source.get_tile(level, key[1], width))
            if isinstance(fetched, SourceError):
                raise _TileUnusable(f"{tile_name(*key)} cannot be read: {fetched}")
            if len(fetched) != width * HASH_SIZE:
                raise _TileUnusable(
                    f"{tile_name(*key)} is {len(fetched)} bytes, size {self.size} needs {width} hashes"
                )
            row = self.rows[key] = split_hashes(fetched)
        start = first % TILE_WIDTH
        return _subtree(row[start : start + (1 << rise)])

    async def range(self, start: int, end: int) -> bytes:
        return proofs.fold([await self.node(h, i) for h, i in proofs.perfect_nodes(start, end)])


async def consistency(
    source: TileSource, earlier: str, log_vkey: str | Ed25519Verifier
) -> list[str]:
    """Problems (none: consistent) between a saved checkpoint and the log's current one.

    Reads only the O(log n) tiles of an RFC 9162 consistency proof and verifies it: cheap enough to run
    at every fetch. It trusts the tiles to hash the entries; `audit` with `earlier` does not.
    """
    verifier = _verifier(log_vkey)
    try:
        old = verify_checkpoint(earlier, verifier).checkpoint
    except VerificationError as exc:
        return [f"saved checkpoint is not signed by the log key: {exc}"]
    try:
        new = verify_checkpoint(await source.get_checkpoint(), verifier).checkpoint
    except SourceUnavailable:
        raise
    except (SourceError, VerificationError) as exc:
        return [f"the log's checkpoint cannot be used: {exc}"]
    m, n = old.size, new.size
    if old.origin != new.origin:
        return [f"saved checkpoint is for the log {old.origin!r}, not {new.origin!r}"]
    if m > n:
        return [
            f"saved checkpoint of size {m} is larger than the log's checkpoint of size {n}: "
            "the log shrank (rolled back)"
        ]
    if m == n or m == 0:
        if old.root == (new.root if m == n else EMPTY_ROOT):
            return []
        return [
            f"two different roots for one size {m}: the saved checkpoint has {old.root.hex()}, "
            f"the log's {'checkpoint' if m == n else 'empty tree'} has "
            f"{(new.root if m == n else EMPTY_ROOT).hex()} (split view)"
        ]
    tree = _TreeTiles(source, n)
    try:
        proof = [await tree.range(a, b) for a, b in proofs.consistency_ranges(m, n)]
        verify_consistency(m, n, old.root, new.root, proof)
    except _TileUnusable as exc:
        return [str(exc)]
    except VerificationError as exc:
        if await tree.range(0, n) != new.root:
            return [
                f"the tiles do not give the root of the log's signed checkpoint of size {n} (a tile "
                f"was altered), so consistency with size {m} cannot be decided; run a full audit"
            ]
        return [
            f"saved checkpoint of size {m} is not consistent with the log's checkpoint of size {n}: "
            f"{exc} (history rewritten)"
        ]
    return []


# --------------------------------------------------------------------------------------------------
# Command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cbamhub.ledger.audit",
        description="Audit a transparency log from its public tlog-tiles endpoints: rebuild the "
        "Merkle tree from the entries and check every tile, bundle and the signed checkpoint. "
        "Exit status: 0 clean, 1 problems found (printed), 2 usage or network error.",
    )
    parser.add_argument(
        "base_url", help="the log's tlog-tiles prefix, e.g. https://hub.example/log/"
    )
    parser.add_argument("log_vkey", help="the log's verifier key: <name>+<key ID>+<base64 key>")
    parser.add_argument(
        "--earlier",
        metavar="FILE",
        action="append",
        default=[],
        help="a checkpoint saved by an earlier audit: the log must still extend it (repeatable)",
    )
    parser.add_argument("--save", metavar="FILE", help="write the audited checkpoint here if clean")
    parser.add_argument("--max-problems", type=int, default=100, metavar="N")
    return parser


async def _audit_url(
    base_url: str, verifier: Ed25519Verifier, earlier: Sequence[str], max_problems: int
) -> AuditReport:
    async with HttpTileSource(base_url) as source:
        return await audit(source, verifier, earlier=earlier, max_problems=max_problems)


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.base_url.startswith(("http://", "https://")):
        parser.error(f"base URL {args.base_url!r} must start with http:// or https://")
    try:
        verifier = Ed25519Verifier.from_vkey(args.log_vkey)
    except ValueError as exc:
        parser.error(f"bad log key: {exc}")
    earlier = []
    for name in args.earlier:
        try:
            text = Path(name).read_text(encoding="utf-8")
            verify_checkpoint(text, verifier)
        except (OSError, UnicodeDecodeError, VerificationError) as exc:
            parser.error(f"--earlier {name}: not a checkpoint signed by the log key: {exc}")
        earlier.append(text)
    try:
        report = asyncio.run(_audit_url(args.base_url, verifier, earlier, args.max_problems))
    except SourceUnavailable as exc:
        print(f"audit: the log is unavailable: {exc}", file=sys.stderr)
        return 2
    if not report.ok:
        for problem in report.problems:
            print(problem)
        print(f"FAILED: {len(report.problems)} problem(s) in the log at {args.base_url}")
        return 1
    if args.save:
        Path(args.save).write_text(report.checkpoint, encoding="utf-8")
    print(
        f"OK {report.origin} size {report.size} root {report.root.hex()}: {report.entries_checked} "
        f"entries in {report.bundles_checked} bundles, {report.tiles_checked} tiles and "
        f"{report.earlier_checked} saved checkpoint(s) checked"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
