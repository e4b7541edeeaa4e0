"""The identity mutations and queries through GraphQL, on a test-only schema made of the identity
types alone (the hub merges the same types into its own schema), with the router in the context."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import strawberry
from cbamhub.gateway.identities import IdentityMutation, IdentityQuery
from cbamhub.vault.shards import ShardRouter
from cbamhub.vault.signing import OrganisationKey
from gateway_hub import signed_document_input
from strawberry.tools import merge_types

from cbamhub.settings import Settings

SCHEMA = strawberry.federation.Schema(
    query=merge_types("Query", (IdentityQuery,)),
    mutation=merge_types("Mutation", (IdentityMutation,)),
)

REGISTER = """mutation($input: SignedDocumentInput!) {
  registerOrganisation(input: $input) { id role eori region keys { keyId validUntil revokedAt } }
}"""
ADD = """mutation($input: SignedDocumentInput!, $pop: String) {
  addKey(input: $input, proofOfPossession: $pop) { keyId validFrom }
}"""
REVOKE = "mutation($input: SignedDocumentInput!) { revokeKey(input: $input) { keyId revokedAt } }"
INSTALLATION = """mutation($input: SignedDocumentInput!) {
  registerInstallation(input: $input) { id region unLocode productionRoutes }
}"""
PRODUCT_LINE = """mutation($input: SignedDocumentInput!) {
  registerProductLine(input: $input) { id installationId cnCodes }
}"""


@pytest.fixture
async def router(region_urls: dict[str, str], tmp_path: Path) -> AsyncIterator[ShardRouter]:
    settings = Settings(
        data_dir=tmp_path,
        regions=region_urls,
        country_regions={"DE": "eu", "CN": "cn"},
        default_region="row",
        create_missing_keys=True,
    )
    opened = await ShardRouter.open(settings)
    try:
        yield opened
    finally:
        await opened.close()


def _signed(key: OrganisationKey, document: Any) -> dict[str, str]:
    signed = key.sign_document(document)
    return signed_document_input(signed)


def _pop(key: OrganisationKey, document: Any) -> str:
    """A key's proof of possession for a key addition: its signature over the same document."""
    return base64.b64encode(key.sign_document(document).signature).decode()


async def _run(router: ShardRouter, query: str, **variables: Any) -> Any:
    result = await SCHEMA.execute(
        query, variable_values=variables, context_value={"router": router}
    )
    if result.errors:
        return [e.extensions for e in result.errors]
    return result.data


def _registration(key: OrganisationKey, role: str, country: str, **extra: Any) -> dict[str, Any]:
    return {
        "action": "organisation.register",
        "role": role,
        "legal_name": "Org",
        "country": country,
        "public_key": key.public_key.hex(),
        **extra,
    }


async def test_organisation_keys_installation_and_product_line(router: ShardRouter) -> None:
    key = OrganisationKey.generate()
    org = (
        await _run(router, REGISTER, input=_signed(key, _registration(key, "manufacturer", "CN")))
    )["registerOrganisation"]
    assert org["region"] == "cn" and org["keys"][0]["keyId"] == key.key_id

    new = OrganisationKey.generate()
    add = {
        "action": "key.add",
        "organisation": org["id"],
        "public_key": new.public_key.hex(),
        "ends_key": key.key_id,
    }
    assert (await _run(router, ADD, input=_signed(key, add)))[0]["code"] == "BAD_USER_INPUT"
    stranger = _pop(OrganisationKey.generate(), add)
    refused = await _run(router, ADD, input=_signed(key, add), pop=stranger)
    assert refused[0]["code"] == "INVALID_SIGNATURE"
    assert (await _run(router, ADD, input=_signed(key, add), pop="not base64!"))[0]["problems"] == [
        {"field": "proofOfPossession", "reason": "not base64"}
    ]
    added = await _run(router, ADD, input=_signed(key, add), pop=_pop(new, add))
    assert added["addKey"]["keyId"] == new.key_id
    # the old key's validity ended: it can authorise nothing more
    third = OrganisationKey.generate()
    again = {**add, "public_key": third.public_key.hex()}
    refused = await _run(router, ADD, input=_signed(key, again), pop=_pop(third, again))
    assert refused[0]["code"] == "UNKNOWN_KEY"

    revoke = {"action": "key.revoke", "organisation": org["id"], "key_id": key.key_id}
    revoked = (await _run(router, REVOKE, input=_signed(new, revoke)))["revokeKey"]
    assert revoked["revokedAt"] is not None

    ins_doc = {
        "action": "installation.register",
        "organisation": org["id"],
        "name": "Works",
        "country": "DE",
        "un_locode": "DEHAM",
        "production_routes": ["P24"],
    }
    ins = (await _run(router, INSTALLATION, input=_signed(new, ins_doc)))["registerInstallation"]
    assert ins["region"] == "eu" and ins["id"].startswith("ins_eu_")
    line_doc = {
        "action": "product_line.register",
        "organisation": org["id"],
        "installation": ins["id"],
        "name": "Coil",
        "cn_codes": ["72081000"],
    }
    line = (await _run(router, PRODUCT_LINE, input=_signed(new, line_doc)))["registerProductLine"]
    assert line["cnCodes"] == ["72081000"]

    found = await _run(
        router,
        "query($id: ID!) { installation(id: $id) { productLines { id } } }",
        id=ins["id"],
    )
    assert found["installation"]["productLines"] == [{"id": line["id"]}]
    keys = await _run(
        router,
        "query($id: ID!) { organisation(id: $id) { keys { keyId revokedAt } } }",
        id=org["id"],
    )
    assert [k["keyId"] for k in keys["organisation"]["keys"]] == [key.key_id, new.key_id]


async def test_typed_errors(router: ShardRouter) -> None:
    key = OrganisationKey.generate()
    errors = await _run(router, REGISTER, input=_signed(key, _registration(key, "importer", "DE")))
    assert errors[0]["code"] == "BAD_USER_INPUT"
    assert "EORI" in str(errors[0]["problems"])
    doc = _registration(key, "importer", "DE", eori="DE12345")
    forged = {**_signed(key, doc), "signature": base64.b64encode(b"\0" * 64).decode()}
    assert (await _run(router, REGISTER, input=forged))[0]["code"] == "INVALID_SIGNATURE"
    importer = (await _run(router, REGISTER, input=_signed(key, doc)))["registerOrganisation"]
    assert importer["eori"] == "DE12345"

    ins_doc = {
        "action": "installation.register",
        "organisation": importer["id"],
        "name": "W",
        "country": "DE",
        "latitude": 53.5,
        "longitude": 10.0,
    }
    result = await _run(router, INSTALLATION, input=_signed(key, ins_doc))
    assert result[0]["code"] == "FORBIDDEN"
    stranger = OrganisationKey.generate()
    result = await _run(router, INSTALLATION, input=_signed(stranger, ins_doc))
    assert result[0]["code"] == "UNKNOWN_KEY"
    missing = "ins_eu_" + "0" * 32
    query = "query($id: ID!) { installation(id: $id) { id } }"
    assert (await _run(router, query, id=missing))[0]["code"] == "NOT_FOUND"
    bad_b64 = {**_signed(key, ins_doc), "signature": "not base64!"}
    assert (await _run(router, INSTALLATION, input=bad_b64))[0]["code"] == "BAD_USER_INPUT"
