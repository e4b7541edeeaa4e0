"""Sharing and the record lifecycle in GraphQL: grants, access requests, verification.

Every change is a document signed on the organisation's side (the vault checks the signature, the
signer's role and the ledger entry); the request's caller must be the organisation whose key signed
it, so a leaked signed document cannot be replayed by someone else to act in its signer's name. A grant
change drops the cached decisions of both parties here and, through Redis, on every other replica.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import strawberry
from cbamhub.vault import access_log, identities, lifecycle, lookups
from cbamhub.vault import grants as vault_grants
from cbamhub.vault.errors import Forbidden, VaultError
from cbamhub.vault.signing import SignedDocument
from strawberry.types import Info

from .anonymous import caller_of
from .identities import Organisation, ProductLine, SignedDocumentInput
from .invalidation import CHANNEL
from .record_queries import readable_record
from .record_reads import typed


@strawberry.type(description="A manufacturer's permission for an importer to read some records.")
class Grant:
    id: strawberry.ID
    manufacturer_id: str
    importer_id: str
    product_line_id: str
    installation_id: str
    region: str
    cn_codes: list[str] | None = strawberry.field(description="null = the whole product line")
    fields: list[str] | None = strawberry.field(description="null = every record field")
    purpose: str
    valid_from: datetime
    valid_until: datetime
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, g: vault_grants.Grant) -> Grant:
        return cls(
            id=strawberry.ID(g.id),
            manufacturer_id=g.manufacturer_id,
            importer_id=g.importer_id,
            product_line_id=g.product_line_id,
            installation_id=g.installation_id,
            region=g.region,
            cn_codes=None if g.cn_codes is None else list(g.cn_codes),
            fields=None if g.fields is None else list(g.fields),
            purpose=g.purpose,
            valid_from=g.valid_from,
            valid_until=g.valid_until,
            created_at=g.created_at,
            revoked_at=g.revoked_at,
        )


@strawberry.type(description="An importer's request for access, pending until answered.")
class AccessRequest:
    id: strawberry.ID
    importer_id: str
    manufacturer_id: str
    product_line_id: str
    cn_codes: list[str] | None
    fields: list[str] | None
    purpose: str
    valid_from: datetime
    valid_until: datetime
    created_at: datetime
    status: str
    grant_id: str | None
    answered_at: datetime | None

    @classmethod
    def of(cls, r: vault_grants.AccessRequest) -> AccessRequest:
        return cls(
            id=strawberry.ID(r.id),
            importer_id=r.importer_id,
            manufacturer_id=r.manufacturer_id,
            product_line_id=r.product_line_id,
            cn_codes=None if r.cn_codes is None else list(r.cn_codes),
            fields=None if r.fields is None else list(r.fields),
            purpose=r.purpose,
            valid_from=r.valid_from,
            valid_until=r.valid_until,
            created_at=r.created_at,
            status=r.status,
            grant_id=r.grant_id,
            answered_at=r.answered_at,
        )


@strawberry.type(description="One state change of a record, as its ledger entry recorded it.")
class RecordEvent:
    id: strawberry.ID
    record_id: str
    kind: str
    actor: str
    verifier_id: str | None
    key_id: str
    details: str = strawberry.field(description="JSON: opinion, verifier, superseded_by.")
    recorded_at: datetime
    leaf_index: int

    @classmethod
    def of(cls, e: lifecycle.RecordEvent) -> RecordEvent:
        return cls(
            id=strawberry.ID(e.id),
            record_id=e.record_id,
            kind=e.kind.value,
            actor=e.actor,
            verifier_id=e.verifier_id,
            key_id=e.key_id,
            details=json.dumps(dict(e.payload), sort_keys=True, default=str),
            recorded_at=e.recorded_at,
            leaf_index=e.leaf_index,
        )


async def _signed_by_caller(info: Info, input: SignedDocumentInput) -> SignedDocument:
    """The signed document, if the caller's own key (valid now) signed it."""
    signed = input.signed()
    caller = caller_of(info)
    try:
        await identities.organisation_key(
            info.context["router"], caller.organisation_id, signed.key_id
        )
    except VaultError:
        raise Forbidden(
            f"the document is signed with key {signed.key_id}, which is not a current key of "
            f"{caller.organisation_id}: organisations act only in their own name"
        ) from None
    return signed


