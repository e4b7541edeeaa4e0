"""Pure tests of proof planning (ledger/proofs.py) and tile arithmetic (ledger/tiles.py).

The oracle is the RFC 9162 transcription in reference.py: the planner must name exactly the leaf
ranges PATH and PROOF hash, for every (index, size) and (old, new) up to size 64, and the hashes it
folds from stored perfect subtrees must be the reference hashes. Tiles are checked against the C2SP
tlog-tiles definition: hash i of tile (L, N) is MTH(D[(N*256 + i) * 256**L : (N*256 + i + 1) * 256**L]).
"""

from __future__ import annotations

import random

import pytest
import reference
from cbamhub.ledger import proofs
from cbamhub.ledger.tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    bottom_row,
    expand,
    node_from_tile,
    parse_tile_index,
    split_hashes,
    tile_key,
    tile_path,
    tile_root,
)
from cbamhub.ledger.verify import (
    HASH_SIZE,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from reference import ReferenceTree, span

MAX = 64
ENTRIES = [b"entry-%d" % i for i in range(4 * TILE_WIDTH + 40)]
TREE = ReferenceTree(ENTRIES)


def node_lookup(node: proofs.Node) -> bytes:
    """A stored perfect subtree (height, index), from the reference."""
    height, index = node
    return TREE.mth(index << height, (index + 1) << height)


# --------------------------------------------------------------------------------------------------
# The memoised reference agrees with the literal transcription (it is the oracle of test_log.py)


def test_reference_tree_agrees_with_the_plain_recursion() -> None:
    for n in range(0, 40):
        d = ENTRIES[:n]
        assert TREE.root(n) == reference.mth(d)
        for m in range(n):
            assert TREE.path(m, n) == reference.path(m, d, reference.mth)
        for m in range(1, n + 1):
            assert TREE.proof(m, n) == reference.proof(m, d, reference.mth)


def test_span_stand_in_names_the_hashed_ranges() -> None:
    """path/proof over range(n) with mth=span give ranges whose reference hashes are the proof."""
    for n in range(1, 20):
        for m in range(n):
            ranges = reference.path(m, range(n), span)
            assert [TREE.mth(a, b) for a, b in ranges] == reference.path(
                m, ENTRIES[:n], reference.mth
            )


# --------------------------------------------------------------------------------------------------
# Planning


@pytest.mark.parametrize("size", range(1, MAX + 1))
def test_inclusion_ranges_are_the_rfc_path(size: int) -> None:
    root = TREE.root(size)
    for index in range(size):
        ranges = proofs.inclusion_ranges(index, size)
        assert ranges == reference.path(index, range(size), span), (index, size)
        hashes = proofs.range_hashes(ranges, node_lookup)
        assert hashes == TREE.path(index, size)
        verify_inclusion(index, size, leaf_hash(ENTRIES[index]), hashes, root)


@pytest.mark.parametrize("new", range(1, MAX + 1))
def test_consistency_ranges_are_the_rfc_proof(new: int) -> None:
    for old in range(1, new + 1):
        ranges = proofs.consistency_ranges(old, new)
        assert ranges == reference.proof(old, range(new), span), (old, new)
        hashes = proofs.range_hashes(ranges, node_lookup)
        assert hashes == TREE.proof(old, new)
        verify_consistency(old, new, TREE.root(old), TREE.root(new), hashes)


def test_planning_on_large_trees() -> None:
    """Spot checks far beyond 64 leaves, where the recursion is deep (range arithmetic only)."""
    rng = random.Random(9162)
    for _ in range(300):
        size = rng.randrange(1, 1 << rng.randrange(1, 48))
        index = rng.randrange(size)
        assert proofs.inclusion_ranges(index, size) == reference.path(index, range(size), span)
        old = rng.randrange(1, size + 1)
        assert proofs.consistency_ranges(old, size) == reference.proof(old, range(size), span)
    big = 2**63 - 1
    assert proofs.inclusion_ranges(big - 1, big) == reference.path(big - 1, range(big), span)
    assert proofs.consistency_ranges(big - 1, big) == reference.proof(big - 1, range(big), span)


@pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 1), (5, 3), (-1, 4), (64, 64), (0, -1)])
def test_inclusion_ranges_reject_indices_outside_the_tree(index: int, size: int) -> None:
    with pytest.raises(ValueError, match=f"leaf index {index} is outside a tree of size {size}"):
        proofs.inclusion_ranges(index, size)


