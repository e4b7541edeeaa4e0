"""The tlog-tiles endpoints over real uvicorn, on SQLite and PostgreSQL.

Tile contents are checked against the RFC 9162 reference oracle (reference.py), not against the code
under test: a level-0 tile holds the leaf hashes of its entries, a level-1 tile the MTH of 256 entries.
"""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest
import reference
from cbamhub.ledger import bundles
from cbamhub.ledger.checkpoint import verify_checkpoint
from cbamhub.ledger.log import TransparencyLog
from cbamhub.ledger.note import Ed25519Signer
from cbamhub.ledger.storage import create_engine, create_tables
from cbamhub.ledger.tiles_http import (
    IMMUTABLE,
    MalformedTilePath,
    TileRequest,
    create_tiles_app,
    parse_tile_request,
    tiles_routes,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.routing import Mount

ORIGIN = "example.com/cbam-tiles"
SIGNER = Ed25519Signer(ORIGIN, bytes([5]) * 32)
SIZE = 1500  # tiles 0/000..0/004 full, 0/005.p/220, 1/000.p/5; a checkpoint at 700 too
Serve = Callable[..., str]


def entry(i: int) -> bytes:
    return f"cbam record {i}".encode() * (1 + i % 3)


ENTRIES = [entry(i) for i in range(SIZE)]


@dataclass
class Served:
    log: TransparencyLog
    engine: AsyncEngine
    url: str
    """The base URL of the tiles app serving the log (its own engine, in uvicorn's loop)."""


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


@pytest.fixture
async def served(database_url: str, serve_asgi: Serve) -> AsyncIterator[Served]:
    engine = create_engine(database_url)
    await create_tables(engine)
    log = await TransparencyLog.open(engine, ORIGIN, SIGNER)
    try:
        await log.append(ENTRIES[:700])
        await log.append(ENTRIES[700:])
        yield Served(log, engine, serve_asgi(create_tiles_app(opener(database_url))))
    finally:
        await log.close()
        await engine.dispose()


@pytest.fixture
async def client(served: Served) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=served.url) as c:
        yield c


def leaf_row(first: int, last: int) -> bytes:
    return b"".join(reference.leaf_hash(e) for e in ENTRIES[first:last])


# --------------------------------------------------------------------------------------------------
# Path parsing


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("0/000", TileRequest(0, 0, 256)),
        ("0/005.p/220", TileRequest(0, 5, 220)),
        ("63/999", TileRequest(63, 999, 256)),
        ("1/x001/x234/067", TileRequest(1, 1234067, 256)),
        ("2/x001/000.p/1", TileRequest(2, 1000, 1)),
        ("entries/000", TileRequest(None, 0, 256)),
        ("entries/x123/456.p/255", TileRequest(None, 123456, 255)),
    ],
)
def test_canonical_paths_parse(path: str, expected: TileRequest) -> None:
    assert parse_tile_request(path) == expected


MALFORMED = [
    "",
    "0",
    "00/000",
    "01/000",
    "64/000",
    "-1/000",
    "+1/000",
    "x/000",
    "Entries/000",
    "0/0",
    "0/00",
    "0/0000",
    "0/abc",
    "0/000/",
    "0//000",
    "0/x000/001",  # non-canonical: tile 1 is 001
    "0/x001",
    "0/001/002",
    "0/\u0661\u0662\u0663",  # Arabic-Indic digits
    "0/\uff11\uff12\uff13",  # full-width digits
    "0/000.p/0",
    "0/000.p/256",
    "0/000.p/010",
    "0/000.p/",
    "0/000.p/\u0661",
    "0/000.p/1/2",
    "0/000.P/1",
    "entries/000.p/300",
    "entries",
]


@pytest.mark.parametrize("path", MALFORMED)
def test_malformed_paths_are_refused(path: str) -> None:
    with pytest.raises(MalformedTilePath):
        parse_tile_request(path)


# --------------------------------------------------------------------------------------------------
# Over HTTP


async def test_checkpoint(served: Served, client: httpx.AsyncClient) -> None:
    response = await client.get("/checkpoint")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.text == await served.log.checkpoint()
    checkpoint = verify_checkpoint(response.text, SIGNER.vkey()).checkpoint
    assert (checkpoint.origin, checkpoint.size) == (ORIGIN, SIZE)
    assert checkpoint.root == reference.mth(ENTRIES)


async def test_full_tiles_hold_leaf_hashes_and_subtree_hashes(client: httpx.AsyncClient) -> None:
    for index in range(5):
        response = await client.get(f"/tile/0/{index:03d}")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/octet-stream"
        assert response.headers["cache-control"] == IMMUTABLE
        assert response.content == leaf_row(index * 256, (index + 1) * 256)
        assert len(response.content) == 8192

    level1 = (await client.get("/tile/1/000.p/5")).content
    assert level1 == b"".join(reference.mth(ENTRIES[i * 256 : (i + 1) * 256]) for i in range(5))


async def test_partial_tiles(client: httpx.AsyncClient) -> None:
    right_edge = await client.get("/tile/0/005.p/220")
    assert right_edge.status_code == 200
    assert right_edge.headers["cache-control"] == IMMUTABLE
    assert right_edge.content == leaf_row(1280, 1500)
    # Any prefix of a stored tile is a partial tile of a smaller tree: the one the checkpoint at
    # size 700 needed (0/002.p/188) is still served, now from the full tile 0/002.
    assert (await client.get("/tile/0/005.p/1")).content == leaf_row(1280, 1281)
    assert (await client.get("/tile/0/002.p/188")).content == leaf_row(512, 700)
    assert (await client.get("/tile/0/000.p/255")).content == leaf_row(0, 255)
    assert (await client.get("/tile/1/000.p/2")).content == reference.mth(
        ENTRIES[:256]
    ) + reference.mth(ENTRIES[256:512])