async def grants_changed(info: Info, *organisation_ids: str) -> None:
    state = info.context["request"].app.state
    state.grant_cache.invalidate(*organisation_ids)
    await state.authorizer.grants_changed(*organisation_ids)
    if state.redis is not None:
        await state.redis.publish(CHANNEL, json.dumps(list(organisation_ids)))


@strawberry.type(description="A read of one of your records by another organisation.")
class AccessLogEntry:
    record_id: str
    reader_id: str
    request_id: str | None = strawberry.field(description="Also in the hub's request log.")
    fields: list[str] | None = strawberry.field(description="Fields served; null = every field.")
    read_at: datetime


@strawberry.type(description="A manufacturer that shares records with you, and what it shares.")
class Supplier:
    organisation: Organisation
    product_lines: list[ProductLine]
    grants: list[Grant]


@strawberry.type
class SharingQuery:
    @strawberry.field(
        description="Importers: the manufacturers whose product lines your grants cover now, with "
        "those product lines and grants."
    )
    async def suppliers(self, info: Info) -> list[Supplier]:
        caller = caller_of(info)
        router = info.context["router"]
        try:
            if caller.role != "importer":
                raise Forbidden("suppliers are the manufacturers that grant an importer access")
            now = datetime.now(UTC)
            active = [
                g
                for g in await vault_grants.grants_for_importer(router, caller.organisation_id)
                if g.active_at(now)
            ]
            makers = sorted({g.manufacturer_id for g in active})
            lines = sorted({g.product_line_id for g in active})
            orgs = await lookups.organisations_by_ids(router, makers)
            found_lines = await lookups.product_lines_by_ids(router, lines)
        except Exception as error:
            raise typed(error) from error
        by_line = {line.id: line for line in found_lines if line is not None}
        return [
            Supplier(
                organisation=Organisation.of(org),
                product_lines=[
                    ProductLine.of(by_line[line_id])
                    for line_id in sorted(
                        {g.product_line_id for g in active if g.manufacturer_id == org.id}
                    )
                    if line_id in by_line
                ],
                grants=[Grant.of(g) for g in active if g.manufacturer_id == org.id],
            )
            for org in orgs
            if org is not None
        ]

    @strawberry.field(
        description="Who read your records (manufacturers): newest first, at most 1000."
    )
    async def access_log(
        self, info: Info, since: datetime | None = None, first: int = 100
    ) -> list[AccessLogEntry]:
        caller = caller_of(info)
        try:
            if caller.role != "manufacturer":
                raise Forbidden("the access log shows manufacturers the reads of their records")
            reads = await access_log.reads_of_manufacturer(
                info.context["router"], caller.organisation_id, since=since, limit=first
            )
        except Exception as error:
            raise typed(error) from error
        return [
            AccessLogEntry(
                record_id=r.record_id,
                reader_id=r.reader_id,
                request_id=r.request_id,
                fields=None if r.fields is None else list(r.fields),
                read_at=r.read_at,
            )
            for r in reads
        ]

    @strawberry.field(
        description="Your grants: given (manufacturer) or received (importer), with revoked ones."
    )
    async def grants(self, info: Info, as_of: datetime | None = None) -> list[Grant]:
        caller = caller_of(info)
        router = info.context["router"]
        try:
            if caller.role == "manufacturer":
                found = await vault_grants.grants_of_manufacturer(
                    router, caller.organisation_id, at=as_of
                )
            elif caller.role == "importer":
                found = await vault_grants.grants_for_importer(
                    router, caller.organisation_id, at=as_of
                )
            else:
                raise Forbidden(f"grants belong to manufacturers and importers, not {caller.role}s")
        except Exception as error:
            raise typed(error) from error
        return [Grant.of(g) for g in found]

    @strawberry.field(
        description="Access requests: pending ones addressed to you (manufacturer), or yours "
        "(importer)."
    )
    async def access_requests(self, info: Info) -> list[AccessRequest]:
        caller = caller_of(info)
        router = info.context["router"]
        try:
            if caller.role == "manufacturer":
                found = await vault_grants.pending_requests(router, caller.organisation_id)
            elif caller.role == "importer":
                found = await vault_grants.requests_of_importer(router, caller.organisation_id)
            else:
                raise Forbidden("access requests are between manufacturers and importers")
        except Exception as error:
            raise typed(error) from error
        return [AccessRequest.of(r) for r in found]

    @strawberry.field(
        description="A record's lifecycle events (submitted, assigned, attested, rejected, "
        "superseded), for whoever may read the record."
    )
    async def record_history(self, info: Info, id: strawberry.ID) -> list[RecordEvent]:
        try:
            await readable_record(info, str(id))
            state = await lifecycle.record_state(info.context["router"], str(id))
        except Exception as error:
            raise typed(error) from error
        return [RecordEvent.of(e) for e in state.events]


