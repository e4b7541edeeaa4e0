"""The full audit, directly on the database and over real HTTP, on SQLite and PostgreSQL.

An honest log audits clean; then the database is edited with SQL the way an attacker (or a broken
disk) would, and the audit must name what was altered and where. The HTTP server runs in uvicorn's
own thread with its own engine, so every edit is seen exactly as a remote auditor would see it.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import reference
from cbamhub.ledger import bundles, schema
from cbamhub.ledger.audit import (
    AuditReport,
    HttpTileSource,
    LogTileSource,
    TileSource,
    audit,
    consistency,
    tile_name,
)
from cbamhub.ledger.checkpoint import Checkpoint, sign_checkpoint
from cbamhub.ledger.log import TransparencyLog
from cbamhub.ledger.note import Ed25519Signer, b64encode
from cbamhub.ledger.storage import create_engine, create_tables
from cbamhub.ledger.tiles_http import create_tiles_app
from cbamhub.ledger.verify import EMPTY_ROOT, HASH_SIZE
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Executable

ORIGIN = "example.com/cbam-audit"
SIGNER = Ed25519Signer(ORIGIN, bytes([9]) * 32)
VKEY = SIGNER.vkey()
BATCHES = (700, 800)  # size 1500: tiles 0/000..0/004 full, 0/005.p/220, 1/000.p/5
SIZE = sum(BATCHES)
Serve = Callable[..., str]
REPO = Path(__file__).resolve().parents[2]


def entry(i: int, salt: str = "") -> bytes:
    return f"cbam record {salt}{i}".encode() * (1 + i % 3)


@dataclass
class Log:
    log: TransparencyLog
    engine: AsyncEngine
    url: str
    """Base URL of the log's tiles, served by uvicorn."""
    checkpoints: list[str] = field(default_factory=list)
    """The checkpoint signed after each batch, as an auditor would have saved them."""

    def sources(self) -> list[tuple[str, Callable[[], AbstractAsyncContextManager[TileSource]]]]:
        return [("database", self.direct), ("http", self.http)]

    @asynccontextmanager
    async def direct(self) -> AsyncIterator[TileSource]:
        yield LogTileSource(self.log)

    @asynccontextmanager
    async def http(self) -> AsyncIterator[TileSource]:
        async with HttpTileSource(self.url) as source:
            yield source

    async def audit(
        self, via: str = "database", *, earlier: Sequence[str] = (), max_problems: int = 100
    ) -> AuditReport:
        opener = self.direct if via == "database" else self.http
        async with opener() as source:
            return await audit(source, VKEY, earlier=earlier, max_problems=max_problems)

    async def both(self, *, earlier: Sequence[str] = ()) -> dict[str, AuditReport]:
        return {via: await self.audit(via, earlier=earlier) for via in ("database", "http")}

    async def sql(self, statement: Executable) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(statement)

    async def tile_blob(self, level: int, index: int) -> bytes:
        return (await self.log.tile(level, index))[1]

    async def set_bundle(self, index: int, entries: list[bytes]) -> None:
        await self.sql(
            update(schema.entry_bundles)
            .where(schema.entry_bundles.c.idx == index)
            .values(data=bundles.encode(entries), count=len(entries))
        )


def opener(database_url: str) -> Callable[[], AbstractAsyncContextManager[TransparencyLog]]:
    @asynccontextmanager
    async def open_log() -> AsyncIterator[TransparencyLog]:
        engine = create_engine(database_url)
        log = await TransparencyLog.open(engine, ORIGIN, SIGNER)
        try:
            yield log
        finally:
            await log.close()
            await engine.dispose()

    return open_log


async def append_batches(
    log: TransparencyLog, batches: tuple[int, ...], salt: str = ""
) -> list[str]:
    checkpoints, size = [], (await log.head()).size
    for count in batches:
        await log.append([entry(i, salt) for i in range(size, size + count)])
        size += count
        checkpoints.append(await log.checkpoint())
    return checkpoints


Build = Callable[..., Awaitable[Log]]
"""`await make_log(batches=BATCHES)`: the test's log with those batches appended, served over HTTP."""


