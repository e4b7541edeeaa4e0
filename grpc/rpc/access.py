"""The one place the RPC door asks the policy layer, so both front doors decide alike.

Each method returns when the caller may act and raises otherwise: Forbidden (PERMISSION_DENIED,
with the policy's reason) or PolicyUnavailable (UNAVAILABLE: the engine failed, so the answer is
no, fail closed).
"""

from __future__ import annotations

from typing import Protocol

import grpc
from cbamhub.vault.reading import StoredRecord

from .authentication import Caller
from .status import RpcError

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
