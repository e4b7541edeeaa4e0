"""Drop `ix_records_manufacturer_id`: `ix_records_scope_manufacturer` (manufacturer, recorded_at,
id) starts with the same column and answers every lookup and count by manufacturer the same way
(decision 0100), while each index costs every published record one more B-tree insert.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_records_manufacturer_id", table_name="records", if_exists=True)


def downgrade() -> None:
    op.create_index(
        "ix_records_manufacturer_id", "records", ["manufacturer_id"], if_not_exists=True
    )