@pytest.fixture
async def make_log(database_url: str, serve_asgi: Serve) -> AsyncIterator[Build]:
    engine = create_engine(database_url)
    await create_tables(engine)
    log = await TransparencyLog.open(engine, ORIGIN, SIGNER)

    async def build(batches: tuple[int, ...] = BATCHES) -> Log:
        built = Log(log, engine, serve_asgi(create_tiles_app(opener(database_url))))
        built.checkpoints = await append_batches(log, batches)
        return built

    try:
        yield build
    finally:
        await log.close()
        await engine.dispose()


def flip(blob: bytes, hash_index: int) -> bytes:
    """The blob with one byte of hash `hash_index` changed."""
    at = hash_index * HASH_SIZE
    return blob[:at] + bytes([blob[at] ^ 0xFF]) + blob[at + 1 :]


def is_clean(report: AuditReport, size: int = SIZE) -> bool:
    return report.ok and report.size == size and report.problems == []


# --------------------------------------------------------------------------------------------------
# Honest logs


async def test_an_honest_log_audits_clean(make_log: Build) -> None:
    log = await make_log()
    reports = await log.both(earlier=log.checkpoints)
    for via, report in reports.items():
        assert is_clean(report), (via, report.problems)
        assert report.root == reference.mth([entry(i) for i in range(SIZE)])
        assert report.origin == ORIGIN
        assert report.checkpoint == log.checkpoints[-1]
        assert (report.entries_checked, report.bundles_checked) == (SIZE, 6)
        assert report.tiles_checked == 7  # 0/000..0/005 and 1/000.p/5
        assert report.earlier_checked == 1  # size 700; the one of size 1500 is the current one
    for _, source in log.sources():
        async with source() as s:
            assert await consistency(s, log.checkpoints[0], VKEY) == []
            assert await consistency(s, log.checkpoints[1], VKEY) == []


async def test_sizes_around_tile_boundaries(make_log: Build) -> None:
    """One log grown through the sizes where tiles fill up, audited (with its history) at each."""
    log = await make_log((1,))
    for step in (254, 1, 1, 255, 1, 255, 1):
        log.checkpoints += await append_batches(log.log, (step,))
        size = (await log.log.head()).size
        for via, report in (await log.both(earlier=log.checkpoints)).items():
            assert is_clean(report, size), (size, via, report.problems)
            assert report.earlier_checked == len(log.checkpoints) - 1


async def test_65536_entries_have_a_level_2_tile(make_log: Build) -> None:
    log = await make_log((5000,) * 13 + (536,))
    size = 65536
    assert (await log.log.head()).size == size
    reports = await log.both(earlier=log.checkpoints[::4])
    for via, report in reports.items():
        assert is_clean(report, size), (via, report.problems)
        assert report.tiles_checked == 258  # 256 level-0, 1/000 full, 2/000.p/1
        assert report.earlier_checked == 4
    async with httpx.AsyncClient(base_url=log.url) as client:
        top = await client.get("/tile/2/000.p/1")
        assert top.status_code == 200 and top.content == reports["http"].root
        assert len((await client.get("/tile/1/000")).content) == 8192

    # A level-1 hash altered in a full tile is caught twice: against the tile below and the one above.
    await log.sql(
        update(schema.tiles)
        .where(schema.tiles.c.level == 1, schema.tiles.c.idx == 0)
        .values(hashes=flip(await log.tile_blob(1, 0), 7))
    )
    reports = await log.both()
    expected = [
        "tile 1/000 position 7 differs from the hash of tile 0/007 (a tile was altered)",
        "tile 2/000 position 0 differs from the hash of tile 1/000 (a tile was altered)",
    ]
    assert reports["http"].problems == expected
    assert reports["database"].problems[:2] == expected
    assert (
        reports["database"]
        .problems[2]
        .startswith(
            "tile 1/000: the rows stored above its bottom row are not the hashes of its 256 hashes"
        )
    )


# --------------------------------------------------------------------------------------------------
# Tampering