@pytest.mark.parametrize(("old", "new"), [(0, 0), (0, 5), (6, 5), (-1, 3), (2, 1)])
def test_consistency_ranges_reject_impossible_sizes(old: int, new: int) -> None:
    with pytest.raises(ValueError, match=f"from size {old} to size {new}"):
        proofs.consistency_ranges(old, new)


def test_consistency_ranges_between_equal_sizes_are_empty() -> None:
    for n in range(1, MAX + 1):
        assert proofs.consistency_ranges(n, n) == []


def _plan_ranges() -> set[tuple[int, int]]:
    found: set[tuple[int, int]] = set()
    for size in range(1, MAX + 1):
        found.add((0, size))
        for index in range(size):
            found.update(proofs.inclusion_ranges(index, size))
        for old in range(1, size + 1):
            found.update(proofs.consistency_ranges(old, size))
    return found


def test_perfect_nodes_of_every_planned_range() -> None:
    """Every range a proof names decomposes into popcount(length) aligned perfect subtrees that
    tile it exactly, and folding them gives MTH of the range."""
    for start, end in sorted(_plan_ranges()):
        nodes = proofs.perfect_nodes(start, end)
        position = start
        for height, index in nodes:
            assert index << height == position, (start, end, nodes)
            position += 1 << height
        assert position == end
        heights = [h for h, _ in nodes]
        assert heights == sorted(heights, reverse=True)
        assert len(nodes) == (end - start).bit_count()
        assert proofs.fold([node_lookup(n) for n in nodes]) == TREE.mth(start, end)


def test_perfect_nodes_of_arbitrary_ranges_tile_them() -> None:
    for start in range(0, 70):
        for end in range(start, 140):
            nodes = proofs.perfect_nodes(start, end)
            position = start
            for height, index in nodes:
                assert index << height == position
                position += 1 << height
            assert position == end
    assert proofs.perfect_nodes(5, 5) == []


@pytest.mark.parametrize("size", [*range(1, MAX + 1), 255, 256, 257, 1000, len(ENTRIES)])
def test_root_nodes_fold_to_the_root(size: int) -> None:
    nodes = proofs.root_nodes(size)
    assert len(nodes) == size.bit_count()
    assert proofs.fold([node_lookup(n) for n in nodes]) == TREE.root(size)


def test_fold_is_right_to_left() -> None:
    a, b, c = (leaf_hash(x) for x in (b"a", b"b", b"c"))
    assert proofs.fold([a]) == a
    assert proofs.fold([a, b, c]) == node_hash(a, node_hash(b, c))


# --------------------------------------------------------------------------------------------------
# Tiles: which tile holds a node


def test_tile_key_is_the_tile_covering_the_node() -> None:
    """Node (h, i) covers leaves [i << h, (i + 1) << h); tile (L, N) covers the leaves
    [N << 8(L+1), (N + 1) << 8(L+1)) at heights 8L .. 8L+7."""
    rng = random.Random(6962)
    for height in range(0, 40):
        for index in [
            0,
            1,
            2,
            127,
            128,
            255,
            256,
            257,
            *(rng.randrange(1 << 40) for _ in range(50)),
        ]:
            level, tile = tile_key(height, index)
            assert level == height // TILE_HEIGHT
            shift = TILE_HEIGHT * (level + 1)
            first_leaf, last_leaf = index << height, ((index + 1) << height) - 1
            assert tile == first_leaf >> shift == last_leaf >> shift, (height, index)


