"""Standalone RFC 9162 proof verification.

This module is deliberately self-contained: it imports nothing but the standard library, so an auditor,
a customs system or a regulator can copy this one file and check the hub's proofs without trusting (or
installing) the rest of the hub. The algorithms follow RFC 9162 section 2.1 to the letter; the stricter
edge-case rules (an empty tree proves nothing, hashes must be 32 bytes) follow the published
transparency-dev/merkle test vectors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


class VerificationError(ValueError):
    """A proof, hash or checkpoint did not check out; the message says what."""


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 2.1.1: MTH({d(0)}) = SHA-256(0x00 || d(0))."""
    return hashlib.sha256(LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 2.1.1: interior node = SHA-256(0x01 || left || right)."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


EMPTY_ROOT = hashlib.sha256(b"").digest()
"""RFC 9162 2.1.1: the hash of an empty tree is the hash of the empty string."""


def _check_hash(name: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise VerificationError(f"{name} is {len(value)} bytes long, a SHA-256 hash is {HASH_SIZE}")


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """Recompute the root a leaf's inclusion proof implies (RFC 9162 2.1.3.2, steps 1-5)."""
    if size <= 0:
        raise VerificationError(f"tree size {size} holds no leaves")
    if not 0 <= index < size:
        raise VerificationError(f"leaf index {index} is outside a tree of size {size}")
    _check_hash("leaf hash", leaf)
    fn, sn = index, size - 1
    r = leaf
    for position, p in enumerate(proof):
        _check_hash(f"proof element {position}", p)
        if sn == 0:
            raise VerificationError(
                f"inclusion proof has {len(proof) - position} element(s) too many for index {index} "
                f"in a tree of size {size}"
            )
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError(
            f"inclusion proof is too short for index {index} in a tree of size {size}"
        )
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise VerificationError unless `leaf` is at `index` in the tree of `size` leaves with `root`."""
    _check_hash("root hash", root)
    computed = root_from_inclusion_proof(index, size, leaf, proof)
    if computed != root:
        raise VerificationError(
            f"inclusion proof for leaf {index} does not lead to the root of tree size {size}: "
            f"computed {computed.hex()}, expected {root.hex()}"
        )


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> None:
    """Raise VerificationError unless the tree (size2, root2) extends the tree (size1, root1).

    RFC 9162 2.1.4.2. A consistency proof from the empty tree proves nothing and is rejected, as is a
    non-empty proof between equal sizes.
    """
    if size1 < 0 or size2 < 0:
        raise VerificationError("tree sizes cannot be negative")
    if size1 > size2:
        raise VerificationError(
            f"old size {size1} is larger than new size {size2}: a log never shrinks"
        )
    if size1 == 0:
        raise VerificationError("a consistency proof from an empty tree proves nothing")
    if size1 == size2:
        if proof:
            raise VerificationError(f"sizes are equal ({size1}) but the proof is not empty")
        if root1 != root2:
            raise VerificationError(
                f"two different roots for the same tree size {size1}: {root1.hex()} and {root2.hex()} "
                "(a split view)"
            )
        return
    _check_hash("old root hash", root1)
    _check_hash("new root hash", root2)
    if not proof:
        raise VerificationError(f"empty consistency proof between sizes {size1} and {size2}")
    for position, c in enumerate(proof):
        _check_hash(f"proof element {position}", c)

    path = list(proof)
    if size1 & (size1 - 1) == 0:  # step 2: size1 is an exact power of two
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerificationError(
                f"consistency proof between sizes {size1} and {size2} has too many elements"
            )
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError(f"consistency proof between sizes {size1} and {size2} is too short")
    if fr != root1:
        raise VerificationError(
            f"consistency proof does not reproduce the old root of size {size1}: the log rewrote history"
        )
    if sr != root2:
        raise VerificationError(
            f"consistency proof does not reproduce the new root of size {size2}"
        )
