"""Every request to the hub is an organisation's: signed (RFC 9421) or carrying a token obtained by
a signed request. Wrong, stale, forged, expired or revoked credentials get 401 with a clear message;
an anonymous request may only register an organisation; limits are per organisation."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cbamhub.gateway import http_signatures as hs
from cbamhub.gateway.app import create_app
from cbamhub.vault import identities
from cbamhub.vault.models import OrganisationIn
from cbamhub.vault.shards import ShardRouter
from cbamhub.vault.signing import OrganisationKey
from gateway_hub import signed_document_input

from cbamhub.client import BearerTokens, SignedRequests
from cbamhub.settings import Settings

REGIONS = "{ regions }"


class Running:
    def __init__(self, url: str, organisation: str, key: OrganisationKey) -> None:
        self.url, self.organisation, self.key = url, organisation, key

    @property
    def signed(self) -> SignedRequests:
        return SignedRequests(self.organisation, self.key)

    async def post(
        self, auth: httpx.Auth | None = None, query: str = REGIONS, **kw: Any
    ) -> httpx.Response:
        async with httpx.AsyncClient(timeout=30, auth=auth) as client:
            return await client.post(f"{self.url}/graphql", json={"query": query}, **kw)


@pytest.fixture
def start(tmp_path: Path, serve_asgi: Callable[..., str]) -> Callable[..., Running]:
    def start(**overrides: Any) -> Running:
        settings = Settings(
            data_dir=tmp_path,
            regions={"eu": f"sqlite+aiosqlite:///{tmp_path / 'eu.db'}"},
            country_regions={},
            default_region="eu",
            create_missing_keys=True,
            **overrides,
        )
        key = OrganisationKey.generate()
        registered: dict[str, str] = {}

        async def on_startup(router: ShardRouter) -> None:
            if "id" not in registered:
                org = OrganisationIn(
                    role="importer", legal_name="Imp", country="DE", eori="DE123456789012"
                )
                registered["id"] = await identities.register_organisation(
                    router, org, key.public_key
                )

        url = serve_asgi(create_app(settings, on_startup=on_startup))
        return Running(url, registered["id"], key)

    return start


def error_of(response: httpx.Response) -> tuple[str, str]:
    error = response.json()["errors"][0]
    return error["extensions"]["code"], error["message"]


async def test_a_signed_request_is_served(start: Callable[..., Running]) -> None:
    hub = start()
    response = await hub.post(hub.signed)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["regions"] == ["eu"]


async def test_an_anonymous_query_gets_401(start: Callable[..., Running]) -> None:
    hub = start()
    response = await hub.post(None)
    assert response.status_code == 401
    code, message = error_of(response)
    assert code == "UNAUTHENTICATED" and "regions need an authenticated organisation" in message


async def test_aliases_and_fragments_do_not_hide_a_private_field_from_the_guard(
    start: Callable[..., Running],
) -> None:
    hub = start()
    for query in (
        "{ r: regions }",
        "query { ...F } fragment F on Query { regions }",
        "query { ... on Query { regions } }",
        "{ __typename regions }",
    ):
        response = await hub.post(None, query)
        assert response.status_code == 401, query
        assert "data" not in response.json() or response.json()["data"] is None


async def test_anonymous_introspection_is_refused_outside_development(
    start: Callable[..., Running],
) -> None:
    hub = start()
    response = await hub.post(None, "{ __schema { queryType { name } } }")
    assert response.status_code == 401


async def test_only_registration_is_open_to_anonymous_callers(
    start: Callable[..., Running],
) -> None:
    hub = start()
    key = OrganisationKey.generate()
    document = {
        "action": "organisation.register",
        "role": "manufacturer",
        "legal_name": "New Steel",
        "country": "DE",
        "public_key": key.public_key.hex(),
    }
    signed = key.sign_document(document)
    mutation = (
        """mutation($input: SignedDocumentInput!) { registerOrganisation(input: $input) { id } }"""
    )
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            f"{hub.url}/graphql",
            json={
                "query": mutation,
                "variables": {"input": signed_document_input(signed)},
            },
        )
    assert response.status_code == 200, response.text
    new_id = response.json()["data"]["registerOrganisation"]["id"]
    # ...and the new organisation can sign requests at once.
    assert (await hub.post(SignedRequests(new_id, key))).status_code == 200


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (
            lambda h: {**h, "Content-Digest": hs.content_digest(b'{"query":"{ other }"}')},
            "does not match the body",
        ),
        (
            lambda h: {**h, "Signature": "sig1=:" + base64.b64encode(bytes(64)).decode() + ":"},
            "does not verify",
        ),
        (lambda h: {k: v for k, v in h.items() if k != "Signature"}, "no signature header"),
        (
            lambda h: {
                **h,
                "Signature-Input": h["Signature-Input"].replace("/ed25519", "x/ed25519"),
            },
            "not a org id",
        ),
    ],
)
async def test_a_tampered_signature_gets_401_with_the_reason(
    start: Callable[..., Running], tamper: Callable[[dict[str, str]], dict[str, str]], message: str
) -> None:
    hub = start()
    body = b'{"query":"{ regions }"}'
    url = f"{hub.url}/graphql"
    base = hs.Request(
        "POST", url, {"Host": url.split("/")[2], "Content-Type": "application/json"}, body
    )
    headers = {
        **base.headers,
        **hs.sign(base, hub.key.seed, f"{hub.organisation}/{hub.key.key_id}"),
    }
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(url, content=body, headers=tamper(headers))
    assert response.status_code == 401
    code, text = error_of(response)
    assert code == "UNAUTHENTICATED" and message in text, text
    assert "Signature" in response.headers["www-authenticate"]


async def test_a_stale_signature_gets_401(start: Callable[..., Running]) -> None:
    hub = start(auth_max_signature_age_seconds=60)
    body = b'{"query":"{ regions }"}'
    url = f"{hub.url}/graphql"
    base = hs.Request("POST", url, {"Host": url.split("/")[2]}, body)
    old = hs.sign(base, hub.key.seed, f"{hub.organisation}/{hub.key.key_id}", created=1_700_000_000)
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(url, content=body, headers=old)
    assert response.status_code == 401 and "older than 60 s" in error_of(response)[1]


async def test_an_unknown_key_or_organisation_gets_401(start: Callable[..., Running]) -> None:
    hub = start()
    stranger = OrganisationKey.generate()
    response = await hub.post(SignedRequests(hub.organisation, stranger))
    assert response.status_code == 401 and stranger.key_id in error_of(response)[1]
    ghost = hub.organisation[:-4] + "0000"
    response = await hub.post(SignedRequests(ghost, hub.key))
    assert response.status_code == 401


async def test_a_token_is_obtained_with_a_signature_and_used_as_bearer(
    start: Callable[..., Running],
) -> None:
    hub = start()
    tokens = BearerTokens(hub.url, hub.signed)
    for _ in range(3):
        response = await hub.post(tokens)
        assert response.status_code == 200, response.text
    async with httpx.AsyncClient(timeout=30) as client:
        issued = await client.post(f"{hub.url}/auth/token", auth=hub.signed)
        token = issued.json()["token"]
        again = await client.post(
            f"{hub.url}/auth/token", headers={"Authorization": f"Bearer {token}"}
        )
        forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
        refused = await client.post(
            f"{hub.url}/graphql",
            json={"query": REGIONS},
            headers={"Authorization": f"Bearer {forged}"},
        )
        basic = await client.post(
            f"{hub.url}/graphql", json={"query": REGIONS}, headers={"Authorization": "Basic eDp5"}
        )
    assert again.status_code == 401 and "only for requests signed" in error_of(again)[1]
    assert refused.status_code == 401 and "not issued by this hub" in error_of(refused)[1]
    assert basic.status_code == 401 and "Bearer" in error_of(basic)[1]


async def test_an_expired_token_gets_401(start: Callable[..., Running]) -> None:
    hub = start(auth_token_ttl_seconds=1)
    async with httpx.AsyncClient(timeout=30) as client:
        token = (await client.post(f"{hub.url}/auth/token", auth=hub.signed)).json()["token"]
        await asyncio.sleep(1.2)
        response = await client.post(
            f"{hub.url}/graphql",
            json={"query": REGIONS},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 401 and "expired" in error_of(response)[1]


async def test_a_revoked_key_stops_signatures_and_its_tokens_within_a_second(
    start: Callable[..., Running],
) -> None:
    hub = start()
    async with httpx.AsyncClient(timeout=30) as client:
        token = (await client.post(f"{hub.url}/auth/token", auth=hub.signed)).json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await hub.post(None, headers=bearer)).status_code == 200
    second = OrganisationKey.generate()
    add = hub.key.sign_document(
        {
            "action": "key.add",
            "organisation": hub.organisation,
            "public_key": second.public_key.hex(),
        }
    )
    mutation = """mutation($input: SignedDocumentInput!) { %s(input: $input) { keyId } }"""

    def variables(signed: Any) -> dict[str, Any]:
        return {"input": signed_document_input(signed)}

    add_key = """mutation($input: SignedDocumentInput!, $pop: String) {
      addKey(input: $input, proofOfPossession: $pop) { keyId }
    }"""
    pop = base64.b64encode(second.sign_document(json.loads(add.payload)).signature).decode()
    async with httpx.AsyncClient(timeout=30, auth=hub.signed) as client:
        added = await client.post(
            f"{hub.url}/graphql",
            json={"query": add_key, "variables": {**variables(add), "pop": pop}},
        )
    assert "errors" not in added.json(), added.text
    revoke = second.sign_document(
        {
            "action": "key.revoke",
            "organisation": hub.organisation,
            "key_id": hub.key.key_id,
            "reason": "laptop lost",
        }
    )
    async with httpx.AsyncClient(
        timeout=30, auth=SignedRequests(hub.organisation, second)
    ) as client:
        revoked = await client.post(
            f"{hub.url}/graphql",
            json={"query": mutation % "revokeKey", "variables": variables(revoke)},
        )
    assert "errors" not in revoked.json(), revoked.text
    await asyncio.sleep(1.1)  # auth_key_cache_seconds
    by_signature = await hub.post(hub.signed)
    by_token = await hub.post(None, headers=bearer)
    assert by_signature.status_code == 401 and "revoked" in error_of(by_signature)[1]
    assert by_token.status_code == 401 and "revoked" in error_of(by_token)[1]
    assert (await hub.post(SignedRequests(hub.organisation, second))).status_code == 200


async def test_requests_beyond_the_limit_get_429_with_retry_after(
    start: Callable[..., Running],
) -> None:
    hub = start(rate_limit_per_minute=3)
    statuses = [(await hub.post(hub.signed)).status_code for _ in range(4)]
    assert statuses[:3] == [200, 200, 200]
    response = await hub.post(hub.signed)
    assert response.status_code == 429 and error_of(response)[0] == "RATE_LIMITED"
    assert 1 <= int(response.headers["retry-after"]) <= 60


async def test_two_replicas_share_one_limit_through_redis(
    tmp_path: Path, serve_asgi: Callable[..., str], redis_url: str
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        regions={"eu": f"sqlite+aiosqlite:///{tmp_path / 'eu.db'}"},
        country_regions={},
        default_region="eu",
        create_missing_keys=True,
        rate_limit_per_minute=4,
        redis_url=redis_url,
    )
    key = OrganisationKey.generate()
    registered: dict[str, str] = {}

    async def on_startup(router: ShardRouter) -> None:
        if "id" not in registered:
            org = OrganisationIn(role="regulator", legal_name="Reg", country="DE")
            registered["id"] = await identities.register_organisation(router, org, key.public_key)

    replicas = [serve_asgi(create_app(settings, on_startup=on_startup)) for _ in range(2)]
    auth = SignedRequests(registered["id"], key)
    statuses = []
    async with httpx.AsyncClient(timeout=30, auth=auth) as client:
        for i in range(6):
            response = await client.post(f"{replicas[i % 2]}/graphql", json={"query": REGIONS})
            statuses.append(response.status_code)
    assert statuses == [200, 200, 200, 200, 429, 429]


async def test_every_response_carries_a_request_id(start: Callable[..., Running]) -> None:
    hub = start()
    mine = await hub.post(hub.signed, headers={"X-Request-ID": "erp-42"})
    made = await hub.post(None)
    assert mine.headers["x-request-id"] == "erp-42"
    assert len(made.headers["x-request-id"]) == 32


async def test_an_oversized_body_gets_413(start: Callable[..., Running]) -> None:
    hub = start(max_request_bytes=1000)
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(f"{hub.url}/graphql", content=b"x" * 5000)
    assert response.status_code == 413 and error_of(response)[0] == "PAYLOAD_TOO_LARGE"


async def test_each_request_leaves_one_json_access_line_with_its_id(
    start: Callable[..., Running], caplog: pytest.LogCaptureFixture
) -> None:
    import json as json_module
    import logging

    hub = start()
    with caplog.at_level(logging.INFO, logger="cbamhub.gateway.access"):
        await hub.post(hub.signed, headers={"X-Request-ID": "erp-99"})
        await asyncio.sleep(0.1)
    lines = [
        json_module.loads(r.getMessage())
        for r in caplog.records
        if r.name == "cbamhub.gateway.access"
    ]
    (line,) = [entry for entry in lines if entry["request_id"] == "erp-99"]
    assert line["status"] == 200 and line["organisation"] == hub.organisation
    assert line["operation"] == "query:regions" and line["path"] == "/graphql"
