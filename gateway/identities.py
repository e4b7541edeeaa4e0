"""GraphQL for identities: organisations and their keys, installations and product lines.

Every mutation takes a document signed on the organisation's side (`OrganisationKey.sign_document`):
the registration is self-signed by its first key (proof of possession); key changes, installations
and product lines are signed by a key of the organisation valid now. The hub holds no private key, so
it can prove every identity change was the organisation's. `IdentityQuery` / `IdentityMutation` are
merged into the hub's schema with `strawberry.tools.merge_types`.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated

import strawberry
from cbamhub.vault import identities, installations
from cbamhub.vault.errors import BadInput, VaultError
from cbamhub.vault.ids import region_of
from cbamhub.vault.shards import ShardRouter
from cbamhub.vault.signing import SignedDocument
from strawberry.types import Info

from .errors import graphql_error


def _router(info: Info) -> ShardRouter:
    router: ShardRouter = info.context["router"]
    return router


@strawberry.input(description="A document signed by an organisation on its own side.")
class SignedDocumentInput:
    payload: str = strawberry.field(description="The document as RFC 8785 canonical JSON text.")
    signature: str = strawberry.field(description="Base64 Ed25519 signature over the payload.")
    key_id: str = strawberry.field(description="Id of the signing key.")

    def signed(self) -> SignedDocument:
        return SignedDocument(
            self.payload.encode(), _base64("signature", self.signature), self.key_id
        )


def _base64(field: str, text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as error:
        raise BadInput(
            f"{field} is not base64", {"problems": [{"field": field, "reason": "not base64"}]}
        ) from error


@strawberry.type(description="An Ed25519 key of an organisation and the period it signs for.")
class OrganisationKey:
    key_id: str
    public_key: str = strawberry.field(description="Hex of the 32-byte Ed25519 public key.")
    valid_from: datetime | None
    valid_until: datetime | None = strawberry.field(description="Ended by a rotation.")
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: identities.RegisteredKey) -> OrganisationKey:
        return cls(
            key_id=key.key_id,
            public_key=key.public_key.hex(),
            valid_from=key.valid_from,
            valid_until=key.valid_until,
            revoked_at=key.revoked_at,
        )


@strawberry.federation.type(keys=["id"])
class Organisation:
    id: strawberry.ID
    role: str
    legal_name: str
    country: str
    eori: str | None
    region: str
    created_at: datetime
    keys: list[OrganisationKey]

    @classmethod
    def of(cls, org: identities.Organisation) -> Organisation:
        return cls(
            id=strawberry.ID(org.id),
            role=org.role,
            legal_name=org.legal_name,
            country=org.country,
            eori=org.eori,
            region=region_of(org.id, "org"),
            created_at=org.created_at,
            keys=[OrganisationKey.of(k) for k in org.keys],
        )


@strawberry.federation.type(
    keys=["id"], description="A named set of Annex I CN codes made at one installation."
)
class ProductLine:
    id: strawberry.ID
    installation_id: strawberry.ID
    organisation_id: strawberry.ID
    name: str
    cn_codes: list[str]

    @classmethod
    def of(cls, line: installations.ProductLine) -> ProductLine:
        return cls(
            id=strawberry.ID(line.id),
            installation_id=strawberry.ID(line.installation_id),
            organisation_id=strawberry.ID(line.organisation_id),
            name=line.name,
            cn_codes=list(line.cn_codes),
        )


@strawberry.federation.type(
    keys=["id"], description="A manufacturer's installation, stored in its country's region."
)
class Installation:
    id: strawberry.ID
    organisation_id: strawberry.ID
    name: str
    country: str
    region: str
    un_locode: str | None
    latitude: float | None
    longitude: float | None
    production_routes: list[str]
    product_lines: list[ProductLine]

    @classmethod
    def of(cls, ins: installations.Installation) -> Installation:
        return cls(
            id=strawberry.ID(ins.id),
            organisation_id=strawberry.ID(ins.organisation_id),
            name=ins.name,
            country=ins.country,
            region=ins.region,
            un_locode=ins.un_locode,
            latitude=ins.latitude,
            longitude=ins.longitude,
            production_routes=list(ins.production_routes),
            product_lines=[ProductLine.of(p) for p in ins.product_lines],
        )


@strawberry.type
class IdentityQuery:
    @strawberry.field(description="An organisation with its keys, from its home shard.")
    async def organisation(self, info: Info, id: strawberry.ID) -> Organisation:
        try:
            return Organisation.of(await identities.get_organisation(_router(info), str(id)))
        except VaultError as error:
            raise graphql_error(error) from error

    @strawberry.field(description="An installation with its product lines, from its home shard.")
    async def installation(self, info: Info, id: strawberry.ID) -> Installation:
        try:
            return Installation.of(await installations.get_installation(_router(info), str(id)))
        except VaultError as error:
            raise graphql_error(error) from error


@strawberry.type
class IdentityMutation:
    @strawberry.mutation(
        description="Register an organisation; the document (action organisation.register) is "
        "signed by the key it registers."
    )
    async def register_organisation(self, info: Info, input: SignedDocumentInput) -> Organisation:
        try:
            router = _router(info)
            org_id = await identities.register_organisation_signed(router, input.signed())
            return Organisation.of(await identities.get_organisation(router, org_id))
        except VaultError as error:
            raise graphql_error(error) from error

    @strawberry.mutation(
        description="Add a key (action key.add; endsKey rotates), signed by another valid key; "
        "proofOfPossession is the new key's own signature over the same payload (required)."
    )
    async def add_key(
        self,
        info: Info,
        input: SignedDocumentInput,
        proof_of_possession: Annotated[
            str | None,
            strawberry.argument(
                description="Base64 Ed25519 signature of the payload by the key being added; "
                "omitted or wrong, the key is refused (BAD_USER_INPUT / INVALID_SIGNATURE)."
            ),
        ] = None,
    ) -> OrganisationKey:
        try:
            proof = _base64("proofOfPossession", proof_of_possession or "")
            added = await identities.add_key(_router(info), input.signed(), proof)
            return OrganisationKey.of(added)
        except VaultError as error:
            raise graphql_error(error) from error

    @strawberry.mutation(
        description="Revoke a key (action key.revoke), signed by another valid key."
    )
    async def revoke_key(self, info: Info, input: SignedDocumentInput) -> OrganisationKey:
        try:
            return OrganisationKey.of(await identities.revoke_key(_router(info), input.signed()))
        except VaultError as error:
            raise graphql_error(error) from error

    @strawberry.mutation(
        description="Register a manufacturer's installation (action installation.register)."
    )
    async def register_installation(self, info: Info, input: SignedDocumentInput) -> Installation:
        try:
            found = await installations.register_installation(_router(info), input.signed())
            return Installation.of(found)
        except VaultError as error:
            raise graphql_error(error) from error

    @strawberry.mutation(
        description="Register a product line of an installation (action product_line.register)."
    )
    async def register_product_line(self, info: Info, input: SignedDocumentInput) -> ProductLine:
        try:
            found = await installations.register_product_line(_router(info), input.signed())
            return ProductLine.of(found)
        except VaultError as error:
            raise graphql_error(error) from error
