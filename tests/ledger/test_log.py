"""The stored transparency log (ledger/log.py) on SQLite and PostgreSQL, against the RFC 9162 reference.

Every test here runs on both backends (`database_url`). The oracle is reference.ReferenceTree; proofs
the log serves are checked with the standalone verifier (verify.py) against reference roots and against
the log's own signed checkpoints. Tampering is done with plain SQL on the database, then a new
TransparencyLog instance (no cached state) is asked to serve proofs or to append.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from cbamhub.ledger import bundles, schema
from cbamhub.ledger.checkpoint import SignedCheckpoint, verify_checkpoint
from cbamhub.ledger.log import AppendResult, LogCorrupted, LogError, TransparencyLog
from cbamhub.ledger.note import Ed25519Signer
from cbamhub.ledger.storage import create_engine, create_tables
from cbamhub.ledger.tiles import TILE_WIDTH, bottom_row, split_hashes
from cbamhub.ledger.verify import (
    EMPTY_ROOT,
    HASH_SIZE,
    VerificationError,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import ReferenceTree
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

ORIGIN = "hub.example/cbam/test-log"
SIGNER = Ed25519Signer(ORIGIN, bytes(range(32)))
VERIFIER = SIGNER.verifier()


def entry(i: int) -> bytes:
    """Entry i: distinct, of assorted lengths."""
    return b"cbam record %d;" % i + bytes([i % 251]) * (i % 13)


def entries(start: int, count: int) -> list[bytes]:
    return [entry(i) for i in range(start, start + count)]


# --------------------------------------------------------------------------------------------------
# Fixtures


class Harness:
    """Engines and logs of one test database; closes everything it opened (aiosqlite threads would
    otherwise keep the process alive)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engines: list[AsyncEngine] = []
        self.logs: list[TransparencyLog] = []

    def new_engine(self) -> AsyncEngine:
        engine = create_engine(self.url)
        self.engines.append(engine)
        return engine

    @property
    def engine(self) -> AsyncEngine:
        return self.engines[0]

    async def open(
        self,
        engine: AsyncEngine | None = None,
        origin: str = ORIGIN,
        signer: Ed25519Signer = SIGNER,
        **options: Any,
    ) -> TransparencyLog:
        log = await TransparencyLog.open(engine or self.engine, origin, signer, **options)
        self.logs.append(log)
        return log

    async def close(self, log: TransparencyLog) -> None:
        self.logs.remove(log)
        await log.close()

    async def aclose(self) -> None:
        for log in self.logs:
            await log.close()
        for engine in self.engines:
            await engine.dispose()

    async def execute(self, statement: Any, params: dict[str, Any] | None = None) -> None:
        """Edit the database behind the log's back, in its own transaction."""
        async with self.engine.begin() as conn:
            await conn.execute(statement, params or {})

    async def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of the log's tables, for 'nothing was written' checks."""
        out: dict[str, list[tuple[Any, ...]]] = {}
        async with self.engine.connect() as conn:
            for table in (schema.head, schema.tiles, schema.entry_bundles, schema.checkpoints):
                rows = await conn.execute(select(table).order_by(*table.primary_key.columns))
                out[table.name] = [tuple(r) for r in rows]
        return out


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    h = Harness(database_url)
    await create_tables(h.new_engine())
    try:
        yield h
    finally:
        await h.aclose()


@pytest.fixture
async def log(harness: Harness) -> TransparencyLog:
    return await harness.open()


# --------------------------------------------------------------------------------------------------
# Checks


def check_result(result: AppendResult, tree: ReferenceTree, first_index: int) -> SignedCheckpoint:
    """The append's result matches the reference tree and carries a valid signed checkpoint."""
    size = len(tree)
    assert result.first_index == first_index
    assert result.size == size
    assert result.root == tree.root(size), f"root at size {size} differs from the reference"
    signed = verify_checkpoint(result.checkpoint, VERIFIER)
    assert signed.checkpoint.origin == ORIGIN
    assert signed.checkpoint.size == size
    assert signed.checkpoint.root == tree.root(size)
    assert signed.checkpoint.extensions == ()
    return signed


async def append(log: TransparencyLog, tree: ReferenceTree, count: int) -> AppendResult:
    batch = entries(len(tree), count)
    first = len(tree)
    result = await log.append(batch)
    tree.extend(batch)
    check_result(result, tree, first)
    return result


async def check_inclusion(log: TransparencyLog, tree: ReferenceTree, index: int, size: int) -> None:
    proof = await log.inclusion_proof(index, size)
    verify_inclusion(index, size, leaf_hash(tree.entries[index]), proof, tree.root(size))
    assert proof == tree.path(index, size), (index, size)


