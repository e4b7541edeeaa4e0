"""Alembic's environment script, run by `cbamhub.vault.migrate` with an open connection.

The hub's engines are async (aiosqlite, asyncpg), so migrate.py opens the transaction itself and hands
the sync face of the connection in through `config.attributes["connection"]` (`run_sync`); there is no
alembic.ini and no offline (SQL script) mode.
"""

from __future__ import annotations

from alembic import context
from cbamhub.vault.migrate import target_metadata
from sqlalchemy.engine import Connection

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError(
        "the shard migrations run through cbamhub.vault.migrate (`cbamhub db upgrade`), "
        "which passes an open connection; they have no offline mode"
    )

context.configure(
    connection=connection,
    target_metadata=target_metadata(),
    # SQLite alters tables by copying them: autogenerate emits batch operations for it.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    compare_server_default=True,
)
with context.begin_transaction():
    context.run_migrations()
