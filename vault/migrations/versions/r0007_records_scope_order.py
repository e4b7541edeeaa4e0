"""Ordered scope indexes: a page of one product line's (or installation's) records without sorting
the whole line.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_records_line_time": ["product_line_id", "recorded_at", "id"],
    "ix_records_installation_time": ["installation_id", "recorded_at", "id"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():  # IF NOT EXISTS: no reflection (slow on PostgreSQL)
        op.create_index(name, "records", columns, if_not_exists=True)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="records")