async def check_consistency(log: TransparencyLog, tree: ReferenceTree, old: int, new: int) -> None:
    proof = await log.consistency_proof(old, new)
    verify_consistency(old, new, tree.root(old), tree.root(new), proof)
    assert proof == tree.proof(old, new), (old, new)


async def check_random_proofs(
    log: TransparencyLog, tree: ReferenceTree, rng: random.Random, count: int
) -> None:
    n = len(tree)
    for _ in range(count):
        size = rng.randint(1, n)
        await check_inclusion(log, tree, rng.randrange(size), size)
        old, new = sorted((rng.randint(1, n), rng.randint(1, n)))
        await check_consistency(log, tree, old, new)


# --------------------------------------------------------------------------------------------------
# Appending


async def test_empty_log(log: TransparencyLog) -> None:
    head = await log.head()
    assert (head.size, head.root) == (0, EMPTY_ROOT)
    assert await log.root_at(0) == EMPTY_ROOT
    assert await log.entries(0, 0) == []
    # A new log signs its empty tree.
    note = await log.checkpoint()
    assert await log.checkpoint(0) == note
    empty = verify_checkpoint(note, VERIFIER).checkpoint
    assert (empty.origin, empty.size, empty.root) == (ORIGIN, 0, EMPTY_ROOT)
    with pytest.raises(LogError, match="no checkpoint of size 1"):
        await log.checkpoint(1)
    with pytest.raises(LogError):
        await log.inclusion_proof(0, 1)
    with pytest.raises(LogError):
        await log.root_at(1)
    with pytest.raises(LogError):
        await log.entries(0, 1)


