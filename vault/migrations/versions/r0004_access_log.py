"""The access log: who read which record, in the record's home shard.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if "access_log" in sa.inspect(op.get_bind()).get_table_names():
        return  # made by create_all with the table already
    op.create_table(
        "access_log",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("record_id", sa.Text(), nullable=False),
        sa.Column("manufacturer_id", sa.Text(), nullable=False),
        sa.Column("reader_id", sa.Text(), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("fields", sa.Text(), nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_access_log_manufacturer", "access_log", ["manufacturer_id", "read_at"])


def downgrade() -> None:
    op.drop_index("ix_access_log_manufacturer", table_name="access_log")
    op.drop_table("access_log")
