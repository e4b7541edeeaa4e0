"""The one place the RPC door asks the policy layer, so both front doors decide alike.

Each method returns when the caller may act and raises otherwise: Forbidden (PERMISSION_DENIED,
with the policy's reason) or PolicyUnavailable (UNAVAILABLE: the engine failed, so the answer is
no, fail closed).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

import grpc
from cbamhub.vault.errors import Forbidden
from cbamhub.vault.reading import StoredRecord

from .authentication import Caller
from .status import RpcError
from .ttl_cache import TtlCache

CUSTOMS_ROLE = "customs"


class RecordPolicy(Protocol):
    async def customs_check(self, caller: Caller, importer_id: str, stored: StoredRecord) -> None:
        """May `caller` (customs) check a line of `importer_id` against this record?"""
        ...

    async def read(self, caller: Caller, stored: StoredRecord) -> None:
        """May `caller` read this record (its own, or under an importer's grant)?"""
        ...


class NoPolicy:
    """A server started without a policy engine: fail closed, every record decision UNAVAILABLE."""

    @staticmethod
    def _refuse() -> RpcError:
        return RpcError(
            grpc.StatusCode.UNAVAILABLE, "no policy engine is configured: records are not served"
        )

    async def customs_check(self, caller: Caller, importer_id: str, stored: StoredRecord) -> None:
        raise self._refuse()

    async def read(self, caller: Caller, stored: StoredRecord) -> None:
        raise self._refuse()


class CachedPolicy:
    """Decisions of `inner` reused for `ttl` seconds (float("inf"): for this object's life, as for
    one consignment) through a TtlCache. A denial is reused too (as its Forbidden error); an
    engine failure is not."""

    def __init__(self, inner: RecordPolicy, ttl: float) -> None:
        self._inner = inner
        self._decisions: TtlCache[Forbidden | None] = TtlCache(ttl)

    async def _decide(self, key: tuple[str, ...], ask: Callable[[], Awaitable[None]]) -> None:
        async def outcome() -> Forbidden | None:
            try:
                await ask()
            except Forbidden as denial:
                return denial
            return None

        denial = await self._decisions.get(key, outcome)
        if denial is not None:
            raise denial

    async def customs_check(self, caller: Caller, importer_id: str, stored: StoredRecord) -> None:
        key = ("customs", caller.organisation_id, importer_id, stored.record_id)
        await self._decide(key, lambda: self._inner.customs_check(caller, importer_id, stored))

    async def read(self, caller: Caller, stored: StoredRecord) -> None:
        key = ("read", caller.organisation_id, stored.record_id)
        await self._decide(key, lambda: self._inner.read(caller, stored))
