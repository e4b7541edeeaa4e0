"""History index: an installation's latest earlier report of a CN code in one index seek.

Anomaly scoring at ingest reads, per installation and CN code, the record of the latest earlier
period (vault/anomaly_ingest.py); without this index every record of the pair was read (and ranked)
to find it, so one publish cost more as its installation's history grew.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {"ix_records_history": ["installation_id", "cn_code", "valid_from", "version"]}


def upgrade() -> None:
    for name, columns in INDEXES.items():  # IF NOT EXISTS: no reflection (slow on PostgreSQL)
        op.create_index(name, "records", columns, if_not_exists=True)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="records")
