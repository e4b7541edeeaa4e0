"""The shard router: the one way callers reach a region's database and its log.

Each region has its own database (one SQLite file per region embedded, one PostgreSQL per region in
production) carrying that region's records and its transparency log. Callers ask the router for a
shard by region or by country and never hold engines themselves, so that a region can later be served
by a node inside that region without any caller changing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cbamhub.ledger.log import TransparencyLog
from cbamhub.ledger.note import Ed25519Signer
from cbamhub.ledger.storage import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from cbamhub.settings import Settings

from .crypto import (
    ShardKey,
    ShardKeyring,
    associated_data,
    generate_shard_key,
    load_shard_key,
    replay_digest,
    seal_for_row,
)
from .driver_sql import DriverSql
from .errors import UnknownRegion
from .ingest_pool import IngestPool, RegionKeys
from .migrate import upgrade_shard

if TYPE_CHECKING:
    from .anomaly_ingest import AnomalyIngest


@dataclass(frozen=True)
class Shard:
    region: str
    engine: AsyncEngine
    log: TransparencyLog
    keyring: ShardKeyring
    """Seals payloads at rest (decision 0031): a stolen database file leaks no figures."""
    index_key: bytes = field(repr=False)
    """Keys the replay index, so equal payloads are found without a guessable plain hash."""
    read_connections: int = field(default=2, repr=False)
    direct: DriverSql = field(init=False, repr=False, compare=False)
    """The serving path's SQL on the driver's own connections (vault/driver_sql.py)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "direct", DriverSql(self.engine, self.read_connections))

    def seal(self, plaintext: bytes, *row: str) -> bytes:
        return seal_for_row(self.keyring, self.region, plaintext, *row)

    def open_sealed(self, blob: bytes, *row: str) -> bytes:
        return self.keyring.decrypt(blob, associated_data(self.region, *row))

    def replay_digest(self, payload: bytes) -> bytes:
        return replay_digest(self.index_key, payload)


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


def _key_file(settings: Settings, path: Path) -> ShardKey:
    if path.exists():
        return load_shard_key(path)
    if not settings.create_missing_keys:
        raise FileNotFoundError(
            f"no shard key at {path}; set CBAMHUB_CREATE_MISSING_KEYS=true on first start"
        )
    return generate_shard_key(path)


def load_shard_keys(settings: Settings, region: str) -> tuple[ShardKeyring, bytes]:
    """The region's payload keyring (`<region>.shardkey`, older keys `<region>.shardkey.old*`) and
    its replay-index key (`<region>.indexkey`, never rotated)."""
    directory = settings.key_dir()
    current = _key_file(settings, directory / f"{region}.shardkey")
    older = [load_shard_key(p) for p in sorted(directory.glob(f"{region}.shardkey.old*"))]
    index = _key_file(settings, directory / f"{region}.indexkey")
    return ShardKeyring(current, older), index.secret


def _prepare_sqlite_dir(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


class ShardRouter:
    def __init__(
        self,
        settings: Settings,
        shards: Mapping[str, Shard],
        scoring: AnomalyIngest | None = None,
    ) -> None:
        self.settings = settings
        self._shards = dict(shards)
        self.scoring = scoring
        """Anomaly scoring at ingest (vault/anomaly_ingest.py); None = records go unscored."""
        self.ingest_pool = IngestPool(
            settings,
            {r: RegionKeys(s.keyring.current.key, s.index_key) for r, s in self._shards.items()},
        )
        """Worker processes of large batches' check phase (vault/ingest_pool.py), started on
        first use and closed with the router."""

    @classmethod
    async def open(cls, settings: Settings) -> ShardRouter:
        shards: dict[str, Shard] = {}
        try:
            for region, url in settings.region_urls().items():
                _prepare_sqlite_dir(url)
                # A pool as large as the replica's concurrency: an overflow connection is opened
                # and closed per checkout (on SQLite a thread, a file open and four PRAGMAs).
                engine = create_engine(
                    url, pool_size=settings.shard_pool_size, max_overflow=settings.shard_pool_size
                )
                await upgrade_shard(engine)  # Alembic, for the vault's and the log's tables
                log = await TransparencyLog.open(
                    engine, settings.log_origin(region), load_log_signer(settings, region)
                )
                keyring, index_key = load_shard_keys(settings, region)
                shards[region] = Shard(
                    region, engine, log, keyring, index_key, settings.shard_read_connections
                )
        except BaseException:
            await cls(settings, shards).close()
            raise
        scoring = None
        if settings.anomaly_scoring:
            from .anomaly_ingest import AnomalyIngest  # imports the scorer; it imports this module

            scoring = AnomalyIngest.from_settings(settings)
        return cls(settings, shards, scoring)

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
        await self.ingest_pool.close()
        for shard in self._shards.values():
            await shard.direct.close()
            await shard.log.close()
            await shard.engine.dispose()
        if self.scoring is not None:
            await self.scoring.aclose()  # a remote scorer's channel
