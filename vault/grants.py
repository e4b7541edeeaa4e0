"""Grants: a manufacturer lets an importer read a product line (or some of its CN codes), for a
period, for a purpose, optionally only some record fields; signed revocations; importers' signed
access requests that the manufacturer grants or declines.

Everything lives in the product line's home shard and is append-only: a revocation and an answer are
rows of their own, each write a ledger entry in the same transaction. So the grants the hub knew at
any recorded time can be rebuilt exactly (`at=`), which answers "what did importer X see on D"
together with `find_records(..., as_of=D)` (decision 0047). Reads fan out over every shard in
parallel: an importer's grants may sit in any region.

Validity (valid_from / valid_until) is not filtered here: it is the policy's decision at its `now`
(policies/), and `Grant.active_at` is the same rule for callers that need it in Python.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from cbamhub.ledger.log import LogWriter
from cbamhub.ledger.statements import (
    Statement,
    StatementKind,
    commitment_of_canonical,
    new_salt,
)
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from . import schema
from .errors import BadInput, DuplicateSubmission, Forbidden, InvalidTransition, NotFound
from .identities import aware, get_organisation, parse_signed, rfc3339, verify_signed
from .ids import new_id, region_of
from .lifecycle import canonical_payload
from .models import AccessAnswer, AccessRequestIn, GrantIn, GrantRevocation
from .record_model import EmissionsRecord
from .shards import Shard, ShardRouter
from .signing import SignedDocument

RECORD_FIELDS = frozenset(
    f.alias for f in EmissionsRecord.model_fields.values() if f.alias is not None
)
"""The field names a grant may restrict to: a record's top-level KIT names."""


@dataclass(frozen=True)
class Grant:
    id: str
    manufacturer_id: str
    importer_id: str
    product_line_id: str
    installation_id: str
    region: str
    cn_codes: tuple[str, ...] | None
    """A subset of the product line's codes; None = the whole line."""
    fields: tuple[str, ...] | None
    """Record fields the importer may see; None = all."""
    purpose: str
    valid_from: datetime
    valid_until: datetime
    created_at: datetime
    revoked_at: datetime | None
    request_id: str | None = None

    def active_at(self, at: datetime) -> bool:
        """Known, in its validity period and not revoked at `at`."""
        return (
            self.created_at <= at
            and self.valid_from <= at < self.valid_until
            and (self.revoked_at is None or at < self.revoked_at)
        )


RequestStatus = Literal["pending", "granted", "declined"]


@dataclass(frozen=True)
class AccessRequest:
    id: str
    importer_id: str
    manufacturer_id: str
    product_line_id: str
    installation_id: str
    region: str
    cn_codes: tuple[str, ...] | None
    fields: tuple[str, ...] | None
    purpose: str
    valid_from: datetime
    valid_until: datetime
    created_at: datetime
    status: RequestStatus
    grant_id: str | None
    answered_at: datetime | None