def test_tile_key_examples() -> None:
    assert tile_key(0, 0) == (0, 0)
    assert tile_key(0, 255) == (0, 0)
    assert tile_key(0, 256) == (0, 1)
    assert tile_key(7, 1) == (0, 0)  # leaves 128..255
    assert tile_key(7, 2) == (0, 1)  # leaves 256..383
    assert tile_key(8, 0) == (1, 0)
    assert tile_key(8, 255) == (1, 0)
    assert tile_key(8, 256) == (1, 1)
    assert tile_key(16, 3) == (2, 0)
    assert tile_key(16, 256) == (2, 1)
    assert tile_key(15, 1) == (1, 0)  # the top row of level-1 tile 0


# --------------------------------------------------------------------------------------------------
# Tiles: expanded tiles


def _rows_size(width: int) -> int:
    return sum(width >> r for r in range(TILE_HEIGHT))


@pytest.mark.parametrize("width", [1, 2, 3, 4, 5, 7, 8, 100, 127, 128, 129, 200, 255, 256])
@pytest.mark.parametrize("tile_index", [0, 3])
def test_expanded_level0_tile_nodes_are_reference_subtrees(width: int, tile_index: int) -> None:
    base = tile_index * TILE_WIDTH
    bottom = [TREE.leaf(base + i) for i in range(width)]
    blob = expand(bottom)
    assert len(blob) == _rows_size(width) * HASH_SIZE
    assert bottom_row(blob, width) == b"".join(bottom)
    assert split_hashes(bottom_row(blob, width)) == bottom
    for height in range(TILE_HEIGHT):
        first_node = base >> height
        for index in range(first_node, first_node + (TILE_WIDTH >> height)):
            node = node_from_tile(blob, width, height, index)
            end = (index + 1) << height
            if end <= base + width:
                assert node == TREE.mth(index << height, end), (width, height, index)
            else:
                assert node is None, (width, height, index)


def test_expanded_level1_tile_nodes() -> None:
    """Level 1: the bottom row holds roots of full level-0 tiles; heights 8..15 index the same rows."""
    tops = [leaf_hash(b"tile-%d" % i) for i in range(TILE_WIDTH)]  # stand-ins for subtree roots
    for width in (1, 6, 255, 256):
        blob = expand(tops[:width])
        for row in range(TILE_HEIGHT):
            for position in range(TILE_WIDTH >> row):
                index = 2 * (TILE_WIDTH >> row) + position  # in tile 2 of level 1
                node = node_from_tile(blob, width, TILE_HEIGHT + row, index)
                if (position + 1) << row <= width:
                    assert node == _perfect(tops[position << row : (position + 1) << row])
                else:
                    assert node is None