NOT_THERE = [
    "/tile/0/005",  # the right-edge tile is not full yet
    "/tile/0/005.p/221",  # wider than it is
    "/tile/0/006.p/1",  # beyond the log
    "/tile/1/000",
    "/tile/1/000.p/6",
    "/tile/2/000.p/1",  # no level 2 yet
    "/tile/63/000",
    "/tile/0/x001/x234/067",
    "/tile/entries/005",
    "/tile/entries/005.p/221",
    "/tile/entries/006.p/1",
    "/tile",
    "/tiles/0/000",
    "/checkpoints",
    "/checkpoint/",
    "/",
]


async def test_what_does_not_exist_is_404(client: httpx.AsyncClient) -> None:
    for path in NOT_THERE:
        response = await client.get(path)
        assert response.status_code == 404, path
        assert "immutable" not in response.headers.get("cache-control", ""), path


async def test_malformed_paths_are_400(client: httpx.AsyncClient) -> None:
    for path in MALFORMED:
        response = await client.get("/tile/" + path)
        assert response.status_code == 400, path
        assert response.text.startswith("malformed tile path"), path
        assert response.headers["cache-control"] == "no-store", path


async def test_entry_bundles(client: httpx.AsyncClient) -> None:
    plain = {"Accept-Encoding": "identity"}
    full = await client.get("/tile/entries/000", headers=plain)
    assert full.status_code == 200
    assert full.headers["content-type"] == "application/octet-stream"
    assert full.headers["cache-control"] == IMMUTABLE
    assert "content-encoding" not in full.headers
    assert bundles.decode(full.content) == ENTRIES[:256]
    edge = await client.get("/tile/entries/005.p/220", headers=plain)
    assert bundles.decode(edge.content) == ENTRIES[1280:1500]
    older = await client.get("/tile/entries/002.p/188", headers=plain)
    assert bundles.decode(older.content) == ENTRIES[512:700]


async def test_entry_bundles_are_gzipped_when_accepted(served: Served) -> None:
    async with httpx.AsyncClient() as client:  # decodes gzip by itself: the content is the bundle
        response = await client.get(
            f"{served.url}/tile/entries/001", headers={"Accept-Encoding": "gzip"}
        )
        assert response.headers["content-encoding"] == "gzip"
        assert response.headers["vary"] == "Accept-Encoding"
        assert bundles.decode(response.content) == ENTRIES[256:512]
        refused = await client.get(
            f"{served.url}/tile/entries/001", headers={"Accept-Encoding": "gzip;q=0, identity"}
        )
        assert "content-encoding" not in refused.headers
        # Raw bytes on the wire: gzip with no timestamp, so every response is byte-identical.
        async with client.stream(
            "GET", f"{served.url}/tile/entries/001", headers={"Accept-Encoding": "gzip"}
        ) as raw:
            body = b"".join([chunk async for chunk in raw.aiter_raw()])
        assert gzip.decompress(body) == bundles.encode(ENTRIES[256:512])
        assert body == gzip.compress(bundles.encode(ENTRIES[256:512]), mtime=0)


async def test_methods(client: httpx.AsyncClient) -> None:
    head = await client.head("/tile/0/000")
    assert head.status_code == 200
    assert head.headers["content-length"] == "8192"
    assert head.content == b""
    assert (await client.post("/checkpoint")).status_code == 405
    assert (await client.put("/tile/0/000")).status_code == 405


async def test_mounted_under_a_prefix(database_url: str, serve_asgi: Serve, served: Served) -> None:
    base = serve_asgi(create_tiles_app(opener(database_url), prefix="/logs/eu"))
    async with httpx.AsyncClient(base_url=base) as client:
        assert (await client.get("/logs/eu/checkpoint")).text == await served.log.checkpoint()
        assert (await client.get("/logs/eu/tile/0/005.p/220")).content == leaf_row(1280, 1500)
        assert (await client.get("/checkpoint")).status_code == 404
    with pytest.raises(ValueError, match="prefix"):
        create_tiles_app(served.log, prefix="logs/eu/")


async def test_routes_and_app_over_a_log_in_the_same_loop(served: Served) -> None:
    """`tiles_routes(log)` mounts into an app of the caller's; `create_tiles_app(log)` takes a log."""
    apps = {
        "/ledger/": Starlette(routes=[Mount("/ledger", routes=tiles_routes(served.log))]),
        "/": create_tiles_app(served.log),
    }
    for prefix, app in apps.items():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://log") as client:
            assert (await client.get(prefix + "checkpoint")).status_code == 200
            assert (await client.get(prefix + "tile/0/001")).content == leaf_row(256, 512)
            assert (await client.get(prefix + "tile/0/001.p/0")).status_code == 400


async def test_a_new_log_serves_its_empty_checkpoint_and_no_tiles(
    database_url: str, serve_asgi: Serve
) -> None:
    engine = create_engine(database_url)
    await create_tables(engine)
    log = await TransparencyLog.open(engine, ORIGIN, SIGNER)
    try:
        base = serve_asgi(create_tiles_app(opener(database_url)))
        async with httpx.AsyncClient(base_url=base) as client:
            checkpoint = verify_checkpoint((await client.get("/checkpoint")).text, SIGNER.vkey())
            assert checkpoint.checkpoint.size == 0
            assert (await client.get("/tile/0/000.p/1")).status_code == 404
            assert (await client.get("/tile/entries/000.p/1")).status_code == 404
    finally:
        await log.close()
        await engine.dispose()
