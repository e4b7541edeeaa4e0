"""Organisations and their public keys with validity periods, kept in each organisation's home shard.

Every identity event (registration, key added, key revoked) is a ledger entry written in the same
transaction as its rows, so a key the hub accepted can always be shown to have been published before
the signatures made with it. A key is valid from `valid_from` until the earlier of `valid_until`
(rotation) and `revoked_at`; a signature counts only if its key was valid when it was made, so
rotation keeps old signatures verifiable while a revoked key signs nothing new.

Key changes carry the organisation's authority: a document signed by another of its keys that is
valid now. The hub never accepts a key change it cannot prove the organisation made. A key addition
also carries the new key's own signature over the same payload (proof of possession, as the
self-signed registration does), so nobody registers a public key they do not hold and later claims
signatures made with it; the signed document itself is unchanged, so documents signed before the
proof was required stay verifiable as they are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from cbamhub.ledger.log import LogWriter
from cbamhub.ledger.statements import Statement, StatementKind, commitment, new_salt
from pydantic import BaseModel, ValidationError
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncConnection

from . import schema
from .errors import (
    BadInput,
    DuplicateSubmission,
    InvalidSignature,
    NotFound,
    UnknownKey,
)
from .errors import Forbidden as Forbidden  # re-exported: it was defined here first
from .ids import new_id, region_of
from .models import KeyAddition, KeyRevocation, OrganisationIn, OrganisationRegistration
from .shards import ShardRouter
from .signing import SignedDocument, signature_valid
from .signing import key_id as make_key_id

_M = TypeVar("_M", bound=BaseModel)


@dataclass(frozen=True)
class RegisteredKey:
    key_id: str
    organisation_id: str
    public_key: bytes
    revoked_at: datetime | None
    valid_from: datetime | None = None
    valid_until: datetime | None = None

    def valid_at(self, at: datetime) -> bool:
        """Whether a signature made at `at` with this key counts."""
        if self.valid_from is not None and at < self.valid_from:
            return False
        if self.valid_until is not None and at >= self.valid_until:
            return False
        return self.revoked_at is None or at < self.revoked_at


@dataclass(frozen=True)
class Organisation:
    id: str
    role: str
    legal_name: str
    country: str
    eori: str | None
    created_at: datetime
    keys: tuple[RegisteredKey, ...]


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; the hub stores UTC only."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_signed(model: type[_M], signed: SignedDocument) -> _M:
    """Validate a signed document's payload against `model`; BadInput lists each (field, reason)."""
    try:
        document = json.loads(signed.payload)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BadInput(f"payload is not JSON: {error}") from error
    try:
        return model.model_validate(document)
    except ValidationError as error:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"]) or "(document)", "reason": e["msg"]}
            for e in error.errors()
        ]
        reasons = "; ".join(f"{p['field']}: {p['reason']}" for p in problems)
        raise BadInput(f"the document is not valid: {reasons}", {"problems": problems}) from error


def _key(row: Any) -> RegisteredKey:
    return RegisteredKey(
        row.key_id,
        row.organisation_id,
        row.public_key,
        aware(row.revoked_at),
        aware(row.valid_from),
        aware(row.valid_until),
    )


def _organisation_query(organisation_id: str) -> Select[Any]:
    return select(schema.organisations).where(schema.organisations.c.id == organisation_id)


def _key_query(organisation_id: str, kid: str) -> Select[Any]:
    keys = schema.organisation_keys
    return select(keys).where(keys.c.key_id == kid, keys.c.organisation_id == organisation_id)


def _one_organisation(rows: Sequence[Any], organisation_id: str) -> Any:
    if not rows:
        raise NotFound(f"no organisation {organisation_id}")
    return rows[0]


def _one_key(rows: Sequence[Any], organisation_id: str, kid: str) -> RegisteredKey:
    if not rows:
        raise UnknownKey(f"key {kid} is not registered for organisation {organisation_id}")
    return _key(rows[0])


async def _organisation_row(conn: AsyncConnection, organisation_id: str) -> Any:
    rows = (await conn.execute(_organisation_query(organisation_id))).all()
    return _one_organisation(rows, organisation_id)


async def _key_row(conn: AsyncConnection, organisation_id: str, kid: str) -> RegisteredKey:
    rows = (await conn.execute(_key_query(organisation_id, kid))).all()
    return _one_key(rows, organisation_id, kid)


async def organisation_key(
    router: ShardRouter, organisation_id: str, kid: str, at: datetime | None = None
) -> RegisteredKey:
    """The key `kid` of an organisation, from its home shard.

    UnknownKey unless the key was valid at `at` (default now, i.e. for a signature being submitted;
    pass the signing time to check an older signature)."""
    shard = router.shard(region_of(organisation_id, "org"))
    # the same two statements as _organisation_row and _key_row, in one read of the shard
    found, key_rows = await shard.direct.fetch_each(
        [_organisation_query(organisation_id), _key_query(organisation_id, kid)]
    )
    _one_organisation(found, organisation_id)
    key = _one_key(key_rows, organisation_id, kid)
    when = at or datetime.now(UTC)
    if not key.valid_at(when):
        state = f"revoked at {rfc3339(key.revoked_at)}; " if key.revoked_at else ""
        raise UnknownKey(
            f"key {kid} of {organisation_id} was not valid at {rfc3339(when)} ({state}"
            f"valid from {key.valid_from and rfc3339(key.valid_from)} "
            f"until {key.valid_until and rfc3339(key.valid_until)})"
        )
    return key


