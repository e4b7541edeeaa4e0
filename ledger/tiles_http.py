"""Read-only HTTP serving of a log in the C2SP tlog-tiles layout (c2sp.org/tlog-tiles).

    GET <prefix>/checkpoint                   the latest signed checkpoint (text/plain; charset=utf-8)
    GET <prefix>/tile/<L>/<N>[.p/<W>]         hash tiles: the bottom row of a stored tile
    GET <prefix>/tile/entries/<N>[.p/<W>]     entry bundles (bundles.py encoding)

Anyone can then compute any proof, or audit the whole log (audit.py), without a dynamic API. Tiles and
bundles are immutable once they exist: a full one never changes and a partial one of width W is a
prefix that never changes either, so both carry year-long `immutable` cache headers and a partial is
served from the stored tile whenever that tile is at least W wide. The checkpoint changes with every
append, so it must not be cached (the spec allows a few seconds at most).

Paths are parsed strictly and must be canonical (exactly what `tiles.tile_path` produces): one tile has
one URL, so a cache can never hold two versions of it. Malformed paths answer 400, as Go's sumdb
server does; well-formed paths to something that does not exist (yet) answer 404. A stored tile or
bundle that is itself malformed answers 500 and is never served under an immutable header.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route, Router

from . import bundles
from .log import LogError, TransparencyLog
from .tiles import TILE_WIDTH, bottom_row, parse_tile_index, tile_path
from .verify import HASH_SIZE

MAX_LEVEL = 63
"""Levels are 0..63 (the spec's bound: 256**64 leaves is more than any size a checkpoint can hold)."""

IMMUTABLE = "public, max-age=31536000, immutable"
CHECKPOINT_CACHE = "no-cache"
OCTET_STREAM = "application/octet-stream"
CHECKPOINT_TYPE = "text/plain; charset=utf-8"

_DECIMAL = re.compile(r"0|[1-9][0-9]*")  # ASCII only, no leading zeros ([0-9], not \d)

LogOpener = Callable[[], AbstractAsyncContextManager[TransparencyLog]]
"""Opens the log inside the server's event loop (database connections belong to one loop)."""


class MalformedTilePath(ValueError):
    """A tile path that is not the canonical tlog-tiles form; the message says what is wrong."""


@dataclass(frozen=True)
class TileRequest:
    """A parsed tile path: `level` None means the entry bundle level (`tile/entries/...`)."""

    level: int | None
    index: int
    width: int


def _decimal(text: str, low: int, high: int, what: str) -> int:
    if not _DECIMAL.fullmatch(text) or not low <= int(text) <= high:
        raise MalformedTilePath(
            f"{what} {text!r} is not a decimal {low}..{high} without leading zeros"
        )
    return int(text)


def parse_tile_request(path: str) -> TileRequest:
    """Parse the part of a tile URL after `tile/`, e.g. `1/x001/234.p/17` or `entries/005`."""
    level_text, *rest = path.split("/")
    width = TILE_WIDTH
    if len(rest) >= 2 and rest[-2].endswith(".p"):
        width = _decimal(rest[-1], 1, TILE_WIDTH - 1, "partial tile width")
        rest = [*rest[:-2], rest[-2][: -len(".p")]]
    level = None if level_text == "entries" else _decimal(level_text, 0, MAX_LEVEL, "tile level")
    try:
        index = parse_tile_index(rest)
    except ValueError as exc:
        raise MalformedTilePath(str(exc)) from exc
    if tile_path(level_text, index, width) != f"tile/{path}":
        raise MalformedTilePath(
            f"tile path is not canonical: tile {index} is {tile_path(level_text, index, width)}"
        )
    return TileRequest(level, index, width)


class _TileHandlers:
    """The endpoints over one log (set at construction, or by the app's lifespan)."""

    def __init__(self, log: TransparencyLog | None) -> None:
        self.log = log

    def _open_log(self) -> TransparencyLog:
        if self.log is None:
            raise RuntimeError("the tiles app's log is not open: run the app with its lifespan")
        return self.log

    async def checkpoint(self, request: Request) -> Response:
        try:
            note = await self._open_log().checkpoint()
        except LogError as exc:
            return _text(404, str(exc))
        return Response(
            note,
            media_type=CHECKPOINT_TYPE,
            headers={"Cache-Control": CHECKPOINT_CACHE},
        )

    async def tile(self, request: Request) -> Response:
        try:
            wanted = parse_tile_request(request.path_params["path"])
        except MalformedTilePath as exc:
            return _text(400, f"malformed tile path: {exc}")
        if wanted.level is None:
            return await self._bundle(request, wanted)
        try:
            stored_width, blob = await self._open_log().tile(wanted.level, wanted.index)
        except LogError:
            return _text(404, f"no tile {wanted.level}/{wanted.index}")
        if stored_width < wanted.width:
            return _text(
                404,
                f"tile {wanted.level}/{wanted.index} is {stored_width} hashes wide, not {wanted.width}",
            )
        data = bottom_row(blob, wanted.width)
        if len(data) != wanted.width * HASH_SIZE:
            return _text(
                500, f"stored tile {wanted.level}/{wanted.index} is corrupt: {len(blob)} bytes"
            )
        return _immutable(data)

    async def _bundle(self, request: Request, wanted: TileRequest) -> Response:
        try:
            entries = await self._open_log().entry_bundle(wanted.index)
        except LogError:
            return _text(404, f"no entry bundle {wanted.index}")
        except ValueError as exc:  # bundles.decode: the stored bytes are not a bundle
            return _text(500, f"stored entry bundle {wanted.index} is corrupt: {exc}")
        if len(entries) < wanted.width:
            return _text(
                404,
                f"entry bundle {wanted.index} holds {len(entries)} entries, not {wanted.width}",
            )
        data = bundles.encode(entries[: wanted.width])
        if not _accepts_gzip(request.headers.get("accept-encoding", "")):
            return _immutable(data, vary=True)
        return _immutable(gzip.compress(data, mtime=0), vary=True, encoding="gzip")


def _accepts_gzip(header: str) -> bool:
    """Whether an Accept-Encoding header allows gzip: named (or `*`) with a q-value above zero."""
    weights: dict[str, float] = {}
    for item in header.split(","):
        coding, _, params = item.partition(";")
        q = 1.0
        name, _, value = params.partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value)
            except ValueError:
                q = 0.0
        weights[coding.strip().lower()] = q
    return weights.get("gzip", weights.get("*", 0.0)) > 0