async def test_altered_tile_hash(make_log: Build) -> None:
    log = await make_log()
    await log.sql(
        update(schema.tiles)
        .where(schema.tiles.c.level == 0, schema.tiles.c.idx == 3)
        .values(hashes=flip(await log.tile_blob(0, 3), 5))
    )
    expected = [
        "entry 773: its leaf hash differs from tile 0/003 position 5 (the entry or the tile was altered)",
        "tile 1/000 position 3 differs from the hash of tile 0/003 (a tile was altered)",
    ]
    reports = await log.both()
    assert reports["http"].problems == expected
    assert reports["database"].problems == [
        *expected,
        "tile 0/003: the rows stored above its bottom row are not the hashes of its 256 hashes "
        "(the stored tile was altered; proofs read from it are wrong)",
    ]


async def test_altered_top_tile_changes_the_tiles_root(make_log: Build) -> None:
    log = await make_log()
    blob = await log.tile_blob(1, 0)
    await log.sql(
        update(schema.tiles)
        .where(schema.tiles.c.level == 1, schema.tiles.c.idx == 0)
        .values(hashes=flip(blob, 4))
    )
    for via, report in (await log.both()).items():
        assert report.problems[0] == (
            "tile 1/000 position 4 differs from the hash of tile 0/004 (a tile was altered)"
        ), via
        assert report.problems[1].startswith("root of the stored tiles ("), via
        assert "(tiles altered: proofs computed from them fail)" in report.problems[1]
    for _, source in log.sources():
        async with source() as s:
            [problem] = await consistency(s, log.checkpoints[0], VKEY)
            assert problem.startswith(
                "the tiles do not give the root of the log's signed checkpoint of size 1500 "
                "(a tile was altered), so consistency with size 700 cannot be decided"
            )


async def test_entries_and_tiles_both_lost(make_log: Build) -> None:
    log = await make_log()
    await log.sql(delete(schema.tiles).where(schema.tiles.c.level == 0, schema.tiles.c.idx == 1))
    await log.sql(delete(schema.entry_bundles).where(schema.entry_bundles.c.idx == 1))
    for via, report in (await log.both(earlier=log.checkpoints[:1])).items():
        assert [p.split(":")[0] for p in report.problems] == [
            "bundle 1 is missing",
            "tile 0/001 is missing",
            "saved checkpoint of size 700 cannot be checked",
            "root at size 1500 cannot be recomputed",
        ], via


async def test_only_the_inner_rows_of_a_stored_tile_altered(make_log: Build) -> None:
    """Never published, but proofs are read from them: only the database audit can see them."""
    log = await make_log()
    await log.sql(
        update(schema.tiles)
        .where(schema.tiles.c.level == 0, schema.tiles.c.idx == 1)
        .values(hashes=flip(await log.tile_blob(0, 1), 256 + 3))
    )
    reports = await log.both()
    assert is_clean(reports["http"])
    assert reports["database"].problems == [
        "tile 0/001: the rows stored above its bottom row are not the hashes of its 256 hashes "
        "(the stored tile was altered; proofs read from it are wrong)"
    ]


async def test_altered_entry(make_log: Build) -> None:
    log = await make_log()
    stored = await log.log.entry_bundle(2)
    stored[10] = b"forged " + stored[10][7:]
    await log.set_bundle(2, stored)
    for via, report in (await log.both(earlier=log.checkpoints[:1])).items():
        assert report.problems[0] == (
            "entry 522: its leaf hash differs from tile 0/002 position 10 "
            "(the entry or the tile was altered)"
        ), via
        assert report.problems[1].startswith("saved checkpoint of size 700 has root "), via
        assert report.problems[1].endswith(
            "the log is not consistent with what was seen before (history rewritten)"
        )
        assert report.problems[2].startswith("root recomputed from the entries ("), via
        assert report.problems[2].endswith(
            "at size 1500 (history rewritten: these entries are not the ones the log signed)"
        )
        assert len(report.problems) == 3, report.problems


