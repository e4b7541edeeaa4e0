"""Tile arithmetic of the C2SP tlog-tiles layout, with every internal level kept.

A tile at level L, index N holds the hashes of 256 consecutive tree nodes at height 8L. The public tile
(what `/tile/L/N` serves) is exactly that bottom row. In storage we keep the *expanded* tile: the bottom
row followed by the seven rows above it inside the tile (128, 64, ..., 2 hashes), so that any node of the
tree is one lookup away and a proof never rehashes a subtree. A partial tile of width W keeps, in row r,
the W >> r nodes that are complete.
"""

from __future__ import annotations

from collections.abc import Sequence

from .verify import HASH_SIZE, node_hash

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT


def tile_key(height: int, index: int) -> tuple[int, int]:
    """The (level, tile index) of the stored tile that holds node (height, index)."""
    row = height % TILE_HEIGHT
    return height // TILE_HEIGHT, (index << row) // TILE_WIDTH


def _row_offset(width: int, row: int) -> int:
    return sum(width >> r for r in range(row))


def expand(bottom: Sequence[bytes]) -> bytes:
    """Build the expanded tile bytes from its bottom row (at most 256 hashes)."""
    if not 0 < len(bottom) <= TILE_WIDTH:
        raise ValueError(f"a tile holds 1 to {TILE_WIDTH} hashes, not {len(bottom)}")
    rows = [list(bottom)]
    for _ in range(1, TILE_HEIGHT):
        below = rows[-1]
        rows.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])
    return b"".join(b"".join(row) for row in rows)


def node_from_tile(blob: bytes, width: int, height: int, index: int) -> bytes | None:
    """Node (height, index) from the expanded tile that holds it, or None if the tile lacks it."""
    row = height % TILE_HEIGHT
    per_row = TILE_WIDTH >> row
    position = index % per_row
    if position >= width >> row:
        return None
    start = (_row_offset(width, row) + position) * HASH_SIZE
    return blob[start : start + HASH_SIZE]


def bottom_row(blob: bytes, width: int) -> bytes:
    """The public tile: the first `width` hashes of the expanded tile."""
    return blob[: width * HASH_SIZE]


def split_hashes(data: bytes) -> list[bytes]:
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def tile_root(blob: bytes) -> bytes:
    """The hash of a full tile's whole subtree: the node one level above the tile's top row."""
    top = _row_offset(TILE_WIDTH, TILE_HEIGHT - 1) * HASH_SIZE
    return node_hash(blob[top : top + HASH_SIZE], blob[top + HASH_SIZE : top + 2 * HASH_SIZE])


def tile_path(level: int | str, index: int, width: int = TILE_WIDTH) -> str:
    """The tlog-tiles path of a tile: `tile/<L>/<N>[.p/<W>]`, N in 3-digit groups (x001/x234/067)."""
    digits = f"{index:03d}"
    if len(digits) % 3:
        digits = "0" * (3 - len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    path = "/".join([f"x{g}" for g in groups[:-1]] + [groups[-1]])
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return f"tile/{level}/{path}{suffix}"


def parse_tile_index(groups: Sequence[str]) -> int:
    """Inverse of the index part of `tile_path`; raises ValueError on anything malformed.

    Only the canonical form is accepted (ASCII digits, no leading `x000` groups), so that each tile
    has exactly one path, as Go's tlog.ParseTilePath requires.
    """
    if not groups:
        raise ValueError("empty tile index")
    digits = "".join([g[1:] if g.startswith("x") else g for g in groups[:-1]] + [groups[-1]])
    if not digits.isascii() or not digits.isdigit():
        raise ValueError(f"bad tile index {'/'.join(groups)!r}")
    index = int(digits)
    canonical = tile_path(0, index).split("/", 2)[2]
    if canonical != "/".join(groups):
        raise ValueError(
            f"tile index {'/'.join(groups)!r} is not canonical (expected {canonical!r})"
        )
    return index
