"""The test oracle: RFC 9162 Merkle Tree Hash, inclusion paths and consistency proofs, transcribed.

Everything here is written for obviousness, not speed, straight from the text of RFC 9162 (which
restates RFC 6962 section 2.1):

  2.1.1    MTH({})       = SHA-256()
           MTH({d(0)})   = SHA-256(0x00 || d(0))
           MTH(D[n])     = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])),  k the largest power of two < n
  2.1.3.1  PATH(0, {d(0)}) = {}
           PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n])        for m < k
           PATH(m, D[n]) = PATH(m - k, D[k:n]) : MTH(D[0:k])    for m >= k
  2.1.4.1  PROOF(m, D[n]) = SUBPROOF(m, D[n], true)
           SUBPROOF(m, D[m], true)  = {}
           SUBPROOF(m, D[m], false) = {MTH(D[m])}
           SUBPROOF(m, D[n], b) = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])          for m <= k
           SUBPROOF(m, D[n], b) = SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])  for m > k

It imports nothing from the code under test. `path` and `proof` take the MTH function as a parameter:
given `mth=span` and `D = range(n)` they return the leaf ranges the proof is made of instead of hashes,
which is how the proof planner (ledger/proofs.py) is checked range for range.

`ReferenceTree` is the same recursion over index ranges with MTH memoised, so that trees of tens of
thousands of leaves can be checked at every size; test_proofs.py checks it against the plain functions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
H = TypeVar("H")

# The leaves of RFC 6962's reference test (also transparency-dev/merkle testonly.LeafInputs()).
RFC6962_LEAVES: list[bytes] = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf_hash(entry: bytes) -> bytes:
    return sha256(b"\x00" + entry)


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def largest_power_of_two_below(n: int) -> int:
    """k: the largest power of two smaller than n (n > 1)."""
    assert n > 1
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: Sequence[bytes]) -> bytes:
    """RFC 9162 2.1.1, Merkle Tree Hash of the entries D[n]."""
    n = len(d)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return leaf_hash(d[0])
    k = largest_power_of_two_below(n)
    return node_hash(mth(d[0:k]), mth(d[k:n]))


def span(d: Sequence[int]) -> tuple[int, int]:
    """Stand-in for MTH over D = range(n): the half-open leaf range [start, end) it would hash."""
    assert isinstance(d, range) and d.step == 1
    return (d.start, d.stop)


def path(m: int, d: Sequence[T], mth: Callable[[Sequence[T]], H]) -> list[H]:
    """RFC 9162 2.1.3.1, PATH(m, D[n]): the inclusion proof of leaf m."""
    n = len(d)
    assert 0 <= m < n
    if n == 1:
        return []
    k = largest_power_of_two_below(n)
    if m < k:
        return [*path(m, d[0:k], mth), mth(d[k:n])]
    return [*path(m - k, d[k:n], mth), mth(d[0:k])]


def proof(m: int, d: Sequence[T], mth: Callable[[Sequence[T]], H]) -> list[H]:
    """RFC 9162 2.1.4.1, PROOF(m, D[n]) = SUBPROOF(m, D[n], true), for 0 < m <= n."""
    assert 0 < m <= len(d)
    return subproof(m, d, True, mth)


def subproof(m: int, d: Sequence[T], b: bool, mth: Callable[[Sequence[T]], H]) -> list[H]:
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = largest_power_of_two_below(n)
    if m <= k:
        return [*subproof(m, d[0:k], b, mth), mth(d[k:n])]
    return [*subproof(m - k, d[k:n], False, mth), mth(d[0:k])]


class ReferenceTree:
    """The recursions above over index ranges of a growing list of entries, MTH memoised."""

    def __init__(self, entries: Sequence[bytes] = ()) -> None:
        self.entries: list[bytes] = []
        self._memo: dict[tuple[int, int], bytes] = {}
        self.extend(entries)

    def __len__(self) -> int:
        return len(self.entries)

    def extend(self, entries: Sequence[bytes]) -> None:
        # Memoised ranges only ever cover existing entries, which never change: nothing to forget.
        self.entries.extend(entries)

    def mth(self, start: int, end: int) -> bytes:
        """MTH(D[start:end])."""
        assert 0 <= start <= end <= len(self.entries)
        key = (start, end)
        found = self._memo.get(key)
        if found is None:
            n = end - start
            if n == 0:
                found = sha256(b"")
            elif n == 1:
                found = leaf_hash(self.entries[start])
            else:
                k = largest_power_of_two_below(n)
                found = node_hash(self.mth(start, start + k), self.mth(start + k, end))
            self._memo[key] = found
        return found

    def _mth_of(self, d: Sequence[int]) -> bytes:
        start, end = span(d)
        return self.mth(start, end)

    def root(self, size: int) -> bytes:
        return self.mth(0, size)

    def leaf(self, index: int) -> bytes:
        return self.mth(index, index + 1)

    def path(self, index: int, size: int) -> list[bytes]:
        assert size <= len(self.entries)
        return path(index, range(size), self._mth_of)

    def proof(self, old: int, new: int) -> list[bytes]:
        assert new <= len(self.entries)
        return proof(old, range(new), self._mth_of)
