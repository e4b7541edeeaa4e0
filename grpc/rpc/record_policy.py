"""RecordPolicy over the hub's one read path (cbamhub.access, cbamhub.policies.Authorizer): the same
grants, the same Rego decisions and the same field names as the GraphQL door."""

from __future__ import annotations

from cbamhub.policies.authorizer import Authorizer
from cbamhub.policies.subjects import Principal
from cbamhub.vault.errors import Forbidden
from cbamhub.vault.reading import StoredRecord
from cbamhub.vault.shards import ShardRouter

from cbamhub.access import GrantSetCache, ref_of_stored
from cbamhub.access import RecordAccess as PolicyReads
from cbamhub.settings import Settings

from .access import Disclosure
from .authentication import Caller


def principal_of(caller: Caller) -> Principal:
    return Principal(caller.organisation_id, caller.role, caller.region)


class AuthorizerPolicy:
    """Fail closed: the Authorizer raises PolicyUnavailable (UNAVAILABLE) when it cannot decide.

    With `grant_cache_seconds` > 0 an importer's grant set (a query per shard for the version and
    one for the grants: ~4 ms) is loaded once for all the records checked against it in that time,
    not once per record; decisions cached over this policy then add their own age to it."""

    def __init__(
        self, authorizer: Authorizer, router: ShardRouter, grant_cache_seconds: float = 0.0
    ) -> None:
        self._authorizer = authorizer
        self._router = router
        self._grants = GrantSetCache(grant_cache_seconds) if grant_cache_seconds > 0 else None

    @classmethod
    def from_settings(
        cls, authorizer: Authorizer, router: ShardRouter, settings: Settings
    ) -> AuthorizerPolicy:
        """As a server runs it: grant sets reused for half of grpc_read_cache_seconds, the
        decisions over them (start_rpc_server's CachedPolicy) for the other half, so a revoked
        grant still stops being honoured within grpc_read_cache_seconds."""
        return cls(authorizer, router, settings.grpc_read_cache_seconds / 2)

    def _reads(self, caller: Caller) -> PolicyReads:
        principal = principal_of(caller)
        return PolicyReads(self._router, self._authorizer, principal, grant_cache=self._grants)

    async def customs_check(
        self, caller: Caller, importer_id: str, stored: StoredRecord
    ) -> Disclosure:
        reads = self._reads(caller)
        decision = await self._authorizer.customs_check(
            reads.principal, importer_id, ref_of_stored(stored), await reads.grants(importer_id)
        )
        if not decision.allow:
            raise Forbidden(decision.reason)
        return Disclosure(decision.fields)

    async def read(self, caller: Caller, stored: StoredRecord) -> Disclosure:
        decision = await self._reads(caller).require(ref_of_stored(stored))
        return Disclosure(decision.fields)