def _immutable(data: bytes, *, vary: bool = False, encoding: str | None = None) -> Response:
    headers = {"Cache-Control": IMMUTABLE}
    if vary:
        headers["Vary"] = "Accept-Encoding"
    if encoding is not None:
        headers["Content-Encoding"] = encoding
    return Response(data, media_type=OCTET_STREAM, headers=headers)


def _text(status: int, message: str) -> Response:
    return PlainTextResponse(
        message + "\n", status_code=status, headers={"Cache-Control": "no-store"}
    )


def _routes(handlers: _TileHandlers) -> list[BaseRoute]:
    return [
        Route("/checkpoint", handlers.checkpoint, methods=["GET"]),
        Route("/tile/{path:path}", handlers.tile, methods=["GET"]),
    ]


def tiles_routes(log: TransparencyLog) -> list[BaseRoute]:
    """The tlog-tiles endpoints, to mount under a prefix of an app running in the log's event loop."""
    return _routes(_TileHandlers(log))


def create_tiles_app(log: TransparencyLog | LogOpener, *, prefix: str = "") -> Starlette:
    """A Starlette app serving `log` (or the log `log()` opens at startup) under `prefix`.

    Pass an opener when the server runs in another event loop than the caller's (e.g. its own
    thread or process): it is entered at startup and exited at shutdown.
    """
    if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
        raise ValueError(f"prefix {prefix!r} must start with '/' and not end with one")
    handlers = _TileHandlers(log if isinstance(log, TransparencyLog) else None)
    routes = _routes(handlers)
    if prefix:
        routes = [Mount(prefix, app=Router(routes, redirect_slashes=False))]
    if isinstance(log, TransparencyLog):
        return _without_redirects(Starlette(routes=routes))
    opener = log

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with opener() as opened:
            handlers.log = opened
            try:
                yield
            finally:
                handlers.log = None

    return _without_redirects(Starlette(routes=routes, lifespan=lifespan))


def _without_redirects(app: Starlette) -> Starlette:
    """No slash-appending redirects: a tile URL either names a resource or it does not."""
    app.router.redirect_slashes = False
    return app