async def test_dropped_entry(make_log: Build) -> None:
    log = await make_log()
    stored = await log.log.entry_bundle(2)
    await log.set_bundle(2, stored[:5] + stored[6:])
    last = await log.log.entry_bundle(5)
    await log.set_bundle(5, last[:-1])
    reports = await log.both()
    assert reports["database"].problems == [
        "bundle 2 holds 255 entries, checkpoint size 1500 needs 256 (entries dropped)",
        "entry 517: tile 0/002 position 5 has no matching entry in bundle 2 "
        "(the entry was dropped or altered)",
        "bundle 5 holds 219 entries, checkpoint size 1500 needs 220 (entries dropped)",
        "entry 1499: tile 0/005 position 219 has no matching entry in bundle 5 "
        "(the entry was dropped or altered)",
    ]
    # Over HTTP a short bundle is simply not served at the width the checkpoint needs.
    http = reports["http"].problems
    assert len(http) == 2
    assert http[0].startswith("bundle 2 is missing: checkpoint size 1500 needs it with 256 entries")
    assert http[0].endswith(
        "tile/entries/002: HTTP 404: entry bundle 2 holds 255 entries, not 256)"
    )
    assert http[1].startswith("bundle 5 is missing: checkpoint size 1500 needs it with 220 entries")


async def test_reordered_entries(make_log: Build) -> None:
    log = await make_log()
    stored = await log.log.entry_bundle(1)
    stored[3], stored[4] = stored[4], stored[3]
    await log.set_bundle(1, stored)
    for via, report in (await log.both()).items():
        assert report.problems[:2] == [
            "entry 259: its leaf hash is at tile 0/001 position 4, not 3 (entries reordered)",
            "entry 260: its leaf hash is at tile 0/001 position 3, not 4 (entries reordered)",
        ], via
        assert report.problems[2].startswith("root recomputed from the entries"), via
        assert len(report.problems) == 3, via


async def test_many_problems_are_capped(make_log: Build) -> None:
    log = await make_log()
    await log.set_bundle(0, list(reversed(await log.log.entry_bundle(0))))
    report = await log.audit("http", max_problems=5)
    assert len(report.problems) == 6
    assert all("(entries reordered)" in p for p in report.problems[:5])
    assert report.problems[5] == "... and 252 more problem(s)"  # 256 moved entries, and the root


async def test_deleted_and_truncated_rows(make_log: Build) -> None:
    log = await make_log()
    await log.sql(delete(schema.tiles).where(schema.tiles.c.level == 0, schema.tiles.c.idx == 4))
    await log.sql(delete(schema.entry_bundles).where(schema.entry_bundles.c.idx == 3))
    blob = await log.tile_blob(0, 1)
    await log.sql(
        update(schema.tiles)
        .where(schema.tiles.c.level == 0, schema.tiles.c.idx == 1)
        .values(hashes=blob[:4000])
    )
    reports = await log.both()
    db, http = reports["database"].problems, reports["http"].problems
    assert db[0] == (
        "tile 0/001 is 4000 bytes, checkpoint size 1500 needs 256 hashes (8192 bytes) "
        "(the tile was truncated or padded)"
    )
    assert db[1].startswith("bundle 3 is missing: checkpoint size 1500 needs it with 256 entries (")
    assert db[2].startswith(
        "tile 0/004 is missing: checkpoint size 1500 needs it 256 hashes wide ("
    )
    assert db[3].startswith("tile 0/001: the rows stored above its bottom row")
    assert len(db) == 4, db
    # The server refuses to serve a corrupt tile (never under an immutable header).
    assert http[0].startswith("tile 0/001 cannot be read: GET ")
    assert "HTTP 500: stored tile 0/1 is corrupt" in http[0]
    assert http[1].startswith("bundle 3 is missing:")
    assert http[2].startswith("tile 0/004 is missing:")
    assert len(http) == 3, http


