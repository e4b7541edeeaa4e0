"""RecordPolicy over the hub's policy layer (cbamhub.policies.Authorizer): the same Rego decisions
the GraphQL door asks, with the importer's grants from the vault."""

from __future__ import annotations

from cbamhub.policies.authorizer import Authorizer
from cbamhub.policies.decisions import Decision
from cbamhub.policies.grants import NO_GRANTS
from cbamhub.policies.subjects import Principal, RecordRef
from cbamhub.vault.errors import Forbidden
from cbamhub.vault.reading import StoredRecord
from cbamhub.vault.shards import ShardRouter

from .authentication import Caller
from .grant_source import importer_grants


def principal_of(caller: Caller) -> Principal:
    return Principal(caller.organisation_id, caller.role, caller.region)


def record_ref(stored: StoredRecord) -> RecordRef:
    record = stored.record
    return RecordRef(
        id=stored.record_id,
        manufacturer_id=record.manufacturer_id or "",
        installation_id=record.installation_id or record.installation_cbam_id,
        product_line_id=record.product_line_id,
        cn_code=record.cn_code,
        region=stored.region,
    )


def _enforce(decision: Decision) -> None:
    if not decision.allow:
        raise Forbidden(decision.reason)


class AuthorizerPolicy:
    """Fail closed: the Authorizer raises PolicyUnavailable (UNAVAILABLE) when it cannot decide."""

    def __init__(self, authorizer: Authorizer, router: ShardRouter) -> None:
        self._authorizer = authorizer
        self._router = router

    async def customs_check(self, caller: Caller, importer_id: str, stored: StoredRecord) -> None:
        grants = await importer_grants(self._router, importer_id)
        decision = await self._authorizer.customs_check(
            principal_of(caller), importer_id, record_ref(stored), grants
        )
        _enforce(decision)

    async def read(self, caller: Caller, stored: StoredRecord) -> None:
        grants = (
            await importer_grants(self._router, caller.organisation_id)
            if caller.role == "importer"
            else NO_GRANTS
        )
        _enforce(
            await self._authorizer.read_record(principal_of(caller), record_ref(stored), grants)
        )
