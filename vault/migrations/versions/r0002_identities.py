"""Identities: EORI numbers, key validity periods, installations and product lines.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

Columns are only added (nullable) and tables only created, so existing shards upgrade in place. Each
step is skipped when its column or table is already there: a shard made by `create_all` is stamped at
the baseline (cbamhub.vault.migrate) yet already holds whatever the code's metadata had then.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _columns(table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def upgrade() -> None:
    if "eori" not in _columns("organisations"):
        with op.batch_alter_table("organisations") as batch:
            batch.add_column(sa.Column("eori", sa.Text(), nullable=True))
    missing = {"valid_until", "added_by"} - _columns("organisation_keys")
    if missing:
        with op.batch_alter_table("organisation_keys") as batch:
            if "valid_until" in missing:
                batch.add_column(sa.Column("valid_until", sa.DateTime(timezone=True)))
            if "added_by" in missing:
                batch.add_column(sa.Column("added_by", sa.Text(), nullable=True))
    if "installations" in sa.inspect(op.get_bind()).get_table_names():
        return  # made by create_all with these tables already
    op.create_table(
        "installations",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("organisation_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("country", sa.Text(), nullable=False),
        sa.Column("un_locode", sa.Text(), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("production_routes", sa.Text(), nullable=False),
        sa.Column("request_digest", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_digest"),
    )
    op.create_index("ix_installations_organisation_id", "installations", ["organisation_id"])
    op.create_table(
        "product_lines",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("installation_id", sa.Text(), nullable=False),
        sa.Column("organisation_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("cn_codes", sa.Text(), nullable=False),
        sa.Column("request_digest", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_digest"),
    )
    op.create_index("ix_product_lines_installation_id", "product_lines", ["installation_id"])


def downgrade() -> None:
    op.drop_index("ix_product_lines_installation_id", table_name="product_lines")
    op.drop_table("product_lines")
    op.drop_index("ix_installations_organisation_id", table_name="installations")
    op.drop_table("installations")
    with op.batch_alter_table("organisation_keys") as batch:
        batch.drop_column("added_by")
        batch.drop_column("valid_until")
    with op.batch_alter_table("organisations") as batch:
        batch.drop_column("eori")
