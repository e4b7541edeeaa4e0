"""Copies across batches: a keyed digest of each scored record's rounded figures, indexed.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("record_scores")}
    if "figures_digest" not in columns:
        # nullable, no default: rows scored before this revision simply have no digest (they are
        # not found as copies), which needs no table rebuild on SQLite
        op.add_column("record_scores", sa.Column("figures_digest", sa.LargeBinary(), nullable=True))
    indexes = {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("record_scores")}
    if "ix_record_scores_figures" not in indexes:
        op.create_index("ix_record_scores_figures", "record_scores", ["figures_digest"])


def downgrade() -> None:
    op.drop_index("ix_record_scores_figures", table_name="record_scores")
    with op.batch_alter_table("record_scores") as batch:  # SQLite drops columns by rebuilding
        batch.drop_column("figures_digest")
