"""RecordPolicy over the hub's one read path (cbamhub.access, cbamhub.policies.Authorizer): the same
grants, the same Rego decisions and the same field names as the GraphQL door."""

from __future__ import annotations

from cbamhub.policies.authorizer import Authorizer
from cbamhub.policies.subjects import Principal
from cbamhub.vault.errors import Forbidden
from cbamhub.vault.reading import StoredRecord
from cbamhub.vault.shards import ShardRouter

from cbamhub.access import RecordAccess as PolicyReads
from cbamhub.access import ref_of_stored

from .access import Disclosure
from .authentication import Caller


def principal_of(caller: Caller) -> Principal:
    return Principal(caller.organisation_id, caller.role, caller.region)


class AuthorizerPolicy:
    """Fail closed: the Authorizer raises PolicyUnavailable (UNAVAILABLE) when it cannot decide."""

    def __init__(self, authorizer: Authorizer, router: ShardRouter) -> None:
        self._authorizer = authorizer
        self._router = router

    def _reads(self, caller: Caller) -> PolicyReads:
        return PolicyReads(self._router, self._authorizer, principal_of(caller))

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
