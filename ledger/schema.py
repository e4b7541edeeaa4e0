"""The log's tables. One log per database: each region's shard carries its own log beside its data,
so that a record and the ledger entry that anchors it commit in one transaction."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
)

metadata = MetaData()

head = Table(
    "ledger_head",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("origin", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("root", LargeBinary, nullable=False),
)
"""The single row every writer locks: the committed tree size and root."""

tiles = Table(
    "ledger_tiles",
    metadata,
    Column("level", SmallInteger, nullable=False),
    Column("idx", BigInteger, nullable=False),
    Column("width", SmallInteger, nullable=False),
    Column("hashes", LargeBinary, nullable=False),
    PrimaryKeyConstraint("level", "idx"),
)
"""Expanded hash tiles (see tiles.py); a full tile (width 256) never changes again."""

entry_bundles = Table(
    "ledger_entry_bundles",
    metadata,
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("count", SmallInteger, nullable=False),
    Column("data", LargeBinary, nullable=False),
)
"""Entries in tlog-tiles bundles of 256: each entry a big-endian uint16 length and its bytes."""

checkpoints = Table(
    "ledger_checkpoints",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary, nullable=False),
    Column("note", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
"""Every checkpoint the log signed, one per committed batch: the log never signs two per size."""

final_checkpoints = Table(
    "ledger_final_checkpoints",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("note", Text, nullable=False),
    Column("signers", Text, nullable=False),
    Column("aggregate", LargeBinary, nullable=False),
    Column("finalised_at", DateTime(timezone=True), nullable=False),
)
"""Checkpoints cosigned by the threshold of witnesses: the note with its cosignature lines, the
witnesses who signed (comma-separated) and their aggregate BLS signature."""