async def test_appends_across_tile_boundaries_at_levels_0_and_1(log: TransparencyLog) -> None:
    """Batches of assorted sizes up to 70,537 leaves: the level-0 tile boundaries, the first full
    level-1 tile (65,536 leaves, hit exactly) and the first level-2 tile. Root, checkpoint and head are
    checked after every batch, then proofs for random and boundary (index, size) / (old, new) pairs."""
    tree = ReferenceTree()
    sizes = [1, 255, 256, 257, 1000, *[5000] * 12, 3767, 1, 4999, 1]
    checkpoints: dict[int, str] = {}
    for count in sizes:
        result = await append(log, tree, count)
        checkpoints[result.size] = result.checkpoint
        head = await log.head()
        assert (head.size, head.root) == (len(tree), tree.root(len(tree)))
        assert await log.checkpoint() == result.checkpoint
        assert await log.root_at(len(tree)) == tree.root(len(tree))
        if len(tree) == 65536:
            assert (await log.tile(2, 0))[0] == 1  # the first level-2 tile appears
    n = len(tree)
    assert n == 70537 and sum(sizes) == n

    # Every checkpoint stays retrievable, and only those sizes have one.
    for size, note in checkpoints.items():
        assert await log.checkpoint(size) == note
    with pytest.raises(LogError, match="no checkpoint of size 2"):
        await log.checkpoint(2)

    # Roots at sizes that never had a checkpoint too.
    rng = random.Random(20260401)
    for size in [1, 2, 3, 255, 256, 257, 511, 512, 513, 65535, 65536, 65537, n - 1, n]:
        assert await log.root_at(size) == tree.root(size)
    for _ in range(100):
        size = rng.randint(1, n)
        assert await log.root_at(size) == tree.root(size)

    # Proofs at the boundaries, then random ones.
    edges = [1, 2, 255, 256, 257, 512, 65535, 65536, 65537, n - 1, n]
    for size in edges:
        for index in {0, size // 2, size - 1, min(255, size - 1), min(256, size - 1)}:
            await check_inclusion(log, tree, index, size)
        for old in edges:
            if old <= size:
                await check_consistency(log, tree, old, size)
    await check_random_proofs(log, tree, rng, 300)

    # A second instance with a one-tile cache (constant eviction) serves the same proofs.
    other = await TransparencyLog.open(log.engine, ORIGIN, SIGNER, tile_cache=1)
    try:
        await check_random_proofs(other, tree, random.Random(7), 50)
    finally:
        await other.close()

    # Entries and bundles read back; tiles are the C2SP tlog-tiles tiles.
    assert await log.entries(0, n) == tree.entries
    for a, b in [(0, 1), (250, 260), (255, 257), (65530, 65540), (n - 3, n), (n, n), (512, 512)]:
        assert await log.entries(a, b) == tree.entries[a:b]
    assert await log.entry_bundle(0) == tree.entries[:TILE_WIDTH]
    assert await log.entry_bundle(n // TILE_WIDTH) == tree.entries[n - n % TILE_WIDTH :]
    await check_public_tile(log, tree, 0, 0)
    await check_public_tile(log, tree, 0, 256)
    await check_public_tile(log, tree, 0, n // TILE_WIDTH)
    await check_public_tile(log, tree, 1, 0)
    await check_public_tile(log, tree, 1, 1)
    await check_public_tile(log, tree, 2, 0)
    with pytest.raises(LogError, match="no tile 0/276"):
        await log.tile(0, n // TILE_WIDTH + 1)
    with pytest.raises(LogError, match="no entry bundle"):
        await log.entry_bundle(n // TILE_WIDTH + 1)


async def check_public_tile(
    log: TransparencyLog, tree: ReferenceTree, level: int, index: int
) -> None:
    """c2sp.org/tlog-tiles: hash i of tile (L, N) is MTH(D[(N*256+i)*256^L : (N*256+i+1)*256^L]),
    and a tile holds only complete hashes (a partial tile its width of them)."""
    width, blob = await log.tile(level, index)
    span = TILE_WIDTH**level
    complete = (len(tree) // span) - index * TILE_WIDTH
    assert width == min(TILE_WIDTH, complete), (level, index)
    hashes = split_hashes(bottom_row(blob, width))
    assert len(hashes) == width
    for i in sorted({0, min(1, width - 1), width // 2, width - 1}):
        start = (index * TILE_WIDTH + i) * span
        assert hashes[i] == tree.mth(start, start + span), (level, index, i)


async def test_entry_size_limits(log: TransparencyLog) -> None:
    tree = ReferenceTree()
    big = bytes(range(256)) * 255 + bytes(range(255))
    assert len(big) == bundles.MAX_ENTRY_SIZE == 65535
    batch = [b"", big, b"\x00", big[:1000]]
    result = await log.append(batch)
    tree.extend(batch)
    check_result(result, tree, 0)
    assert await log.entries(0, 4) == batch
    for i in range(4):
        await check_inclusion(log, tree, i, 4)


# --------------------------------------------------------------------------------------------------
# Property: random batch sequences against the reference


async def wipe(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for table in reversed(schema.metadata.sorted_tables):
            await conn.execute(table.delete())


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    batches=st.lists(
        st.one_of(st.integers(1, 40), st.integers(200, 300), st.integers(500, 1100)),
        min_size=1,
        max_size=7,
    ),
    reopen_after=st.integers(0, 7),
    data=st.data(),
)
async def test_random_batch_sequences_match_the_reference(
    harness: Harness, batches: list[int], reopen_after: int, data: st.DataObject
) -> None:
    await wipe(harness.engine)
    log = await harness.open()
    tree = ReferenceTree()
    sizes = []
    try:
        for number, count in enumerate(batches):
            if number == reopen_after:
                await harness.close(log)
                log = await harness.open()
            await append(log, tree, count)
            sizes.append(len(tree))
            n = len(tree)
            index = data.draw(st.integers(0, n - 1), label="index")
            await check_inclusion(log, tree, index, n)
            size = data.draw(st.integers(1, n), label="size")
            await check_inclusion(log, tree, data.draw(st.integers(0, size - 1)), size)
            for old in sizes:
                await check_consistency(log, tree, old, n)
            old = data.draw(st.integers(1, n), label="old")
            await check_consistency(log, tree, old, data.draw(st.integers(old, n), label="new"))
        assert await log.entries(0, len(tree)) == tree.entries
    finally:
        await harness.close(log)


# --------------------------------------------------------------------------------------------------
# Reopening, transactions, concurrency


async def test_reopened_log_continues(harness: Harness) -> None:
    tree = ReferenceTree()
    log = await harness.open()
    await append(log, tree, 300)  # ends in a partial tile and bundle
    await harness.close(log)

    # A new instance on the same engine, then one on a new engine: both pick up the edge.
    log = await harness.open()
    await append(log, tree, 212)  # ends exactly on a tile boundary (512)
    await harness.close(log)
    log = await harness.open(harness.new_engine())
    await append(log, tree, 1)
    await append(log, tree, 600)
    await check_random_proofs(log, tree, random.Random(1), 60)
    for size in (300, 512, 513, 1113):
        await check_consistency(log, tree, size, len(tree))
    assert await log.entries(0, len(tree)) == tree.entries

    # Opening is idempotent and does not touch the log.
    before = await harness.dump()
    await harness.open()
    assert await harness.dump() == before


async def test_two_instances_alternating_keep_their_edges_fresh(harness: Harness) -> None:
    """Each instance caches the right edge; it must notice the other's appends."""
    a, b = await harness.open(), await harness.open(harness.new_engine())
    tree = ReferenceTree()
    for count, writer in [(10, a), (300, b), (1, a), (245, a), (7, b), (256, a), (3, b)]:
        await append(writer, tree, count)
    await check_random_proofs(a, tree, random.Random(2), 30)
    await check_random_proofs(b, tree, random.Random(3), 30)


async def test_failed_writer_transaction_leaves_nothing(
    harness: Harness, log: TransparencyLog
) -> None:
    tree = ReferenceTree()
    await append(log, tree, 300)
    before = await harness.dump()

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with log.writer() as writer:
            result = await writer.append(entries(10_000, 20))
            assert result.size == 320  # the transaction saw its own append
            assert writer.size == 320
            raise Boom
    assert await harness.dump() == before
    head = await log.head()
    assert (head.size, head.root) == (300, tree.root(300))
    with pytest.raises(LogError, match="no checkpoint of size 320"):
        await log.checkpoint(320)

    # The same instance appends correctly afterwards (its cached edge was dropped) ...
    await append(log, tree, 20)
    await check_random_proofs(log, tree, random.Random(4), 20)
    # ... as does a failure before any append, and an empty writer.
    with pytest.raises(Boom):
        async with log.writer():
            raise Boom
    async with log.writer():
        pass
    await append(log, tree, 1)
    assert await log.entries(0, len(tree)) == tree.entries


async def test_writer_commits_the_callers_rows_with_the_append(
    harness: Harness, log: TransparencyLog
) -> None:
    await harness.execute(text("CREATE TABLE test_records (id INTEGER PRIMARY KEY, body TEXT)"))
    tree = ReferenceTree()

    async def records() -> list[tuple[Any, ...]]:
        async with harness.engine.connect() as conn:
            return [tuple(r) for r in await conn.execute(text("SELECT * FROM test_records"))]

    async with log.writer() as writer:
        await writer.connection.execute(text("INSERT INTO test_records VALUES (1, 'one')"))
        batch = entries(0, 5)
        r1 = await writer.append(batch)
        tree.extend(batch)
        check_result(r1, tree, 0)
        batch = entries(5, 300)
        r2 = await writer.append(batch)  # two batches in one transaction
        tree.extend(batch)
        check_result(r2, tree, 5)
    assert await records() == [(1, "one")]
    assert await log.checkpoint(5) == r1.checkpoint
    assert await log.checkpoint(305) == r2.checkpoint

    with pytest.raises(RuntimeError):
        async with log.writer() as writer:
            await writer.connection.execute(text("INSERT INTO test_records VALUES (2, 'two')"))
            await writer.append(entries(305, 5))
            raise RuntimeError("the caller's own work failed")
    assert await records() == [(1, "one")]
    assert (await log.head()).size == 305
    await append(log, tree, 5)
    await check_random_proofs(log, tree, random.Random(5), 20)


async def test_concurrent_appends_serialise(log: TransparencyLog) -> None:
    batches = [entries(1000 * k, count) for k, count in enumerate([1, 255, 3, 300, 17, 256, 2, 90])]
    results = await asyncio.gather(*(log.append(b) for b in batches))
    order = sorted(range(len(batches)), key=lambda k: results[k].first_index)
    tree = ReferenceTree()
    for k in order:
        first = len(tree)
        tree.extend(batches[k])
        check_result(results[k], tree, first)
    assert (await log.head()).size == len(tree)
    assert await log.entries(0, len(tree)) == tree.entries
    await check_random_proofs(log, tree, random.Random(6), 30)


async def test_concurrent_appends_from_two_instances_serialise(harness: Harness) -> None:
    a, b = await harness.open(), await harness.open(harness.new_engine())
    batches = [entries(1000 * k, 100 + k) for k in range(6)]
    results = await asyncio.gather(
        *(log.append(batch) for log, batch in zip([a, b] * 3, batches, strict=True))
    )
    tree = ReferenceTree()
    for k in sorted(range(6), key=lambda k: results[k].first_index):
        first = len(tree)
        tree.extend(batches[k])
        check_result(results[k], tree, first)
    assert await a.entries(0, len(tree)) == tree.entries
    await check_random_proofs(b, tree, random.Random(8), 20)


# --------------------------------------------------------------------------------------------------
# Bad input and bad requests


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        ([], "at least one entry"),
        ([b"ok", b"x" * 65536], "entry 1 must be bytes of at most 65535 bytes"),
        ([b"x" * 70000], "entry 0 must be bytes of at most 65535"),
        ([b"ok", "text"], "entry 1 must be bytes"),
        ([bytearray(b"mutable")], "entry 0 must be bytes"),
        ([memoryview(b"view")], "entry 0 must be bytes"),
        ([b"ok", b"ok", None], "entry 2 must be bytes"),
        ([42], "entry 0 must be bytes"),
        (b"abc", "entry 0 must be bytes"),  # bytes is a sequence of ints, not of entries
        ("abc", "entry 0 must be bytes"),
    ],
    ids=[
        "empty",
        "65536",
        "70000",
        "str",
        "bytearray",
        "memoryview",
        "None",
        "int",
        "bytes",
        "str-batch",
    ],
)
async def test_bad_batches_are_refused_and_write_nothing(
    harness: Harness, log: TransparencyLog, batch: Any, message: str
) -> None:
    tree = ReferenceTree()
    await append(log, tree, 3)
    before = await harness.dump()
    with pytest.raises(LogError, match=message):
        await log.append(batch)
    assert await harness.dump() == before
    await append(log, tree, 2)  # the log still works
    await check_inclusion(log, tree, 4, 5)


async def test_proofs_beyond_the_committed_size_are_refused(log: TransparencyLog) -> None:
    tree = ReferenceTree()
    await append(log, tree, 300)
    refused: list[Callable[[], Awaitable[object]]] = [
        lambda: log.inclusion_proof(0, 301),
        lambda: log.inclusion_proof(299, 1000),
        lambda: log.consistency_proof(1, 301),
        lambda: log.consistency_proof(300, 301),
        lambda: log.consistency_proof(299, 512),
        lambda: log.root_at(301),
        lambda: log.root_at(-1),
        lambda: log.entries(0, 301),
        lambda: log.entries(300, 301),
        lambda: log.entries(-1, 3),
        lambda: log.entries(5, 4),
    ]
    for call in refused:
        with pytest.raises(LogError):
            await call()
    with pytest.raises(LogError, match="tree size 301 is beyond the log's committed size"):
        await log.inclusion_proof(0, 301)
    with pytest.raises(LogError, match=r"entries 0\.\.301 are outside the log of size 300"):
        await log.entries(0, 301)
    # The edge itself is fine.
    await check_inclusion(log, tree, 299, 300)
    await check_consistency(log, tree, 1, 300)


async def test_consistency_proof_between_equal_uncommitted_sizes_is_refused(
    log: TransparencyLog,
) -> None:
    await log.append(entries(0, 10))
    with pytest.raises(LogError):
        await log.consistency_proof(11, 11)


@pytest.mark.parametrize(
    "call", ["inclusion(10, 10)", "inclusion(-1, 5)", "consistency(0, 5)", "consistency(6, 5)"]
)
async def test_impossible_proof_requests_raise_log_error(log: TransparencyLog, call: str) -> None:
    await log.append(entries(0, 10))
    kind, args = call.split("(")
    a, b = (int(x) for x in args.rstrip(")").split(","))
    with pytest.raises(LogError):
        if kind == "inclusion":
            await log.inclusion_proof(a, b)
        else:
            await log.consistency_proof(a, b)


async def test_a_database_of_another_origin_refuses_to_open(
    harness: Harness, log: TransparencyLog
) -> None:
    await log.append(entries(0, 3))
    before = await harness.dump()
    other = "hub.example/cbam/another-log"
    with pytest.raises(LogError, match=f"holds the log '{ORIGIN}', not '{other}'"):
        await TransparencyLog.open(harness.engine, other, Ed25519Signer(other, bytes(32)))
    assert await harness.dump() == before


# --------------------------------------------------------------------------------------------------
# Tampering: edit the database with SQL, then ask a fresh instance


TAMPER_SIZE = 700  # tiles 0/0, 0/1 full, 0/2 partial (188); tile 1/0 partial (2); bundles 0, 1, 2


@dataclass
class Victim:
    tree: ReferenceTree
    signed: SignedCheckpoint
    """The log's signed checkpoint at TAMPER_SIZE, as a client or witness holds it."""


@pytest.fixture
async def victim(harness: Harness) -> Victim:
    log = await harness.open()
    tree = ReferenceTree()
    await append(log, tree, 300)
    result = await append(log, tree, 400)
    await harness.close(log)
    assert len(tree) == TAMPER_SIZE
    return Victim(tree, verify_checkpoint(result.checkpoint, VERIFIER))


def flip(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1 :]


async def read_tile(harness: Harness, level: int, idx: int) -> tuple[int, bytes]:
    async with harness.engine.connect() as conn:
        row = (
            await conn.execute(
                select(schema.tiles.c.width, schema.tiles.c.hashes).where(
                    schema.tiles.c.level == level, schema.tiles.c.idx == idx
                )
            )
        ).one()
    return row.width, bytes(row.hashes)


async def write_tile(harness: Harness, level: int, idx: int, hashes: bytes) -> None:
    await harness.execute(
        text("UPDATE ledger_tiles SET hashes = :h WHERE level = :l AND idx = :i"),
        {"h": hashes, "l": level, "i": idx},
    )


async def flip_tile_hash(harness: Harness, level: int, idx: int, position: int) -> None:
    """Flip a bit of the `position`-th hash of the stored (expanded) tile."""
    _, blob = await read_tile(harness, level, idx)
    await write_tile(harness, level, idx, flip(blob, position * HASH_SIZE))


async def read_bundle(harness: Harness, idx: int) -> list[bytes]:
    async with harness.engine.connect() as conn:
        data = (
            await conn.execute(
                select(schema.entry_bundles.c.data).where(schema.entry_bundles.c.idx == idx)
            )
        ).scalar_one()
    return bundles.decode(bytes(data))


async def write_bundle(harness: Harness, idx: int, items: Sequence[bytes]) -> None:
    await harness.execute(
        text("UPDATE ledger_entry_bundles SET data = :d, count = :c WHERE idx = :i"),
        {"d": bundles.encode(items), "c": len(items), "i": idx},
    )


async def served_entry_verifies(log: TransparencyLog, index: int, signed: SignedCheckpoint) -> None:
    """What a client does: fetch the entry and its proof, check them against the signed checkpoint.
    Raises VerificationError or LogError when something does not add up."""
    cp = signed.checkpoint
    (served,) = await log.entries(index, index + 1)
    proof = await log.inclusion_proof(index, cp.size)
    verify_inclusion(index, cp.size, leaf_hash(served), proof, cp.root)


async def assert_untampered(log: TransparencyLog, signed: SignedCheckpoint) -> None:
    for index in (0, 7, 255, 256, 511, 512, 600, 699):
        await served_entry_verifies(log, index, signed)


async def test_untampered_log_passes_the_tamper_checks(harness: Harness, victim: Victim) -> None:
    """The control: the same checks on an untouched database pass, and the log appends."""
    log = await harness.open()
    await assert_untampered(log, victim.signed)
    await append(log, victim.tree, 5)


async def test_tamper_full_tile_bottom_hash(harness: Harness, victim: Victim) -> None:
    await flip_tile_hash(harness, 0, 0, 5)  # leaf hash 5
    log = await harness.open()
    with pytest.raises(VerificationError, match="does not lead to the root"):
        await served_entry_verifies(log, 4, victim.signed)  # leaf 5 is leaf 4's sibling


async def test_tamper_full_tile_interior_hash(harness: Harness, victim: Victim) -> None:
    # Row 3 of the expanded tile starts after 256 + 128 + 64 hashes; node 3/2 covers leaves 16..23.
    await flip_tile_hash(harness, 0, 0, 256 + 128 + 64 + 2)
    log = await harness.open()
    for index in (24, 31):  # the sibling subtree's leaves use node 3/2 in their proofs
        with pytest.raises(VerificationError, match="does not lead to the root"):
            await served_entry_verifies(log, index, victim.signed)
    # A consistency proof that uses the node fails too (from size 24 the proof holds MTH(16..24)).
    proof = await log.consistency_proof(24, TAMPER_SIZE)
    with pytest.raises(VerificationError):
        verify_consistency(
            24, TAMPER_SIZE, victim.tree.root(24), victim.signed.checkpoint.root, proof
        )


async def test_tamper_edge_tile_hash(harness: Harness, victim: Victim) -> None:
    await flip_tile_hash(harness, 0, 2, 10)  # leaf 522, in the partial tile of the right edge
    log = await harness.open()
    with pytest.raises(VerificationError):
        await served_entry_verifies(log, 523, victim.signed)
    with pytest.raises(
        LogCorrupted,
        match=r"entry 522 does not match its leaf hash in tile 0/2: the entry or the tile was altered",
    ):
        await log.append(entries(TAMPER_SIZE, 1))
    assert (await log.head()).size == TAMPER_SIZE


async def test_tamper_level1_tile_hash(harness: Harness, victim: Victim) -> None:
    await flip_tile_hash(harness, 1, 0, 0)  # MTH of leaves 0..255, as stored at level 1
    log = await harness.open()
    with pytest.raises(VerificationError):
        await served_entry_verifies(log, 300, victim.signed)
    with pytest.raises(LogCorrupted, match="but the log head says"):
        await log.append(entries(TAMPER_SIZE, 1))


async def test_tamper_deleted_full_tile(harness: Harness, victim: Victim) -> None:
    await harness.execute(text("DELETE FROM ledger_tiles WHERE level = 0 AND idx = 0"))
    log = await harness.open()
    with pytest.raises(LogCorrupted, match="tile 0/0 lacks node"):
        await log.inclusion_proof(3, TAMPER_SIZE)


async def test_tamper_deleted_edge_tile_refuses_appends(harness: Harness, victim: Victim) -> None:
    await harness.execute(text("DELETE FROM ledger_tiles WHERE level = 0 AND idx = 2"))
    log = await harness.open()
    with pytest.raises(LogCorrupted, match="tile 0/2 is missing or shorter than size 700 needs"):
        await log.append(entries(TAMPER_SIZE, 1))
    with pytest.raises(LogError):
        await log.inclusion_proof(3, TAMPER_SIZE)


async def test_tamper_deleted_edge_tile_is_reported_as_corruption_by_proofs(
    harness: Harness, victim: Victim
) -> None:
    await harness.execute(text("DELETE FROM ledger_tiles WHERE level = 0 AND idx = 2"))
    log = await harness.open()
    with pytest.raises(LogCorrupted):
        await log.inclusion_proof(3, TAMPER_SIZE)


async def test_tamper_altered_entry_in_a_full_bundle(harness: Harness, victim: Victim) -> None:
    items = await read_bundle(harness, 0)
    items[7] = b"cbam record 7; forged emissions figure"
    await write_bundle(harness, 0, items)
    log = await harness.open()
    assert (await log.entries(7, 8)) == [items[7]]
    with pytest.raises(
        VerificationError, match="inclusion proof for leaf 7 does not lead to the root"
    ):
        await served_entry_verifies(log, 7, victim.signed)
    await served_entry_verifies(log, 8, victim.signed)  # the others are untouched


async def test_tamper_altered_entry_in_the_edge_bundle(harness: Harness, victim: Victim) -> None:
    items = await read_bundle(harness, 2)
    items[100] = b"forged"
    await write_bundle(harness, 2, items)
    log = await harness.open()
    with pytest.raises(VerificationError):
        await served_entry_verifies(log, 612, victim.signed)


async def test_tamper_dropped_entry(harness: Harness, victim: Victim) -> None:
    items = await read_bundle(harness, 0)
    del items[7]
    await write_bundle(harness, 0, items)
    log = await harness.open()
    with pytest.raises(VerificationError):
        await served_entry_verifies(log, 7, victim.signed)  # now serves entry 8 as entry 7
    with pytest.raises(LogCorrupted, match=r"fewer entries than 0\.\.700"):
        await log.entries(0, TAMPER_SIZE)


async def test_tamper_dropped_entry_at_the_edge_refuses_appends(
    harness: Harness, victim: Victim
) -> None:
    items = await read_bundle(harness, 2)
    await write_bundle(harness, 2, items[:-1])
    log = await harness.open()
    with pytest.raises(LogCorrupted, match="entry bundle 2 is missing entries"):
        await log.append(entries(TAMPER_SIZE, 1))
    with pytest.raises(LogCorrupted):
        await log.entries(0, TAMPER_SIZE)


async def test_tamper_deleted_bundle(harness: Harness, victim: Victim) -> None:
    await harness.execute(text("DELETE FROM ledger_entry_bundles WHERE idx = 1"))
    log = await harness.open()
    with pytest.raises(LogCorrupted, match="entry bundle 1 is missing"):
        await log.entries(0, TAMPER_SIZE)
    with pytest.raises(LogCorrupted):
        await log.entries(300, 301)

    await harness.execute(text("DELETE FROM ledger_entry_bundles WHERE idx = 2"))
    with pytest.raises(LogCorrupted, match="entry bundle 2 is missing entries"):
        await log.append(entries(TAMPER_SIZE, 1))


async def test_tamper_reordered_entries(harness: Harness, victim: Victim) -> None:
    items = await read_bundle(harness, 0)
    items[7], items[8] = items[8], items[7]
    await write_bundle(harness, 0, items)
    log = await harness.open()
    for index in (7, 8):
        with pytest.raises(VerificationError):
            await served_entry_verifies(log, index, victim.signed)


async def test_tamper_reordered_bundles(harness: Harness, victim: Victim) -> None:
    first, second = await read_bundle(harness, 0), await read_bundle(harness, 1)
    await write_bundle(harness, 0, second)
    await write_bundle(harness, 1, first)
    log = await harness.open()
    for index in (0, 255, 256, 511):
        with pytest.raises(VerificationError):
            await served_entry_verifies(log, index, victim.signed)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"root": b"\x42" * 32}, "but the log head says 4242"),
        ({"size": TAMPER_SIZE - 1}, "says size 699, but the log signed a checkpoint of size 700"),
        ({"size": TAMPER_SIZE + 1}, "tile 0/2 is missing or shorter than size 701 needs"),
        ({"size": TAMPER_SIZE + 5}, "tile 0/2 is missing or shorter than size 705 needs"),
        ({"size": TAMPER_SIZE + 300}, "tile 0/3 is missing or shorter than size 1000 needs"),
        ({"size": 0}, "says size 0, but the log signed a checkpoint of size 700"),
    ],
    ids=["root", "size-1", "size+1", "size+5", "size+300", "size=0"],
)
async def test_tamper_head_row_refuses_appends(
    harness: Harness,
    victim: Victim,
    edit: dict[str, Any],
    message: str,
) -> None:
    await harness.execute(update(schema.head).where(schema.head.c.id == 1).values(**edit))
    before = await harness.dump()
    log = await harness.open()
    with pytest.raises(LogCorrupted, match=message):
        await log.append(entries(TAMPER_SIZE, 1))
    assert await harness.dump() == before


async def test_tamper_head_rollback_is_caught_by_verification(
    harness: Harness, victim: Victim
) -> None:
    """The head rolled back to an earlier, self-consistent state (size 300 and its root). Either the
    log refuses to write, or whatever it signs next is provably not an extension of the checkpoint it
    signed at size 700: a witness or client holding that checkpoint rejects it."""
    await harness.execute(
        update(schema.head)
        .where(schema.head.c.id == 1)
        .values(size=300, root=victim.tree.root(300))
    )
    log = await harness.open()
    try:
        result = await log.append([b"a rewritten record"] * 500)
    except LogCorrupted:
        return
    assert result.size == 800
    new = verify_checkpoint(result.checkpoint, VERIFIER).checkpoint
    proof = await log.consistency_proof(TAMPER_SIZE, new.size)
    with pytest.raises(VerificationError, match="rewrote history"):
        verify_consistency(TAMPER_SIZE, new.size, victim.signed.checkpoint.root, new.root, proof)


async def test_tamper_head_rollback_refuses_appends(harness: Harness, victim: Victim) -> None:
    await harness.execute(
        update(schema.head)
        .where(schema.head.c.id == 1)
        .values(size=300, root=victim.tree.root(300))
    )
    log = await harness.open()
    with pytest.raises(LogCorrupted):
        await log.append([b"a rewritten record"] * 500)


async def test_tamper_head_origin_refuses_to_open(harness: Harness, victim: Victim) -> None:
    await harness.execute(
        update(schema.head).where(schema.head.c.id == 1).values(origin="evil.example/log")
    )
    with pytest.raises(LogError, match=r"holds the log 'evil\.example/log'"):
        await harness.open()


async def test_first_opens_one_after_another_create_one_log(harness: Harness) -> None:
    for _ in range(3):
        await harness.open(harness.new_engine())
    dump = await harness.dump()
    assert dump["ledger_head"] == [(1, ORIGIN, 0, EMPTY_ROOT)]
    assert [row[0] for row in dump["ledger_checkpoints"]] == [0]


async def test_concurrent_first_opens_of_a_new_log(harness: Harness) -> None:
    """Replicas starting at once on a fresh database must all open the one log. The race is made
    deterministic: while the test holds a lock that lets reads through but blocks inserts, every
    replica reads 'no head row' and queues its INSERT."""
    engines = [harness.new_engine() for _ in range(3)]
    postgres = harness.engine.dialect.name == "postgresql"
    async with harness.new_engine().connect() as blocker:
        await blocker.execution_options(immediate=True)  # SQLite: BEGIN IMMEDIATE
        async with blocker.begin():
            if postgres:
                await blocker.execute(text("LOCK TABLE ledger_head IN SHARE ROW EXCLUSIVE MODE"))
            opening = [asyncio.create_task(harness.open(e)) for e in engines]
            await _until_blocked(harness, len(engines), postgres)
    results = await asyncio.gather(*opening, return_exceptions=True)
    assert all(isinstance(r, TransparencyLog) for r in results), results
    dump = await harness.dump()
    assert dump["ledger_head"] == [(1, ORIGIN, 0, EMPTY_ROOT)]


async def _until_blocked(harness: Harness, count: int, postgres: bool) -> None:
    if not postgres:
        await asyncio.sleep(0.5)  # no way to observe SQLite's busy waits; they last up to 10 s
        return
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(500):
        async with harness.engine.connect() as conn:
            if (await conn.execute(query)).scalar_one() >= count:
                return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{count} openers never blocked on the head table")
