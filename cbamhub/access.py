"""Reading records under the policy: the one path both front doors (GraphQL and gRPC) take.

principal → its grants or assignments, from the vault (once per request) → the Rego decision or the
compiled grant set (once per request, cached per grants version) → the records, filtered in SQL by
that set and checked again row by row against it in Python (no policy call per row), then masked to
the fields the decision allows. An engine that cannot answer raises `PolicyUnavailable`: deny.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cbamhub.policies import (
    AssignmentSet,
    Authorizer,
    Decision,
    GrantSet,
    Principal,
    RecordRef,
    Scope,
    fields_for,
)
from cbamhub.policies import Grant as PolicyGrant
from cbamhub.ttl_cache import TtlCache
from cbamhub.vault import grants as vault_grants
from cbamhub.vault import lifecycle, querying
from cbamhub.vault.errors import BadInput, Forbidden
from cbamhub.vault.grants import Grant
from cbamhub.vault.querying import RecordFilters, RecordPage, RecordScope, RecordSummary
from cbamhub.vault.reading import StoredRecord
from cbamhub.vault.record_model import EmissionsRecord
from cbamhub.vault.shards import ShardRouter

POLICY_NAME = {
    field.alias: name for name, field in EmissionsRecord.model_fields.items() if field.alias
}
"""Grants name record fields by their KIT names (vault); the policy by the record model's names."""


def visible_members(document: Mapping[str, Any], fields: frozenset[str] | None) -> list[str]:
    """The document's top-level members (KIT names) that the policy's `fields` let through (None =
    all): what a masked answer discloses, in either door."""
    if fields is None:
        return list(document)
    return [name for name in document if POLICY_NAME.get(name, name) in fields]


def policy_grant(grant: Grant, at: datetime) -> PolicyGrant:
    """The vault's grant as the policy reads it, judged at `at` (revocations known by then)."""
    return PolicyGrant(
        grant_id=grant.id,
        manufacturer_id=grant.manufacturer_id,
        importer_id=grant.importer_id,
        product_line_id=grant.product_line_id,
        installation_id=grant.installation_id,
        cn_codes=grant.cn_codes or (),
        fields=None
        if grant.fields is None
        else frozenset(POLICY_NAME.get(f, f) for f in grant.fields),
        purpose=grant.purpose,
        valid_from=grant.valid_from,
        valid_until=grant.valid_until,
        revoked=grant.revoked_at is not None and grant.revoked_at <= at,
    )


def ref_of_stored(stored: StoredRecord) -> RecordRef:
    record = stored.record
    return RecordRef(
        id=stored.record_id,
        manufacturer_id=record.manufacturer_id or "",
        installation_id=record.installation_id,
        product_line_id=record.product_line_id,
        cn_code=record.cn_code,
        region=stored.region,
    )


def ref_of_summary(summary: RecordSummary) -> RecordRef:
    return RecordRef(
        id=summary.id,
        manufacturer_id=summary.manufacturer_id,
        installation_id=summary.installation_id,
        product_line_id=summary.product_line_id,
        cn_code=summary.cn_code,
        region=summary.region,
    )


def record_scope(scope: Scope) -> RecordScope | None:
    """The SQL part of a policy scope; None when the scope names no owner at all (every record)."""
    if (
        scope.product_line_id is None
        and scope.installation_id is None
        and scope.manufacturer_id is None
    ):
        return None
    exact = all(len(code) == 8 for code in scope.cn_codes)
    return RecordScope(
        manufacturer_id=scope.manufacturer_id,
        installation_id=scope.installation_id,
        product_line_id=scope.product_line_id,
        # A shorter code is a prefix (a CN heading): SQL then leaves the codes open and the
        # row-by-row check below narrows them.
        cn_codes=scope.cn_codes if scope.cn_codes and exact else None,
    )


class GrantSetCache:
    """Importers' current grant sets, per replica, for at most `ttl` seconds.

    Reading grants costs a query per shard (the version) plus the grants themselves; caching them
    briefly bounds how long a change can go unseen here to `ttl` (under the one second the hub
    promises for revocations), and a grant change evicts the parties at once (locally, and on other
    replicas through the gateway's Redis channel). Concurrent requests of one importer share one
    load (a `TtlCache`): without that, every request in flight when the entry expired read the
    grants again (0.2 grant reads per request at 8 concurrent requests, measured)."""

    def __init__(self, ttl: float) -> None:
        self._sets: TtlCache[GrantSet] = TtlCache(ttl, max_entries=100_000)

    async def get(self, importer_id: str, load: Callable[[], Awaitable[GrantSet]]) -> GrantSet:
        return await self._sets.get(importer_id, load)

    def invalidate(self, *organisation_ids: str) -> None:
        for organisation_id in organisation_ids:
            self._sets.invalidate(organisation_id)


@dataclass(frozen=True)
class Visible:
    """A record a reader may see and the fields it may see (None = every field)."""

    summary: RecordSummary
    fields: frozenset[str] | None