@strawberry.type
class SharingMutation:
    @strawberry.mutation(description="Grant an importer access (signed by the manufacturer).")
    async def grant_access(self, info: Info, input: SignedDocumentInput) -> Grant:
        try:
            signed = await _signed_by_caller(info, input)
            grant = await vault_grants.grant_access(info.context["router"], signed)
            await grants_changed(info, grant.importer_id, grant.manufacturer_id)
        except Exception as error:
            raise typed(error) from error
        return Grant.of(grant)

    @strawberry.mutation(description="Revoke a grant (signed by its manufacturer); immediate.")
    async def revoke_grant(self, info: Info, input: SignedDocumentInput) -> Grant:
        try:
            signed = await _signed_by_caller(info, input)
            grant = await vault_grants.revoke_grant(info.context["router"], signed)
            await grants_changed(info, grant.importer_id, grant.manufacturer_id)
        except Exception as error:
            raise typed(error) from error
        return Grant.of(grant)

    @strawberry.mutation(description="Ask a manufacturer for access (signed by the importer).")
    async def request_access(self, info: Info, input: SignedDocumentInput) -> AccessRequest:
        try:
            signed = await _signed_by_caller(info, input)
            found = await vault_grants.request_access(info.context["router"], signed)
        except Exception as error:
            raise typed(error) from error
        return AccessRequest.of(found)

    @strawberry.mutation(
        description="Grant or decline an access request (signed by the manufacturer)."
    )
    async def answer_access_request(self, info: Info, input: SignedDocumentInput) -> AccessRequest:
        try:
            signed = await _signed_by_caller(info, input)
            answered = await vault_grants.answer_request(info.context["router"], signed)
            if answered.grant_id is not None:
                await grants_changed(info, answered.importer_id, answered.manufacturer_id)
        except Exception as error:
            raise typed(error) from error
        return AccessRequest.of(answered)

    @strawberry.mutation(description="Assign a verifier to a submitted record (manufacturer).")
    async def request_verification(self, info: Info, input: SignedDocumentInput) -> RecordEvent:
        try:
            signed = await _signed_by_caller(info, input)
            event = await lifecycle.request_verification(info.context["router"], signed)
        except Exception as error:
            raise typed(error) from error
        return RecordEvent.of(event)

    @strawberry.mutation(description="Attest a record you were assigned (verifier); locks it.")
    async def attest_record(self, info: Info, input: SignedDocumentInput) -> RecordEvent:
        try:
            signed = await _signed_by_caller(info, input)
            event = await lifecycle.attest(info.context["router"], signed)
            await info.context["request"].app.state.record_bus.verified(event.record_id)
        except Exception as error:
            raise typed(error) from error
        return RecordEvent.of(event)

    @strawberry.mutation(description="Reject a record you were assigned (verifier).")
    async def reject_record(self, info: Info, input: SignedDocumentInput) -> RecordEvent:
        try:
            signed = await _signed_by_caller(info, input)
            event = await lifecycle.reject(info.context["router"], signed)
        except Exception as error:
            raise typed(error) from error
        return RecordEvent.of(event)
