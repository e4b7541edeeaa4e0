"""The one place the RPC door asks the policy layer, so both front doors decide alike.

Each method returns what the caller may see of the record (a Disclosure) and raises otherwise:
Forbidden (PERMISSION_DENIED, with the policy's reason) or PolicyUnavailable (UNAVAILABLE: the
engine failed, so the answer is no, fail closed).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import grpc
from cbamhub.vault.errors import Forbidden
from cbamhub.vault.reading import StoredRecord

from cbamhub.access import visible_members
from cbamhub.ttl_cache import TtlCache

from .authentication import Caller
from .status import RpcError

CUSTOMS_ROLE = "customs"


@dataclass(frozen=True)
class Disclosure:
    """The record fields (the policy's snake_case names) a decision lets through; None = all."""

    fields: frozenset[str] | None

    def permits(self, field: str) -> bool:
        return self.fields is None or field in self.fields

    def withheld(self, document: Mapping[str, Any]) -> list[str]:
        """The document's top-level fields this disclosure does not cover, sorted."""
        shown = set(visible_members(document, self.fields))
        return sorted(k for k in document if k not in shown)


EVERYTHING = Disclosure(None)


class RecordPolicy(Protocol):
    async def customs_check(
        self, caller: Caller, importer_id: str, stored: StoredRecord
    ) -> Disclosure:
        """May `caller` (customs) check a line of `importer_id` against this record, and see what?"""
        ...

    async def read(self, caller: Caller, stored: StoredRecord) -> Disclosure:
        """May `caller` read this record (its own, or under an importer's grant), and which fields?"""
        ...


class NoPolicy:
    """A server started without a policy engine: fail closed, every record decision UNAVAILABLE."""

    @staticmethod
    def _refuse() -> RpcError:
        return RpcError(
            grpc.StatusCode.UNAVAILABLE, "no policy engine is configured: records are not served"
        )

    async def customs_check(
        self, caller: Caller, importer_id: str, stored: StoredRecord
    ) -> Disclosure:
        raise self._refuse()

    async def read(self, caller: Caller, stored: StoredRecord) -> Disclosure:
        raise self._refuse()


class CachedPolicy:
    """Decisions of `inner` reused for `ttl` seconds (float("inf"): for this object's life, as for
    one consignment) through a TtlCache. A denial is reused too (as its Forbidden error); an
    engine failure is not."""

    def __init__(self, inner: RecordPolicy, ttl: float) -> None:
        self._inner = inner
        self._decisions: TtlCache[Disclosure | Forbidden] = TtlCache(ttl)

    async def _decide(
        self, key: tuple[str, ...], ask: Callable[[], Awaitable[Disclosure]]
    ) -> Disclosure:
        async def outcome() -> Disclosure | Forbidden:
            try:
                return await ask()
            except Forbidden as denial:
                return denial

        decided = await self._decisions.get(key, outcome)
        if isinstance(decided, Forbidden):
            raise decided
        return decided

    async def customs_check(
        self, caller: Caller, importer_id: str, stored: StoredRecord
    ) -> Disclosure:
        key = ("customs", caller.organisation_id, importer_id, stored.record_id)
        return await self._decide(
            key, lambda: self._inner.customs_check(caller, importer_id, stored)
        )

    async def read(self, caller: Caller, stored: StoredRecord) -> Disclosure:
        key = ("read", caller.organisation_id, stored.record_id)
        return await self._decide(key, lambda: self._inner.read(caller, stored))
