"""The Alembic environment of a region's shard: one migration history for the vault's tables and the
log's tables beside them, applied to each shard on its own (see cbamhub.vault.migrate)."""