@dataclass
class RecordAccess:
    """One principal's reads during one request (or one streaming call): grants, assignments and
    scopes are loaded at most once."""

    router: ShardRouter
    authorizer: Authorizer
    principal: Principal
    as_of: datetime | None = None
    grant_cache: GrantSetCache | None = None
    _grants: GrantSet | None = field(default=None, init=False)
    _assignments: AssignmentSet | None = field(default=None, init=False)
    _scopes: tuple[Scope, ...] | None = field(default=None, init=False)

    @property
    def moment(self) -> datetime:
        return self.as_of or datetime.now(UTC)

    async def grants(self, importer_id: str | None = None) -> GrantSet:
        """The grants of `importer_id` (the principal by default) known at the request's moment."""
        importer = importer_id or self.principal.organisation_id
        if importer_id is None and self._grants is not None:
            return self._grants
        cache = self.grant_cache if self.as_of is None else None

        async def load() -> GrantSet:
            version = await vault_grants.grants_version(self.router)
            listed = await vault_grants.grants_for_importer(self.router, importer, at=self.as_of)
            moment = self.moment
            return GrantSet.of(version, (policy_grant(g, moment) for g in listed))

        if importer_id is None and self.principal.role != "importer":
            found: GrantSet = GrantSet("none")
        elif cache is not None:
            found = await cache.get(importer, load)
        else:
            found = await load()
        if importer_id is None:
            self._grants = found
        return found

    async def assignments(self) -> AssignmentSet:
        if self._assignments is None:
            if self.principal.role == "verifier":
                events = await lifecycle.assignments_of_verifier(
                    self.router, self.principal.organisation_id
                )
                by_record = {e.record_id: self.principal.organisation_id for e in events}
                # the assignments themselves key the decision cache: a digest, not a growing list
                version = hashlib.sha256(",".join(sorted(by_record)).encode()).hexdigest()[:32]
                self._assignments = AssignmentSet(version, by_record)
            else:
                self._assignments = AssignmentSet("none")
        return self._assignments

    async def decide(self, ref: RecordRef) -> Decision:
        return await self.authorizer.read_record(
            self.principal,
            ref,
            await self.grants(),
            assignments=await self.assignments(),
            now=self.as_of,
        )

    async def require(self, ref: RecordRef) -> Decision:
        """The decision if it allows; Forbidden with the policy's reason otherwise."""
        decision = await self.decide(ref)
        if not decision.allow:
            raise Forbidden(decision.reason)
        return decision

    async def scopes(self) -> tuple[Scope, ...]:
        if self._scopes is None:
            self._scopes = await self.authorizer.scopes(
                self.principal,
                await self.grants(),
                assignments=await self.assignments(),
                now=self.as_of,
            )
        return self._scopes

    async def find(
        self,
        filters: RecordFilters | None = None,
        *,
        after: str | None = None,
        limit: int = 50,
        documents: bool = False,
    ) -> tuple[list[Visible], RecordPage]:
        """One page of the records the principal may list, each with its visible fields."""
        scopes = await self.scopes()
        if not scopes:
            return [], RecordPage((), False, None)
        sql = [record_scope(s) for s in scopes if s.record_id is None]
        pushed: Sequence[RecordScope] | None = (
            None if any(s is None for s in sql) else [s for s in sql if s is not None]
        )
        by_id = [s.record_id for s in scopes if s.record_id is not None]
        if by_id and pushed is not None and not pushed:
            if filters is not None and filters != RecordFilters():
                # records named one by one (a verifier's assignments) are listed whole: refusing
                # the filters is honest, ignoring them would answer a question not asked
                raise BadInput("filters apply to granted and own records, not to assigned ones")
            found = await querying.records_by_ids(
                self.router, by_id, as_of=self.as_of, documents=documents
            )
            page = _page_of_ids([r for r in found if r is not None], after, limit)
        else:
            page = await querying.find_records(
                self.router,
                pushed,
                filters=filters,
                as_of=self.as_of,
                after=after,
                limit=limit,
                documents=documents,
            )
        return self._visible(page.records, scopes), page

    def _visible(self, rows: Sequence[RecordSummary], scopes: Sequence[Scope]) -> list[Visible]:
        visible = []
        for row in rows:
            allowed = fields_for(scopes, ref_of_summary(row))
            if allowed is False:
                continue  # SQL must never return more than the scopes; this is the safety net
            visible.append(Visible(row, allowed if isinstance(allowed, frozenset) else None))
        return visible


def _page_of_ids(rows: list[RecordSummary], after: str | None, limit: int) -> RecordPage:
    ordered = sorted(rows, key=lambda r: (r.recorded_at, r.id))
    if after is not None:
        keyset = querying.decode_cursor(after)
        ordered = [r for r in ordered if (r.recorded_at, r.id) > keyset]
    page = tuple(ordered[:limit])
    return RecordPage(page, len(ordered) > limit, page[-1].cursor if page else None)
