"""Batched reads for serving many records at once: entries at scattered indices and several
inclusion proofs in one go must equal the one-at-a-time answers, and be verifiable."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cbamhub.ledger.log import LogError, TransparencyLog
from cbamhub.ledger.note import Ed25519Signer
from cbamhub.ledger.storage import create_engine, create_tables
from cbamhub.ledger.tiles import TILE_WIDTH
from cbamhub.ledger.verify import leaf_hash, verify_inclusion


@pytest.fixture
async def log(tmp_path: Path) -> AsyncIterator[TransparencyLog]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'log.db'}")
    await create_tables(engine)
    opened = await TransparencyLog.open(
        engine, "test.example/log", Ed25519Signer.generate("test.example/log")
    )
    for start in range(0, 600, 150):  # crosses two bundle boundaries
        await opened.append([f"entry {i}".encode() for i in range(start, start + 150)])
    try:
        yield opened
    finally:
        await opened.close()
        await engine.dispose()


async def test_entries_at_scattered_indices_equal_the_range_reads(log: TransparencyLog) -> None:
    indices = [599, 0, TILE_WIDTH - 1, TILE_WIDTH, 2 * TILE_WIDTH + 3, 17, 17]
    found = await log.entries_at(indices)
    for index in indices:
        assert found[index] == (await log.entries(index, index + 1))[0] == f"entry {index}".encode()
    with pytest.raises(LogError):
        await log.entries_at([600])


async def test_batched_inclusion_proofs_equal_single_ones_and_verify(log: TransparencyLog) -> None:
    size = 600
    root = await log.root_at(size)
    indices = [0, 5, TILE_WIDTH, 599, 300]
    batched = await log.inclusion_proofs(indices, size)
    for index, proof in zip(indices, batched, strict=True):
        assert proof == await log.inclusion_proof(index, size)
        verify_inclusion(index, size, leaf_hash(f"entry {index}".encode()), proof, root)