async def verify_signed(
    router: ShardRouter, organisation_id: str, signed: SignedDocument, at: datetime | None = None
) -> RegisteredKey:
    """Check that `signed` carries the organisation's signature by a key valid at `at` (now if
    None): UnknownKey or InvalidSignature otherwise."""
    key = await organisation_key(router, organisation_id, signed.key_id, at)
    if not signature_valid(key.public_key, signed.payload, signed.signature):
        raise InvalidSignature(
            f"the signature does not match the document under key {signed.key_id} "
            f"of {organisation_id}"
        )
    return key


async def get_organisation(router: ShardRouter, organisation_id: str) -> Organisation:
    shard = router.shard(region_of(organisation_id, "org"))
    async with shard.engine.connect() as conn:
        org = await _organisation_row(conn, organisation_id)
        rows = (
            await conn.execute(
                select(schema.organisation_keys)
                .where(schema.organisation_keys.c.organisation_id == organisation_id)
                .order_by(schema.organisation_keys.c.valid_from, schema.organisation_keys.c.key_id)
            )
        ).all()
    return Organisation(
        org.id,
        org.role,
        org.legal_name,
        org.country,
        org.eori,
        aware(org.created_at) or org.created_at,
        tuple(_key(r) for r in rows),
    )


async def append_statement(
    writer: LogWriter,
    kind: StatementKind,
    subject: Mapping[str, str],
    time: datetime,
    signer: str,
    document: Any,
) -> None:
    """One identity event in the shard's log, inside the caller's transaction."""
    statement = Statement(
        kind=kind,
        subject=dict(subject),
        time=rfc3339(time),
        signer=signer,
        commitment=commitment(new_salt(), document),
    )
    await writer.append([statement.to_bytes()])


async def register_organisation(
    router: ShardRouter,
    organisation: OrganisationIn,
    public_key: bytes,
    *,
    document: Any = None,
) -> str:
    """Create an organisation with its first signing key in its home shard; returns its id.

    Trusts the caller for possession of the key (demo, tests); the GraphQL door goes through
    `register_organisation_signed`, which proves it."""
    if len(public_key) != 32:
        raise BadInput("an Ed25519 public key is 32 bytes")
    shard = router.for_country(organisation.country)
    org_id = new_id("org", shard.region)
    now = datetime.now(UTC)
    kid = make_key_id(public_key)
    committed = {
        "organisation": org_id,
        **organisation.model_dump(),
        "key_id": kid,
        "public_key": public_key.hex(),
        "signed": document,
    }
    async with shard.log.writer() as writer:
        conn = writer.connection
        taken = (
            await conn.execute(
                select(schema.organisation_keys.c.organisation_id).where(
                    schema.organisation_keys.c.key_id == kid
                )
            )
        ).first()
        if taken is not None:
            raise DuplicateSubmission(f"key {kid} is already registered to {taken[0]}")
        await conn.execute(
            schema.organisations.insert().values(
                id=org_id, created_at=now, **organisation.model_dump()
            )
        )
        await conn.execute(
            schema.organisation_keys.insert().values(
                key_id=kid, organisation_id=org_id, public_key=public_key, valid_from=now
            )
        )
        await append_statement(
            writer,
            StatementKind.ORGANISATION_REGISTERED,
            {"organisation": org_id, "key": kid},
            now,
            kid,
            committed,
        )
    return org_id


async def register_organisation_signed(router: ShardRouter, signed: SignedDocument) -> str:
    """Register from an OrganisationRegistration self-signed by its first key (proof of
    possession: nobody registers a key they do not hold)."""
    registration = parse_signed(OrganisationRegistration, signed)
    public_key = bytes.fromhex(registration.public_key)
    if signed.key_id != make_key_id(public_key):
        raise UnknownKey(
            f"the registration must be signed by its own key {make_key_id(public_key)}"
        )
    if not signature_valid(public_key, signed.payload, signed.signature):
        raise InvalidSignature("the registration is not signed by the key it registers")
    organisation = OrganisationIn.model_validate(
        registration.model_dump(exclude={"action", "public_key"})
    )
    return await register_organisation(
        router, organisation, public_key, document=json.loads(signed.payload)
    )


async def _authorised(
    conn: AsyncConnection, organisation_id: str, signed: SignedDocument, now: datetime
) -> RegisteredKey:
    """The signing key, if it is the organisation's, valid now, and its signature holds."""
    signer = await _key_row(conn, organisation_id, signed.key_id)
    if not signer.valid_at(now):
        raise UnknownKey(f"key {signed.key_id} of {organisation_id} is not valid now")
    if not signature_valid(signer.public_key, signed.payload, signed.signature):
        raise InvalidSignature(f"the signature does not match the document under {signed.key_id}")
    return signer


