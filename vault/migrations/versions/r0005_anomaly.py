"""Anomaly scores, reviews and notifications, in the record's home shard.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("record_scores", "anomaly_reviews", "anomaly_notifications")


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if set(_TABLES) <= existing:
        return  # made by create_all with the tables already
    op.create_table(
        "record_scores",
        sa.Column("record_id", sa.Text(), nullable=False),
        sa.Column("manufacturer_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=True),
        sa.Column("probability", sa.Float(), nullable=True),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("rule_flagged", sa.Boolean(), nullable=True),
        sa.Column("explanation", sa.LargeBinary(), nullable=True),
        sa.Column("unscored_reason", sa.Text(), nullable=True),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("record_id"),
    )
    op.create_index(
        "ix_record_scores_flagged", "record_scores", ["flagged", "scored_at", "record_id"]
    )
    op.create_table(
        "anomaly_reviews",
        sa.Column("record_id", sa.Text(), nullable=False),
        sa.Column("reviewer_id", sa.Text(), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("salt", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("record_id"),
        sa.UniqueConstraint("leaf_index"),
    )
    op.create_table(
        "anomaly_notifications",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("record_id", sa.Text(), nullable=False),
        sa.Column("manufacturer_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_anomaly_notifications_manufacturer",
        "anomaly_notifications",
        ["manufacturer_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_anomaly_notifications_manufacturer", table_name="anomaly_notifications")
    op.drop_table("anomaly_notifications")
    op.drop_table("anomaly_reviews")
    op.drop_index("ix_record_scores_flagged", table_name="record_scores")
    op.drop_table("record_scores")
