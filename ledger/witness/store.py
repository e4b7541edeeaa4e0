"""The witness's persistent memory: the latest checkpoint per log, and every refusal with its evidence.

A witness is only as good as its memory: forgetting the latest size would let a log roll back or fork
unnoticed. Advancing is a compare-and-swap on (origin, size, root), so two concurrent submissions, even
through two witness processes on one database, can never move a log backwards (the race spelled out
in c2sp.org/tlog-witness). Works on sqlite+aiosqlite and postgresql+asyncpg; tables are created by
the witness itself and prefixed `witness_` so they can share a database with other services.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    and_,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

metadata = MetaData()

log_state = Table(
    "witness_log_state",
    metadata,
    Column("origin", String(1024), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
)

refusals = Table(
    "witness_refusals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("origin", String(1024), nullable=False, index=True),
    Column("reason", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("detail", Text, nullable=False),
    Column("old_size", BigInteger, nullable=False),
    Column("new_size", BigInteger, nullable=False),
    Column("new_root", LargeBinary(32), nullable=False),
    Column("latest_size", BigInteger, nullable=True),
    Column("latest_root", LargeBinary(32), nullable=True),
    Column("note", Text, nullable=False),
    Column("latest_note", Text, nullable=True),
    Column("created_at", Float, nullable=False),
)


@dataclass(frozen=True)
class LogState:
    """The latest checkpoint the witness cosigned for one log."""

    origin: str
    size: int
    root: bytes
    note: str


@dataclass(frozen=True)
class Refusal:
    """A signed checkpoint the witness refused, kept as evidence of log misbehaviour (or a stale client)."""

    id: int
    origin: str
    reason: str
    status: int
    detail: str
    old_size: int
    new_size: int
    new_root: bytes
    latest_size: int | None
    latest_root: bytes | None
    note: str
    latest_note: str | None
    created_at: float

    def to_json(self) -> dict[str, Any]:
        def b64(value: bytes | None) -> str | None:
            return None if value is None else base64.b64encode(value).decode()

        return {
            "id": self.id,
            "origin": self.origin,
            "reason": self.reason,
            "status": self.status,
            "detail": self.detail,
            "old_size": self.old_size,
            "new_size": self.new_size,
            "new_root": b64(self.new_root),
            "latest_size": self.latest_size,
            "latest_root": b64(self.latest_root),
            "note": self.note,
            "latest_note": self.latest_note,
            "time": datetime.fromtimestamp(self.created_at, UTC).isoformat(),
            "unix_time": self.created_at,
        }


class WitnessStore:
    """Async access to the witness tables through one SQLAlchemy engine."""

    def __init__(self, database_url: str) -> None:
        self.engine: AsyncEngine = create_async_engine(database_url)

    async def create_tables(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)

    async def close(self) -> None:
        await self.engine.dispose()

    async def latest(self, origin: str) -> LogState | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(log_state).where(log_state.c.origin == origin))
            ).first()
        if row is None:
            return None
        return LogState(row.origin, int(row.size), bytes(row.root), row.note)

    async def advance(self, previous: LogState | None, new: LogState) -> bool:
        """Atomically replace `previous` by `new`; False if someone else changed the state first."""
        values = {"size": new.size, "root": new.root, "note": new.note, "updated_at": time.time()}
        try:
            async with self.engine.begin() as conn:
                if previous is None:
                    await conn.execute(insert(log_state).values(origin=new.origin, **values))
                    return True
                result = await conn.execute(
                    update(log_state)
                    .where(
                        and_(
                            log_state.c.origin == previous.origin,
                            log_state.c.size == previous.size,
                            log_state.c.root == previous.root,
                        )
                    )
                    .values(**values)
                )
                return result.rowcount == 1
        except IntegrityError:
            return False  # another submission created the row first

    async def record_refusal(
        self,
        *,
        origin: str,
        reason: str,
        status: int,
        detail: str,
        old_size: int,
        new_size: int,
        new_root: bytes,
        note: str,
        latest: LogState | None,
    ) -> Refusal:
        values: dict[str, Any] = {
            "origin": origin,
            "reason": reason,
            "status": status,
            "detail": detail,
            "old_size": old_size,
            "new_size": new_size,
            "new_root": new_root,
            "latest_size": None if latest is None else latest.size,
            "latest_root": None if latest is None else latest.root,
            "note": note,
            "latest_note": None if latest is None else latest.note,
            "created_at": time.time(),
        }
        async with self.engine.begin() as conn:
            result = await conn.execute(insert(refusals).values(**values).returning(refusals.c.id))
            refusal_id = int(result.scalar_one())
        return Refusal(id=refusal_id, **values)

    async def refusals(self, origin: str | None = None, limit: int = 100) -> list[Refusal]:
        """Most recent first."""
        query = select(refusals).order_by(refusals.c.id.desc()).limit(limit)
        if origin is not None:
            query = query.where(refusals.c.origin == origin)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            Refusal(
                id=int(r.id),
                origin=r.origin,
                reason=r.reason,
                status=int(r.status),
                detail=r.detail,
                old_size=int(r.old_size),
                new_size=int(r.new_size),
                new_root=bytes(r.new_root),
                latest_size=None if r.latest_size is None else int(r.latest_size),
                latest_root=None if r.latest_root is None else bytes(r.latest_root),
                note=r.note,
                latest_note=r.latest_note,
                created_at=float(r.created_at),
            )
            for r in rows
        ]
