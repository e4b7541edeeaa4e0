"""Entry bundles of the tlog-tiles layout: up to 256 entries, each a big-endian uint16 length + bytes."""

from __future__ import annotations

from collections.abc import Sequence

MAX_ENTRY_SIZE = 0xFFFF


def encode(entries: Sequence[bytes]) -> bytes:
    parts = []
    for position, entry in enumerate(entries):
        if len(entry) > MAX_ENTRY_SIZE:
            raise ValueError(
                f"entry {position} is {len(entry)} bytes; a log entry holds at most {MAX_ENTRY_SIZE}"
            )
        parts.append(len(entry).to_bytes(2, "big"))
        parts.append(entry)
    return b"".join(parts)


def decode(data: bytes) -> list[bytes]:
    """Split a bundle into its entries; raises ValueError on a truncated or padded bundle."""
    entries: list[bytes] = []
    offset = 0
    while offset < len(data):
        if offset + 2 > len(data):
            raise ValueError(f"entry bundle truncated at byte {offset}")
        length = int.from_bytes(data[offset : offset + 2], "big")
        offset += 2
        if offset + length > len(data):
            raise ValueError(f"entry bundle truncated inside entry {len(entries)}")
        entries.append(data[offset : offset + length])
        offset += length
    return entries