async def test_altered_checkpoint_note(make_log: Build) -> None:
    log = await make_log()
    honest = log.checkpoints[-1]
    root_line = honest.split("\n")[2]
    forged_root = b64encode(hashlib.sha256(b"another tree").digest())
    await log.sql(
        update(schema.checkpoints)
        .where(schema.checkpoints.c.size == SIZE)
        .values(note=honest.replace(root_line, forged_root))
    )
    for via, report in (await log.both()).items():
        assert report.problems[0].startswith("checkpoint signature invalid: signature by key "), via
        assert report.problems[1].startswith("root recomputed from the entries ("), via
        assert report.problems[1].endswith("at size 1500 (the checkpoint was altered)"), via
        assert len(report.problems) == 2, (via, report.problems)


async def test_split_view_a_forged_checkpoint_for_the_same_size(make_log: Build) -> None:
    """The log key signs a second root for size 1500 and serves it (head updated to match)."""
    log = await make_log()
    saved = log.checkpoints[-1]
    other = hashlib.sha256(b"the other view").digest()
    forged = sign_checkpoint(Checkpoint(ORIGIN, SIZE, other), SIGNER).to_text()
    await log.sql(
        update(schema.checkpoints)
        .where(schema.checkpoints.c.size == SIZE)
        .values(note=forged, root=other)
    )
    await log.sql(update(schema.head).values(root=other))
    assert (await log.audit("http")).problems[0].startswith("root recomputed from the entries")
    for via, report in (await log.both(earlier=[saved])).items():
        assert report.problems[0].startswith(f"two different roots for one size {SIZE}: "), via
        assert report.problems[0].endswith(f"the log's checkpoint has {other.hex()} (split view)")
        assert report.problems[1].startswith("root recomputed from the entries"), via
        assert "differs from the signed checkpoint's root" in report.problems[1]
        assert len(report.problems) == 2, (via, report.problems)
    for _, source in log.sources():
        async with source() as s:
            [problem] = await consistency(s, saved, VKEY)
            assert problem.startswith(f"two different roots for one size {SIZE}")
            assert problem.endswith("(split view)")


async def test_split_view_a_consistently_rewritten_log(make_log: Build) -> None:
    """Entries, tiles and checkpoints all replaced, all signed: only saved checkpoints can tell."""
    log = await make_log()
    saved_700, saved_1500 = log.checkpoints
    await log.sql(delete(schema.tiles))
    await log.sql(delete(schema.entry_bundles))
    await log.sql(delete(schema.checkpoints).where(schema.checkpoints.c.size > 0))
    await log.sql(update(schema.head).values(size=0, root=EMPTY_ROOT))
    rewriter = await TransparencyLog.open(log.engine, ORIGIN, SIGNER)
    try:
        await append_batches(rewriter, BATCHES, salt="rewritten ")
    finally:
        await rewriter.close()

    for via, report in (await log.both()).items():
        assert is_clean(report), (via, report.problems)  # nothing to see without a memory
    for via, report in (await log.both(earlier=[saved_1500])).items():
        assert len(report.problems) == 1, (via, report.problems)
        assert report.problems[0].startswith(f"two different roots for one size {SIZE}: ")
    for via, report in (await log.both(earlier=[saved_700])).items():
        [problem] = report.problems
        assert problem.startswith("saved checkpoint of size 700 has root "), via
        assert problem.endswith("(history rewritten)"), via
    for _, source in log.sources():
        async with source() as s:
            [problem] = await consistency(s, saved_700, VKEY)
            assert problem.startswith(
                "saved checkpoint of size 700 is not consistent with the log's checkpoint of size 1500"
            )
            assert problem.endswith("(history rewritten)")


