"""Record lifecycle, bitemporal columns, grants and access requests, query-pushdown indexes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

Columns are only added (nullable) and tables only created, so existing shards upgrade in place; a
record published before this revision keeps NULL product line and version (read as version 1).
Each step is skipped when already there: a shard made by `create_all` is stamped at the baseline
(cbamhub.vault.migrate) yet already holds whatever the code's metadata had then.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RECORD_COLUMNS = (
    ("product_line_id", sa.Text()),
    ("version", sa.Integer()),
    ("supersedes", sa.Text()),
    ("quality_tier", sa.Text()),
    ("valid_from", sa.DateTime(timezone=True)),
    ("valid_until", sa.DateTime(timezone=True)),
)
_RECORD_INDEXES = {
    "ix_records_scope_line": ["product_line_id", "cn_code", "recorded_at", "id"],
    "ix_records_scope_installation": ["installation_id", "cn_code", "recorded_at", "id"],
    "ix_records_scope_manufacturer": ["manufacturer_id", "recorded_at", "id"],
    "ix_records_recorded": ["recorded_at", "id"],
}
_NEW_TABLES = ("record_events", "grants", "grant_revocations", "access_requests", "access_answers")


def _signed() -> list[sa.schema.SchemaItem]:
    return [
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("salt", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("leaf_index"),
    ]


def _terms() -> list[sa.schema.SchemaItem]:
    """What a grant or an access request covers."""
    return [
        sa.Column("importer_id", sa.Text(), nullable=False),
        sa.Column("manufacturer_id", sa.Text(), nullable=False),
        sa.Column("product_line_id", sa.Text(), nullable=False),
        sa.Column("installation_id", sa.Text(), nullable=False),
        sa.Column("cn_codes", sa.Text(), nullable=True),
        sa.Column("fields", sa.Text(), nullable=True),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    present = {c["name"] for c in inspector.get_columns("records")}
    missing = [(name, kind) for name, kind in _RECORD_COLUMNS if name not in present]
    if missing:
        with op.batch_alter_table("records") as batch:
            for name, kind in missing:
                batch.add_column(sa.Column(name, kind, nullable=True))
            if "supersedes" in dict(missing):
                batch.create_unique_constraint("uq_records_supersedes", ["supersedes"])
    indexed = {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("records")}
    for name, columns in _RECORD_INDEXES.items():
        if name not in indexed:
            op.create_index(name, "records", columns)
    if "record_events" in inspector.get_table_names():
        return  # made by create_all with these tables already
    op.create_table(
        "record_events",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("record_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("verifier_id", sa.Text(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("request_digest", sa.LargeBinary(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        *_signed(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_digest"),
    )
    op.create_index(
        "ix_record_events_record", "record_events", ["record_id", "kind", "recorded_at"]
    )
    op.create_index("ix_record_events_verifier", "record_events", ["verifier_id", "kind"])
    op.create_table(
        "grants",
        sa.Column("id", sa.Text(), nullable=False),
        *_terms(),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("request_digest", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        *_signed(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_digest"),
    )
    op.create_index("ix_grants_importer", "grants", ["importer_id", "created_at"])
    op.create_index("ix_grants_manufacturer", "grants", ["manufacturer_id", "created_at"])
    op.create_table(
        "grant_revocations",
        sa.Column("grant_id", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
        *_signed(),
        sa.PrimaryKeyConstraint("grant_id"),
    )
    op.create_table(
        "access_requests",
        sa.Column("id", sa.Text(), nullable=False),
        *_terms(),
        sa.Column("request_digest", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        *_signed(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_digest"),
    )
    op.create_index(
        "ix_access_requests_manufacturer", "access_requests", ["manufacturer_id", "created_at"]
    )
    op.create_table(
        "access_answers",
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("grant_id", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        *_signed(),
        sa.PrimaryKeyConstraint("request_id"),
    )


def downgrade() -> None:
    for table in reversed(_NEW_TABLES):
        op.drop_table(table)
    for name in _RECORD_INDEXES:
        op.drop_index(name, table_name="records")
    with op.batch_alter_table("records") as batch:
        batch.drop_constraint("uq_records_supersedes", type_="unique")
        for name, _ in reversed(_RECORD_COLUMNS):
            batch.drop_column(name)
