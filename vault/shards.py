"""The shard router: the one way callers reach a region's database and its log.

Each region has its own database (one SQLite file per region embedded, one PostgreSQL per region in
production) carrying that region's records and its transparency log. Callers ask the router for a
shard by region or by country and never hold engines themselves, so that a region can later be served
by a node inside that region without any caller changing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cbamhub.ledger.log import TransparencyLog
from cbamhub.ledger.note import Ed25519Signer
from cbamhub.ledger.storage import create_engine, create_tables
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from cbamhub.settings import Settings

from . import schema
from .errors import UnknownRegion


@dataclass(frozen=True)
class Shard:
    region: str
    engine: AsyncEngine
    log: TransparencyLog


def load_log_signer(settings: Settings, region: str) -> Ed25519Signer:
    """The region log's signing key from `<key_dir>/<region>.skey`, created only when allowed."""
    origin = settings.log_origin(region)
    path = settings.key_dir() / f"{region}.skey"
    if path.exists():
        signer = Ed25519Signer.from_skey(path.read_text().strip())
        if signer.name != origin:
            raise ValueError(f"{path} holds the key of {signer.name!r}, not of the log {origin!r}")
        return signer
    if not settings.create_missing_keys:
        raise FileNotFoundError(
            f"no signing key for the {region!r} log at {path}; create one with "
            "`cbamhub keys init` or set CBAMHUB_CREATE_MISSING_KEYS=true"
        )
    signer = Ed25519Signer.generate(origin)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(signer.skey() + "\n")
    return signer


def _prepare_sqlite_dir(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


class ShardRouter:
    def __init__(self, settings: Settings, shards: Mapping[str, Shard]) -> None:
        self.settings = settings
        self._shards = dict(shards)

    @classmethod
    async def open(cls, settings: Settings) -> ShardRouter:
        shards: dict[str, Shard] = {}
        try:
            for region, url in settings.region_urls().items():
                _prepare_sqlite_dir(url)
                engine = create_engine(url)
                async with engine.begin() as conn:
                    await conn.run_sync(schema.metadata.create_all)
                await create_tables(engine)
                log = await TransparencyLog.open(
                    engine, settings.log_origin(region), load_log_signer(settings, region)
                )
                shards[region] = Shard(region, engine, log)
        except BaseException:
            await cls(settings, shards).close()
            raise
        return cls(settings, shards)

    @property
    def regions(self) -> list[str]:
        return list(self._shards)

    def shard(self, region: str) -> Shard:
        try:
            return self._shards[region]
        except KeyError:
            raise UnknownRegion(f"no shard for region {region!r}") from None

    def for_country(self, country: str) -> Shard:
        return self.shard(self.settings.region_for_country(country))

    async def close(self) -> None:
        for shard in self._shards.values():
            await shard.log.close()
            await shard.engine.dispose()