def _codes(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(json.loads(text))


def _when(value: datetime) -> datetime:
    return aware(value) or value


def _grant(row: Any, region: str, revoked_at: datetime | None) -> Grant:
    return Grant(
        id=row.id,
        manufacturer_id=row.manufacturer_id,
        importer_id=row.importer_id,
        product_line_id=row.product_line_id,
        installation_id=row.installation_id,
        region=region,
        cn_codes=_codes(row.cn_codes),
        fields=_codes(row.fields),
        purpose=row.purpose,
        valid_from=_when(row.valid_from),
        valid_until=_when(row.valid_until),
        created_at=_when(row.created_at),
        revoked_at=aware(revoked_at),
        request_id=row.request_id,
    )


def _request(row: Any, region: str) -> AccessRequest:
    return AccessRequest(
        id=row.id,
        importer_id=row.importer_id,
        manufacturer_id=row.manufacturer_id,
        product_line_id=row.product_line_id,
        installation_id=row.installation_id,
        region=region,
        cn_codes=_codes(row.cn_codes),
        fields=_codes(row.fields),
        purpose=row.purpose,
        valid_from=_when(row.valid_from),
        valid_until=_when(row.valid_until),
        created_at=_when(row.created_at),
        status="pending" if row.answer is None else row.answer,
        grant_id=row.grant_id,
        answered_at=aware(row.answered_at),
    )


@dataclass(frozen=True)
class _Terms:
    cn_codes: list[str] | None
    fields: list[str] | None
    purpose: str
    valid_from: datetime
    valid_until: datetime


async def _line(conn: AsyncConnection, line_id: str) -> Any:
    row = (
        await conn.execute(
            select(
                schema.product_lines.c.id,
                schema.product_lines.c.installation_id,
                schema.product_lines.c.organisation_id,
                schema.product_lines.c.cn_codes,
            ).where(schema.product_lines.c.id == line_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"no product line {line_id}")
    return row


def _check_terms(line: Any, cn_codes: list[str] | None, fields: list[str] | None) -> None:
    listed = set(json.loads(line.cn_codes))
    outside = sorted(set(cn_codes or ()) - listed)
    if outside:
        raise BadInput(
            f"CN codes {', '.join(outside)} are not in product line {line.id}",
            {"problems": [{"field": "cn_codes", "reason": "not in the product line"}]},
        )
    unknown = sorted(set(fields or ()) - RECORD_FIELDS)
    if unknown:
        raise BadInput(
            f"unknown record fields {', '.join(unknown)} (a record's top-level KIT names)",
            {"problems": [{"field": "fields", "reason": "unknown record field"}]},
        )


async def _has_role(router: ShardRouter, organisation_id: str, role: str) -> None:
    organisation = await get_organisation(router, organisation_id)
    if organisation.role != role:
        raise Forbidden(f"{organisation_id} is a {organisation.role}, not a {role}")


def _entry(
    kind: StatementKind, subject: dict[str, str], now: datetime, signed: SignedDocument, salt: bytes
) -> bytes:
    return Statement(
        kind=kind,
        subject=subject,
        time=rfc3339(now),
        signer=signed.key_id,
        commitment=commitment_of_canonical(salt, signed.payload),
    ).to_bytes()


async def _insert_grant(
    shard: Shard,
    writer: LogWriter,
    *,
    manufacturer: str,
    importer: str,
    line: Any,
    terms: _Terms,
    signed: SignedDocument,
    request_id: str | None,
    now: datetime,
) -> Grant:
    grant_id = new_id("grt", shard.region)
    salt = new_salt()
    row = {
        "id": grant_id,
        "manufacturer_id": manufacturer,
        "importer_id": importer,
        "product_line_id": line.id,
        "installation_id": line.installation_id,
        "cn_codes": None if terms.cn_codes is None else json.dumps(sorted(terms.cn_codes)),
        "fields": None if terms.fields is None else json.dumps(sorted(terms.fields)),
        "purpose": terms.purpose,
        "valid_from": terms.valid_from.astimezone(UTC),  # SQLite keeps wall-clock time only
        "valid_until": terms.valid_until.astimezone(UTC),
        "request_id": request_id,
        "request_digest": shard.replay_digest(b"grant\n" + signed.payload),
        "created_at": now,
        "key_id": signed.key_id,
        "document": signed.payload,
        "signature": signed.signature,
        "salt": salt,
        "leaf_index": writer.size,
    }
    await writer.connection.execute(schema.grants.insert().values(**row))
    subject = {"grant": grant_id, "importer": importer, "product_line": line.id}
    if request_id:
        subject["request"] = request_id
    await writer.append([_entry(StatementKind.GRANT_CREATED, subject, now, signed, salt)])
    return _grant(_Row(row), shard.region, None)


class _Row:
    """Attribute access over a dict, so freshly written rows share the readers' converters."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


async def _existing_grant(shard: Shard, conn: AsyncConnection, payload: bytes) -> Grant | None:
    digest = shard.replay_digest(b"grant\n" + payload)
    row = (
        await conn.execute(_grants_query().where(schema.grants.c.request_digest == digest))
    ).first()
    return None if row is None else _grant(row, shard.region, row.revoked_at)


def _grants_query() -> Any:
    grants, revocations = schema.grants, schema.grant_revocations
    return select(grants, revocations.c.revoked_at).select_from(
        grants.outerjoin(revocations, revocations.c.grant_id == grants.c.id)
    )


async def grant_access(router: ShardRouter, signed: SignedDocument) -> Grant:
    """A manufacturer's signed grant to an importer; a replay returns the existing grant."""
    document = parse_signed(GrantIn, signed)
    canonical_payload(signed)
    await _has_role(router, document.manufacturer, "manufacturer")
    await verify_signed(router, document.manufacturer, signed)
    await _has_role(router, document.importer, "importer")
    shard = router.shard(region_of(document.product_line, "pl"))
    now = datetime.now(UTC)
    async with shard.log.writer() as writer:
        existing = await _existing_grant(shard, writer.connection, signed.payload)
        if existing is not None:
            return existing
        line = await _line(writer.connection, document.product_line)
        if line.organisation_id != document.manufacturer:
            raise Forbidden(f"product line {line.id} is not {document.manufacturer}'s")
        _check_terms(line, document.cn_codes, document.fields)
        return await _insert_grant(
            shard,
            writer,
            manufacturer=document.manufacturer,
            importer=document.importer,
            line=line,
            terms=_Terms(
                document.cn_codes,
                document.fields,
                document.purpose,
                document.valid_from,
                document.valid_until,
            ),
            signed=signed,
            request_id=None,
            now=now,
        )


async def revoke_grant(router: ShardRouter, signed: SignedDocument) -> Grant:
    """The manufacturer's signed revocation, effective when recorded; a replay changes nothing."""
    document = parse_signed(GrantRevocation, signed)
    canonical_payload(signed)
    shard = router.shard(region_of(document.grant, "grt"))
    async with shard.engine.connect() as conn:
        row = (
            await conn.execute(_grants_query().where(schema.grants.c.id == document.grant))
        ).first()
    if row is None:
        raise NotFound(f"no grant {document.grant}")
    await verify_signed(router, row.manufacturer_id, signed)
    table = schema.grant_revocations
    async with shard.log.writer() as writer:
        conn = writer.connection
        done = (
            await conn.execute(
                select(table.c.revoked_at, table.c.document).where(
                    table.c.grant_id == document.grant
                )
            )
        ).first()
        if done is not None:
            if done.document == signed.payload:
                return _grant(row, shard.region, done.revoked_at)
            raise DuplicateSubmission(f"grant {document.grant} was already revoked")
        now = datetime.now(UTC)
        salt = new_salt()
        await conn.execute(
            table.insert().values(
                grant_id=document.grant,
                reason=document.reason,
                revoked_at=now,
                key_id=signed.key_id,
                document=signed.payload,
                signature=signed.signature,
                salt=salt,
                leaf_index=writer.size,
            )
        )
        subject = {"grant": document.grant, "importer": row.importer_id}
        await writer.append([_entry(StatementKind.GRANT_REVOKED, subject, now, signed, salt)])
    return _grant(row, shard.region, now)


def _requests_query() -> Any:
    requests, answers = schema.access_requests, schema.access_answers
    return select(
        requests, answers.c.answer, answers.c.grant_id, answers.c.answered_at
    ).select_from(requests.outerjoin(answers, answers.c.request_id == requests.c.id))


async def request_access(router: ShardRouter, signed: SignedDocument) -> AccessRequest:
    """An importer's signed request for access to a product line; pending until answered."""
    document = parse_signed(AccessRequestIn, signed)
    canonical_payload(signed)
    await _has_role(router, document.importer, "importer")
    await verify_signed(router, document.importer, signed)
    shard = router.shard(region_of(document.product_line, "pl"))
    table = schema.access_requests
    digest = shard.replay_digest(b"request\n" + signed.payload)
    async with shard.log.writer() as writer:
        conn = writer.connection
        existing = (
            await conn.execute(_requests_query().where(table.c.request_digest == digest))
        ).first()
        if existing is not None:
            return _request(existing, shard.region)
        line = await _line(conn, document.product_line)
        _check_terms(line, document.cn_codes, document.fields)
        now = datetime.now(UTC)
        request_id = new_id("req", shard.region)
        salt = new_salt()
        await conn.execute(
            table.insert().values(
                id=request_id,
                importer_id=document.importer,
                manufacturer_id=line.organisation_id,
                product_line_id=line.id,
                installation_id=line.installation_id,
                cn_codes=None if document.cn_codes is None else json.dumps(document.cn_codes),
                fields=None if document.fields is None else json.dumps(document.fields),
                purpose=document.purpose,
                valid_from=document.valid_from.astimezone(UTC),
                valid_until=document.valid_until.astimezone(UTC),
                request_digest=digest,
                created_at=now,
                key_id=signed.key_id,
                document=signed.payload,
                signature=signed.signature,
                salt=salt,
                leaf_index=writer.size,
            )
        )
        subject = {
            "request": request_id,
            "importer": document.importer,
            "manufacturer": line.organisation_id,
            "product_line": line.id,
        }
        await writer.append([_entry(StatementKind.ACCESS_REQUESTED, subject, now, signed, salt)])
        row = (await conn.execute(_requests_query().where(table.c.id == request_id))).one()
    return _request(row, shard.region)


async def answer_request(router: ShardRouter, signed: SignedDocument) -> AccessRequest:
    """The manufacturer grants (on the request's terms) or declines a pending request."""
    document = parse_signed(AccessAnswer, signed)
    canonical_payload(signed)
    shard = router.shard(region_of(document.request, "req"))
    requests = schema.access_requests
    async with shard.engine.connect() as conn:
        row = (
            await conn.execute(_requests_query().where(requests.c.id == document.request))
        ).first()
    if row is None:
        raise NotFound(f"no access request {document.request}")
    await verify_signed(router, row.manufacturer_id, signed)
    answers = schema.access_answers
    async with shard.log.writer() as writer:
        conn = writer.connection
        done = (
            await conn.execute(
                select(answers.c.document).where(answers.c.request_id == document.request)
            )
        ).first()
        if done is not None:
            if done.document == signed.payload:
                return _request(
                    (await conn.execute(_requests_query().where(requests.c.id == row.id))).one(),
                    shard.region,
                )
            raise InvalidTransition(f"access request {document.request} was already answered")
        now = datetime.now(UTC)
        grant_id = None
        if document.answer == "grant":
            line = await _line(conn, row.product_line_id)
            grant = await _insert_grant(
                shard,
                writer,
                manufacturer=row.manufacturer_id,
                importer=row.importer_id,
                line=line,
                terms=_Terms(
                    None if row.cn_codes is None else json.loads(row.cn_codes),
                    None if row.fields is None else json.loads(row.fields),
                    row.purpose,
                    _when(row.valid_from),
                    _when(row.valid_until),
                ),
                signed=signed,
                request_id=row.id,
                now=now,
            )
            grant_id = grant.id
            salt, leaf_index = new_salt(), writer.size - 1  # the grant's entry records the answer
        else:
            salt, leaf_index = new_salt(), writer.size
            subject = {"request": row.id, "importer": row.importer_id}
            await writer.append([_entry(StatementKind.ACCESS_DECLINED, subject, now, signed, salt)])
        await conn.execute(
            answers.insert().values(
                request_id=row.id,
                answer="granted" if grant_id else "declined",
                grant_id=grant_id,
                reason=document.reason,
                answered_at=now,
                key_id=signed.key_id,
                document=signed.payload,
                signature=signed.signature,
                salt=salt,
                leaf_index=leaf_index,
            )
        )
        answered = (await conn.execute(_requests_query().where(requests.c.id == row.id))).one()
    return _request(answered, shard.region)


async def _each_shard(router: ShardRouter, query: Any, make: Any) -> list[Any]:
    async def one(shard: Shard) -> list[Any]:
        return [make(row, shard) for row in await shard.direct.fetch(query)]

    found = await asyncio.gather(*(one(router.shard(r)) for r in router.regions))
    return [item for items in found for item in items]


def _known_at(query: Any, at: datetime | None) -> tuple[Any, Any]:
    """Grants recorded by `at`, and a row maker that hides revocations recorded after it."""
    at = at.astimezone(UTC) if at is not None else None
    if at is not None:
        query = query.where(schema.grants.c.created_at <= at)

    def make(row: Any, shard: Shard) -> Grant:
        revoked = aware(row.revoked_at)
        if at is not None and revoked is not None and revoked > at:
            revoked = None
        return _grant(row, shard.region, revoked)

    return query, make


async def grants_for_importer(
    router: ShardRouter, importer_id: str, at: datetime | None = None
) -> list[Grant]:
    """Every grant to the importer as the hub knew it at `at` (recorded time; None = now),
    revoked and expired ones included (with revoked_at): the policy judges validity."""
    query, make = _known_at(_grants_query().where(schema.grants.c.importer_id == importer_id), at)
    grants = await _each_shard(router, query.order_by(schema.grants.c.created_at), make)
    return sorted(grants, key=lambda g: (g.created_at, g.id))


async def grants_of_manufacturer(
    router: ShardRouter, manufacturer_id: str, at: datetime | None = None
) -> list[Grant]:
    query, make = _known_at(
        _grants_query().where(schema.grants.c.manufacturer_id == manufacturer_id), at
    )
    grants = await _each_shard(router, query, make)
    return sorted(grants, key=lambda g: (g.created_at, g.id))


async def pending_requests(router: ShardRouter, manufacturer_id: str) -> list[AccessRequest]:
    """Requests for the manufacturer's product lines that it has not answered yet."""
    query = _requests_query().where(
        schema.access_requests.c.manufacturer_id == manufacturer_id,
        schema.access_answers.c.request_id.is_(None),
    )
    found = await _each_shard(router, query, lambda row, shard: _request(row, shard.region))
    return sorted(found, key=lambda r: (r.created_at, r.id))


async def requests_of_importer(router: ShardRouter, importer_id: str) -> list[AccessRequest]:
    """An importer's requests with their answers."""
    query = _requests_query().where(schema.access_requests.c.importer_id == importer_id)
    found = await _each_shard(router, query, lambda row, shard: _request(row, shard.region))
    return sorted(found, key=lambda r: (r.created_at, r.id))


async def grants_version(router: ShardRouter) -> str:
    """Changes whenever any grant is created or revoked, in any shard (for decision caches).

    Grants and revocations are append-only, so their counts only grow: "region:grants.revocations"
    per shard is a version that every replica computes alike from the databases. Expiry is not a
    change: caches keyed on it must still bound their entries' age (the policy judges `now`)."""

    counts = select(
        select(func.count()).select_from(schema.grants).scalar_subquery().label("grants"),
        select(func.count())
        .select_from(schema.grant_revocations)
        .scalar_subquery()
        .label("revocations"),
    )

    async def one(region: str) -> str:
        (row,) = await router.shard(region).direct.fetch(counts)
        return f"{region}:{row.grants}.{row.revocations}"

    parts = await asyncio.gather(*(one(r) for r in sorted(router.regions)))
    return ";".join(parts)


def active_grants(grants: Sequence[Grant], at: datetime) -> list[Grant]:
    return [g for g in grants if g.active_at(at)]
