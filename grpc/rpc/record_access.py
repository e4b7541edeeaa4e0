"""What the RPC door needs from the vault for one import line: which record, whose EORI, is it
verified, and the record with its proof. One interface, so the services read as the rule they apply
and the vault's queries stay the vault's. Whether a caller may see a record is the policy layer's
(record_policy.py).

`CachedRecordAccess` reuses answers for a short, configured time (grpc_read_cache_seconds): a
customs consignment names the same few records thousands of times, and a record's proof only grows
stale as the log grows, which the verifier tolerates (the proof is against the checkpoint it names).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol, TypeVar

from cbamhub.vault import schema
from cbamhub.vault.errors import BadInput, NotFound
from cbamhub.vault.lifecycle import RecordStatus, record_state
from cbamhub.vault.reading import StoredRecord, record_with_proof
from cbamhub.vault.shards import ShardRouter
from sqlalchemy import desc, or_, select

from cbamhub.ttl_cache import TtlCache

_T = TypeVar("_T")


@dataclass(frozen=True)
class LineKey:
    """How an import line names the goods' origin record when it does not give the record id."""

    country: str
    cn_code: str
    period: str  # ISO interval "YYYY-MM-DD/YYYY-MM-DD", as records store it
    installation_id: str | None
    manufacturer_id: str | None


@dataclass(frozen=True)
class RecordStateView:
    status: str
    superseded_by: str | None


class RecordAccess(Protocol):
    async def find(self, key: LineKey) -> str: ...
    async def read(self, record_id: str) -> StoredRecord: ...
    async def importer(self, eori: str) -> str: ...
    async def state(self, record_id: str) -> RecordStateView: ...


def normalise_period(text: str) -> str:
    """ "2026" / "2026-Q1" / "YYYY-MM-DD/YYYY-MM-DD" -> the records' ISO interval; BadInput if none."""
    quarters = {"Q1": ("01-01", "03-31"), "Q2": ("04-01", "06-30")}
    quarters |= {"Q3": ("07-01", "09-30"), "Q4": ("10-01", "12-31")}
    value = text.strip()
    try:
        if len(value) == 4 and value.isdigit():
            return f"{value}-01-01/{value}-12-31"
        year, _, quarter = value.partition("-")
        if quarter in quarters and year.isdigit() and len(year) == 4:
            start, end = quarters[quarter]
            return f"{year}-{start}/{year}-{end}"
        first, slash, last = value.partition("/")
        if slash and date.fromisoformat(first) <= date.fromisoformat(last):
            return f"{date.fromisoformat(first)}/{date.fromisoformat(last)}"
    except ValueError:
        pass
    raise BadInput(
        f"period {text!r} is not a year, a quarter (2026-Q1) or an interval (start/end dates)",
        {"problems": [{"field": "period", "reason": "malformed"}]},
    )


class VaultRecordAccess:
    """Straight to the shards: the record's home shard by its id, or by the origin country."""

    def __init__(self, router: ShardRouter) -> None:
        self._router = router

    async def find(self, key: LineKey) -> str:
        shard = self._router.for_country(key.country)
        r = schema.records.c
        who = []
        if key.installation_id:
            who.append(r.installation_id == key.installation_id)
        if key.manufacturer_id:
            who.append(r.manufacturer_id == key.manufacturer_id)
        if not who:
            raise BadInput(
                "a line names its record, its installation or its manufacturer",
                {"problems": [{"field": "installation_id", "reason": "required"}]},
            )
        query = (
            select(r.id)
            .where(r.cn_code == key.cn_code, r.period == key.period, or_(*who))
            .order_by(desc(r.version), desc(r.recorded_at), desc(r.id))
            .limit(1)
        )
        async with shard.engine.connect() as conn:
            found = (await conn.execute(query)).scalar()
        if found is None:
            raise NotFound(
                f"no record for CN {key.cn_code}, period {key.period} of "
                f"{key.installation_id or key.manufacturer_id} in {shard.region}"
            )
        return str(found)

    async def read(self, record_id: str) -> StoredRecord:
        return await record_with_proof(self._router, record_id)

    async def importer(self, eori: str) -> str:
        """The importer organisation holding `eori`: its EORI's country's shard first, then all."""
        o = schema.organisations.c
        query = select(o.id).where(o.eori == eori, o.role == "importer").limit(1)
        home = self._router.settings.region_for_country(eori[:2])
        regions = [home, *(r for r in self._router.regions if r != home)]
        for region in regions:
            if region not in self._router.regions:
                continue
            async with self._router.shard(region).engine.connect() as conn:
                found = (await conn.execute(query)).scalar()
            if found is not None:
                return str(found)
        raise NotFound(f"no importer with EORI {eori} is registered with the hub")

    async def state(self, record_id: str) -> RecordStateView:
        state = await record_state(self._router, record_id)
        return RecordStateView(state.status.value, state.superseded_by)


VERIFIED = RecordStatus.VERIFIED.value


class CachedRecordAccess:
    """Answers of `inner` reused for `ttl` seconds (0: never; float("inf"): for this object's life),
    through a TtlCache (single flight, refreshed ahead); a record with its proof for `proof_ttl`
    (default `ttl`).

    Why the record may be kept longer: a record row is never changed, so re-reading it only swaps
    its proof for one against a bigger tree -- both valid -- while what can turn an answer from yes
    to no (the lifecycle state, the importer, the decision) keeps `ttl`. Re-reading five hot records
    every second was the largest share of the server's background work: 15-20 % of a core at 1,000
    calls/s, and the tail of the paced latency (docs/PERFORMANCE.md, decision 0056)."""

    def __init__(self, inner: RecordAccess, ttl: float, proof_ttl: float | None = None) -> None:
        self._inner = inner
        self._cache: TtlCache[Any] = TtlCache(ttl)
        self._records: TtlCache[StoredRecord] = TtlCache(ttl if proof_ttl is None else proof_ttl)

    async def _cached(self, key: tuple[object, ...], load: Callable[[], Awaitable[_T]]) -> _T:
        value: _T = await self._cache.get(key, load)
        return value

    async def find(self, key: LineKey) -> str:
        return await self._cached(("find", key), lambda: self._inner.find(key))

    async def read(self, record_id: str) -> StoredRecord:
        return await self._records.get(record_id, lambda: self._inner.read(record_id))

    async def importer(self, eori: str) -> str:
        return await self._cached(("importer", eori), lambda: self._inner.importer(eori))

    async def state(self, record_id: str) -> RecordStateView:
        return await self._cached(("state", record_id), lambda: self._inner.state(record_id))