async def test_edited_head_row(make_log: Build) -> None:
    log = await make_log()
    honest_root = (await log.log.head()).root
    await log.sql(update(schema.head).values(root=hashlib.sha256(b"edited").digest()))
    reports = await log.both()
    # The head row is the database's own bookkeeping: nothing published changes...
    assert is_clean(reports["http"])
    # ... but the operator's fsck sees it.
    [problem] = reports["database"].problems
    assert problem.startswith("the log's head row says root ")
    assert problem.endswith(
        f"but the log signed root {honest_root.hex()} for that size (the head row was edited)"
    )

    # Rolled back to a real earlier tree head, consistently signed: still a rollback.
    await log.sql(
        update(schema.head).values(size=700, root=reference.mth([entry(i) for i in range(700)]))
    )
    [problem] = (await log.audit("database")).problems
    assert problem == (
        "the log's head row says size 700, but the log signed a checkpoint of size 1500 "
        "(the head row was edited: the log was rolled back)"
    )
    await log.sql(update(schema.head).values(size=1600))
    [problem] = (await log.audit("database")).problems
    assert problem == (
        "the log's head row says size 1600, for which the log signed no checkpoint "
        "(the head row was edited)"
    )


async def test_saved_checkpoints_that_prove_nothing(make_log: Build) -> None:
    log = await make_log()
    stranger = Ed25519Signer(ORIGIN, bytes([1]) * 32)
    unsigned = sign_checkpoint(Checkpoint(ORIGIN, 700, bytes(32)), stranger).to_text()
    report = await log.audit(earlier=[unsigned])
    [problem] = report.problems
    assert problem.startswith("saved checkpoint #1 is not signed by the log key: ")
    future = sign_checkpoint(Checkpoint(ORIGIN, 2000, bytes(32)), SIGNER).to_text()
    [problem] = (await log.audit(earlier=[future])).problems
    assert problem == (
        "saved checkpoint of size 2000 is larger than the log's checkpoint of size 1500: "
        "the log shrank (rolled back)"
    )
    async with log.direct() as source:
        [problem] = await consistency(source, future, VKEY)
        assert problem.endswith("the log shrank (rolled back)")


# --------------------------------------------------------------------------------------------------
# Command line


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cbamhub.ledger.audit", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=False,
    )


async def test_command_line(make_log: Build, tmp_path: Path) -> None:
    log = await make_log()
    saved = tmp_path / "checkpoint"
    clean = run_cli(log.url, VKEY, "--save", str(saved))
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout.startswith(f"OK {ORIGIN} size {SIZE} root ")
    assert saved.read_text() == log.checkpoints[-1]
    again = run_cli(log.url + "/", VKEY, "--earlier", str(saved))
    assert again.returncode == 0, again.stderr

    await log.sql(
        update(schema.tiles)
        .where(schema.tiles.c.level == 0, schema.tiles.c.idx == 3)
        .values(hashes=flip(await log.tile_blob(0, 3), 5))
    )
    tampered = run_cli(log.url, VKEY, "--earlier", str(saved))
    assert tampered.returncode == 1
    assert tampered.stdout.splitlines() == [
        "entry 773: its leaf hash differs from tile 0/003 position 5 (the entry or the tile was altered)",
        "tile 1/000 position 3 differs from the hash of tile 0/003 (a tile was altered)",
        f"FAILED: 2 problem(s) in the log at {log.url}",
    ]


def test_command_line_usage_and_network_errors(tmp_path: Path, free_port: int) -> None:
    unreachable = run_cli(f"http://127.0.0.1:{free_port}", VKEY)
    assert unreachable.returncode == 2
    assert "the log is unavailable: cannot reach http://127.0.0.1:" in unreachable.stderr
    (tmp_path / "garbage").write_text("not a checkpoint\n")
    for bad, message in (
        (["http://log.example", "not-a-key"], "bad log key"),
        (["ftp://log.example", VKEY], "must start with http:// or https://"),
        (["http://log.example"], "required: log_vkey"),
        (["http://log.example", VKEY, "--earlier", str(tmp_path / "missing")], "--earlier"),
        (["http://log.example", VKEY, "--earlier", str(tmp_path / "garbage")], "not a checkpoint"),
    ):
        usage = run_cli(*bad)
        assert usage.returncode == 2, bad
        assert message in usage.stderr, (bad, usage.stderr)


def test_tile_names() -> None:
    assert tile_name(0, 3) == "tile 0/003"
    assert tile_name(2, 1234067) == "tile 2/x001/x234/067"
    assert tile_name("entries", 5) == "tile entries/005"
