"""Payload encryption at rest: round trips, typed failures, row binding, key files, rotation, and a real
SQLite file that holds no plaintext figure."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cbamhub.ledger.storage import create_engine
from cbamhub.vault.crypto import (
    OVERHEAD,
    InvalidKeyFile,
    PayloadTampered,
    ShardCipher,
    ShardCryptoError,
    ShardKey,
    ShardKeyring,
    WrongKey,
    associated_data,
    generate_shard_key,
    key_id_of,
    load_shard_key,
)
from sqlalchemy import Column, LargeBinary, MetaData, Table, Text, insert, select

PAYLOAD = json.dumps(
    {"installationId": "inst_tr_7", "directEmissions": {"value": 48173.2917, "unit": "t"}}
).encode()
ROW = associated_data("eu", "rec_eu_0001")


def test_round_trip_and_layout() -> None:
    cipher = ShardCipher(ShardKey.generate())
    blob = cipher.encrypt(PAYLOAD, ROW)
    assert len(blob) == len(PAYLOAD) + OVERHEAD
    assert b"48173.2917" not in blob
    assert cipher.decrypt(blob, ROW) == PAYLOAD
    assert cipher.encrypt(PAYLOAD, ROW) != blob  # fresh nonce every time
    assert cipher.decrypt(cipher.encrypt(b"", ROW), ROW) == b""
    assert key_id_of(blob) == cipher.key_id


def test_tampering_is_detected_anywhere_in_the_blob() -> None:
    cipher = ShardCipher(ShardKey.generate())
    blob = cipher.encrypt(PAYLOAD, ROW)
    for position in range(len(blob)):
        altered = bytearray(blob)
        altered[position] ^= 0x01
        # a flipped key-id byte names a key we lack; everything else fails authentication
        with pytest.raises(WrongKey if 1 <= position < 5 else PayloadTampered):
            cipher.decrypt(bytes(altered), ROW)
    for truncated in (blob[:-1], blob[: OVERHEAD - 1], b""):
        with pytest.raises(PayloadTampered):
            cipher.decrypt(truncated, ROW)


def test_wrong_key_is_told_apart_from_tampering() -> None:
    eu, cn = ShardCipher(ShardKey.generate()), ShardCipher(ShardKey.generate())
    with pytest.raises(WrongKey):
        cn.decrypt(eu.encrypt(PAYLOAD, ROW), ROW)
    assert issubclass(WrongKey, ShardCryptoError) and issubclass(PayloadTampered, ShardCryptoError)


def test_a_payload_moved_to_another_row_or_region_fails() -> None:
    cipher = ShardCipher(ShardKey.generate())
    first = cipher.encrypt(b'{"directEmissions": 1}', associated_data("eu", "rec_eu_1"))
    second = cipher.encrypt(b'{"directEmissions": 2}', associated_data("eu", "rec_eu_2"))
    with pytest.raises(PayloadTampered):  # the two rows' payloads swapped
        cipher.decrypt(second, associated_data("eu", "rec_eu_1"))
    with pytest.raises(PayloadTampered):
        cipher.decrypt(first, associated_data("eu", "rec_eu_2"))
    with pytest.raises(PayloadTampered):  # same id, another region
        cipher.decrypt(first, associated_data("cn", "rec_eu_1"))
    assert associated_data("eu", "rec_1") != associated_data("eur", "ec_1")


def test_rotation_keeps_old_rows_readable() -> None:
    old_key, new_key = ShardKey.generate(), ShardKey.generate()
    before = ShardKeyring(old_key)
    old_blob = before.encrypt(PAYLOAD, ROW)

    after = before.rotated(new_key)
    assert after.key_ids == [new_key.key_id, old_key.key_id]
    new_blob = after.encrypt(PAYLOAD, ROW)
    assert key_id_of(new_blob) == new_key.key_id != key_id_of(old_blob)
    assert after.decrypt(old_blob, ROW) == PAYLOAD
    assert after.decrypt(new_blob, ROW) == PAYLOAD
    with pytest.raises(WrongKey):  # the old keyring never saw the new key
        before.decrypt(new_blob, ROW)
    with pytest.raises(WrongKey):  # a keyring that dropped the retired key
        ShardKeyring(new_key).decrypt(old_blob, ROW)
    with pytest.raises(PayloadTampered):
        after.decrypt(old_blob, associated_data("eu", "rec_eu_0002"))


def test_key_files(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "eu.payload.key"
    key = generate_shard_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_shard_key(path) == key
    assert ShardKey.from_text(path.read_text()).key_id == key.key_id
    assert key.to_text() not in repr(key)
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        generate_shard_key(path)
    assert load_shard_key(path) == key  # untouched

    retired = tmp_path / "keys" / "eu.payload.key.1"
    old = generate_shard_key(retired)
    ring = ShardKeyring.from_files(path, [retired])
    assert ring.key_ids == [key.key_id, old.key_id]

    for bad in ("not base64!", "c2hvcnQ="):
        (tmp_path / "bad.key").write_text(bad)
        with pytest.raises(InvalidKeyFile):
            load_shard_key(tmp_path / "bad.key")


async def test_encrypted_sqlite_file_holds_no_plaintext_figures(tmp_path: Path) -> None:
    figure = b"48173.2917"
    metadata = MetaData()
    rows = Table(
        "payloads",
        metadata,
        Column("id", Text, primary_key=True),
        Column("payload", LargeBinary, nullable=False),
    )
    cipher = ShardCipher(ShardKey.generate())

    async def store(path: Path, encrypt: bool) -> bytes:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        try:
            async with engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
                for i in range(20):
                    record_id = f"rec_eu_{i:04d}"
                    row = associated_data("eu", record_id)
                    payload = cipher.encrypt(PAYLOAD, row) if encrypt else PAYLOAD
                    await conn.execute(insert(rows).values(id=record_id, payload=payload))
            async with engine.connect() as conn:
                stored = (await conn.execute(select(rows.c.payload).limit(1))).scalar_one()
        finally:
            await engine.dispose()
        return bytes(stored)

    def raw_bytes(path: Path) -> bytes:
        # the database and any WAL or journal left beside it
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))

    control = tmp_path / "plain" / "shard.db"
    control.parent.mkdir()
    await store(control, encrypt=False)
    assert figure in raw_bytes(control)  # the grep below would find a plaintext figure

    sealed = tmp_path / "sealed" / "shard.db"
    sealed.parent.mkdir()
    blob = await store(sealed, encrypt=True)
    raw = raw_bytes(sealed)
    assert figure not in raw and b"directEmissions" not in raw
    assert b"rec_eu_0000" in raw  # the ids stay in the clear for routing and joins
    assert cipher.decrypt(blob, associated_data("eu", "rec_eu_0000")) == PAYLOAD