def check_possession(public_key: bytes, signed: SignedDocument, proof: bytes | None) -> None:
    """The new key's signature over the same payload as the authorising one: BadInput when it is
    missing, InvalidSignature when it does not verify under the key being added."""
    kid = make_key_id(public_key)
    if not proof:
        raise BadInput(
            f"a key addition must carry proof of possession: the new key {kid} must also sign the "
            "document (proofOfPossession)",
            {"problems": [{"field": "proofOfPossession", "reason": "missing"}]},
        )
    if not signature_valid(public_key, signed.payload, proof):
        raise InvalidSignature(
            f"the proof of possession is not a signature of the document by the new key {kid}",
            {"problems": [{"field": "proofOfPossession", "reason": "not signed by the new key"}]},
        )


async def add_key(
    router: ShardRouter, signed: SignedDocument, proof_of_possession: bytes | None
) -> RegisteredKey:
    """Add a key (rotation when `ends_key` is given), authorised by another currently valid key
    and proven held by a signature of the new key over the same payload."""
    change = parse_signed(KeyAddition, signed)
    shard = router.shard(region_of(change.organisation, "org"))
    now = datetime.now(UTC)
    valid_from = change.valid_from.astimezone(UTC) if change.valid_from else now
    if valid_from < now:  # a back-dated key could claim signatures made before it was published
        raise BadInput(
            "a key cannot be valid before the hub accepts it: omit valid_from or give a later time",
            {"problems": [{"field": "valid_from", "reason": "in the past"}]},
        )
    public_key = bytes.fromhex(change.public_key)
    kid = make_key_id(public_key)
    check_possession(public_key, signed, proof_of_possession)
    async with shard.log.writer() as writer:
        conn = writer.connection
        await _organisation_row(conn, change.organisation)
        await _authorised(conn, change.organisation, signed, now)
        taken = (
            await conn.execute(
                select(schema.organisation_keys.c.key_id).where(
                    schema.organisation_keys.c.key_id == kid
                )
            )
        ).first()
        if taken is not None:
            raise DuplicateSubmission(f"key {kid} is already registered")
        if change.ends_key is not None:
            old = await _key_row(conn, change.organisation, change.ends_key)
            if old.valid_from is not None and valid_from <= old.valid_from:
                raise BadInput("the new key must start after the key it ends")
            if not old.valid_at(now) and not old.valid_at(valid_from):
                raise BadInput(f"key {change.ends_key} is no longer valid: nothing to end")
            await conn.execute(
                schema.organisation_keys.update()
                .where(schema.organisation_keys.c.key_id == change.ends_key)
                .values(valid_until=valid_from)
            )
        await conn.execute(
            schema.organisation_keys.insert().values(
                key_id=kid,
                organisation_id=change.organisation,
                public_key=public_key,
                valid_from=valid_from,
                added_by=signed.key_id,
            )
        )
        subject = {"organisation": change.organisation, "key": kid}
        if change.ends_key is not None:
            subject["ends"] = change.ends_key
        await append_statement(
            writer, StatementKind.KEY_ADDED, subject, now, signed.key_id, json.loads(signed.payload)
        )
    return RegisteredKey(kid, change.organisation, public_key, None, valid_from, None)


async def revoke_key(router: ShardRouter, signed: SignedDocument) -> RegisteredKey:
    """Revoke a key from `revoked_at` (default now), authorised by another currently valid key."""
    change = parse_signed(KeyRevocation, signed)
    shard = router.shard(region_of(change.organisation, "org"))
    now = datetime.now(UTC)
    revoked_at = change.revoked_at.astimezone(UTC) if change.revoked_at else now
    if revoked_at > now:
        raise BadInput(
            "a revocation cannot take effect in the future",
            {"problems": [{"field": "revoked_at", "reason": "in the future"}]},
        )
    if change.key_id == signed.key_id:
        raise Forbidden("a key cannot authorise its own revocation: sign with another valid key")
    async with shard.log.writer() as writer:
        conn = writer.connection
        await _organisation_row(conn, change.organisation)
        await _authorised(conn, change.organisation, signed, now)
        target = await _key_row(conn, change.organisation, change.key_id)
        if target.revoked_at is not None:
            raise DuplicateSubmission(f"key {change.key_id} was already revoked")
        await conn.execute(
            schema.organisation_keys.update()
            .where(schema.organisation_keys.c.key_id == change.key_id)
            .values(revoked_at=revoked_at)
        )
        await append_statement(
            writer,
            StatementKind.KEY_REVOKED,
            {"organisation": change.organisation, "key": change.key_id},
            now,
            signed.key_id,
            json.loads(signed.payload),
        )
    return RegisteredKey(
        target.key_id,
        target.organisation_id,
        target.public_key,
        revoked_at,
        target.valid_from,
        target.valid_until,
    )
