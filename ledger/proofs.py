"""Which subtree hashes an RFC 9162 proof is made of.

Proof generation is split in two so that storage is read once per proof: first plan the ranges of
leaves whose hashes the proof lists (pure arithmetic, here), then fetch the perfect subtrees that make up
those ranges in one query and fold them (log.py). Ranges always start at a multiple of the largest power
of two that fits them, so each decomposes into at most log2(n) stored nodes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .verify import node_hash

Range = tuple[int, int]
"""Half-open range [start, end) of leaf indices."""
Node = tuple[int, int]
"""(height, index) of a perfect subtree: leaves [index << height, (index + 1) << height)."""


def _split(size: int) -> int:
    """Largest power of two strictly below `size` (RFC 9162's k), for size >= 2."""
    return 1 << ((size - 1).bit_length() - 1)


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The ranges whose hashes form PATH(index, D[0:size]), in proof order (leaf upwards)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    ranges: list[Range] = []
    start, end, m = 0, size, index
    while end - start > 1:
        k = _split(end - start)
        if m < k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            m -= k
            start += k
    ranges.reverse()
    return ranges


def consistency_ranges(old_size: int, new_size: int) -> list[Range]:
    """The ranges whose hashes form PROOF(old_size, D[0:new_size]) (RFC 9162 2.1.4.1)."""
    if not 0 < old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    ranges: list[Range] = []
    start, end, m, complete = 0, new_size, old_size, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            m -= k
            start += k
            complete = False
    if not complete:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def perfect_nodes(start: int, end: int) -> list[Node]:
    """Decompose [start, end) into stored perfect subtrees, left to right."""
    nodes: list[Node] = []
    while start < end:
        height = (end - start).bit_length() - 1
        while start & ((1 << height) - 1):
            height -= 1
        nodes.append((height, start >> height))
        start += 1 << height
    return nodes


def root_nodes(size: int) -> list[Node]:
    """The perfect subtrees whose fold is the root of a tree of `size` leaves."""
    return perfect_nodes(0, size)


def fold(hashes: list[bytes]) -> bytes:
    """Hash of a range from its perfect subtrees (left to right), folding from the right."""
    result = hashes[-1]
    for h in reversed(hashes[:-1]):
        result = node_hash(h, result)
    return result


def range_hashes(ranges: Iterable[Range], lookup: Callable[[Node], bytes]) -> list[bytes]:
    """The hash of each range, given a lookup of stored perfect subtrees."""
    return [fold([lookup(n) for n in perfect_nodes(a, b)]) for a, b in ranges]