def _perfect(hashes: list[bytes]) -> bytes:
    """Root of a perfect subtree from its bottom hashes."""
    while len(hashes) > 1:
        hashes = [node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
    return hashes[0]


def test_tile_root_is_the_mth_of_the_tiles_leaves() -> None:
    for tile_index in range(3):
        base = tile_index * TILE_WIDTH
        blob = expand([TREE.leaf(base + i) for i in range(TILE_WIDTH)])
        assert tile_root(blob) == TREE.mth(base, base + TILE_WIDTH)


def test_partial_tile_prefix_is_stable() -> None:
    """A partial tile's nodes never change as it grows: caching partial tiles is sound."""
    bottom = [TREE.leaf(i) for i in range(TILE_WIDTH)]
    full = expand(bottom)
    for width in range(1, TILE_WIDTH + 1):
        blob = expand(bottom[:width])
        for height in range(TILE_HEIGHT):
            for index in range(TILE_WIDTH >> height):
                node = node_from_tile(blob, width, height, index)
                if node is not None:
                    assert node == node_from_tile(full, TILE_WIDTH, height, index)


@pytest.mark.parametrize("count", [0, TILE_WIDTH + 1])
def test_expand_rejects_bad_widths(count: int) -> None:
    with pytest.raises(ValueError, match=f"not {count}"):
        expand([b"\0" * HASH_SIZE] * count)


# --------------------------------------------------------------------------------------------------
# Tiles: tlog-tiles paths


@pytest.mark.parametrize(
    ("level", "index", "width", "path"),
    [
        (0, 0, TILE_WIDTH, "tile/0/000"),
        (0, 7, TILE_WIDTH, "tile/0/007"),
        (0, 999, TILE_WIDTH, "tile/0/999"),
        (0, 1000, TILE_WIDTH, "tile/0/x001/000"),
        (0, 1234067, TILE_WIDTH, "tile/0/x001/x234/067"),  # the C2SP tlog-tiles example
        (0, 1234067, 128, "tile/0/x001/x234/067.p/128"),
        (1, 5, 17, "tile/1/005.p/17"),
        (2, 0, 1, "tile/2/000.p/1"),
        (63, 1_000_000, 255, "tile/63/x001/x000/000.p/255"),
        ("entries", 3, 10, "tile/entries/003.p/10"),
        ("entries", 1234067, TILE_WIDTH, "tile/entries/x001/x234/067"),
        (0, 2**63 - 1, TILE_WIDTH, "tile/0/x009/x223/x372/x036/x854/x775/807"),
    ],
)
def test_tile_path(level: int | str, index: int, width: int, path: str) -> None:
    assert tile_path(level, index, width) == path
    if width == TILE_WIDTH:
        assert tile_path(level, index) == path


def _index_groups(path: str) -> list[str]:
    """The <N> elements of a tile path, without the level and the .p/<W> suffix."""
    groups = path.split("/")[2:]
    if len(groups) > 1 and groups[-2].endswith(".p"):
        groups = [*groups[:-2], groups[-2][: -len(".p")]]
    return groups


def test_parse_tile_index_round_trips() -> None:
    rng = random.Random(1234067)
    indices = [0, 1, 9, 10, 99, 100, 999, 1000, 1001, 999_999, 10**6, 1234067, 2**63 - 1]
    indices += [rng.randrange(10 ** rng.randrange(1, 19)) for _ in range(500)]
    for index in indices:
        for width in (TILE_WIDTH, 1, 255):
            path = tile_path(0, index, width)
            assert parse_tile_index(_index_groups(path)) == index, path


@pytest.mark.parametrize(
    "groups",
    [
        [],
        [""],
        ["1"],
        ["12"],
        ["0001"],
        ["x001"],  # the last element has no x
        ["001", "002"],  # all but the last do
        ["x001", "x002"],
        ["X001", "002"],
        ["x01", "002"],
        ["x0001", "002"],
        ["abc"],
        ["+12"],
        ["-01"],
        ["1_2"],
        [" 12"],
        ["12 "],
        ["1.5"],
        ["0x1"],
        ["x-01", "000"],
        ["x 01", "000"],
        ["²²²"],  # superscript two: str.isdigit() says yes, int() says no
    ],
    ids=repr,
)
def test_parse_tile_index_rejects_malformed_elements(groups: list[str]) -> None:
    with pytest.raises(ValueError):
        parse_tile_index(groups)


@pytest.mark.parametrize(
    "groups", [["\u0661\u0662\u0663"], ["x\u0661\u0662\u0663", "000"], ["\uff11\uff12\uff13"]]
)
def test_parse_tile_index_rejects_non_ascii_digits(groups: list[str]) -> None:
    with pytest.raises(ValueError):
        parse_tile_index(groups)


@pytest.mark.parametrize("groups", [["x000", "001"], ["x000", "x001", "000"], ["x000", "000"]])
def test_parse_tile_index_rejects_non_canonical_paths(groups: list[str]) -> None:
    with pytest.raises(ValueError):
        parse_tile_index(groups)
