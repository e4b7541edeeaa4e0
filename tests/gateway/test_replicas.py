"""Several stateless gateway replicas over the same shards, sharing Redis: a grant revoked through
one replica stops the importer's reads on every replica within one second, warm caches included."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from cbamhub.gateway.app import create_app
from gateway_hub import signed_document_input
from gateway_world import FORBIDDEN, FULL, RECORD, World, build, world_settings


async def test_a_revocation_stops_reads_on_every_replica_within_a_second(
    tmp_path: Path, serve_asgi: Callable[..., str], redis_url: str
) -> None:
    settings = world_settings(tmp_path, redis_url=redis_url)
    built: dict[str, Any] = {}
    first = serve_asgi(create_app(settings, on_startup=lambda router: build(router, built)))
    second = serve_asgi(create_app(settings))
    on = {url: World(url, built["orgs"], built["records"]) for url in (first, second)}

    async def seen(url: str) -> str:
        body = await on[url].gql("I_row", RECORD, id=built["records"]["rTR"])
        return body["errors"][0]["extensions"]["code"] if body.get("errors") else FULL

    for _ in range(3):  # warm every cache on both replicas
        assert [await seen(first), await seen(second)] == [FULL, FULL]

    grants = (await on[first].gql("M", "{ grants { id importerId } }"))["data"]["grants"]
    (grant,) = [g for g in grants if g["importerId"] == built["orgs"]["I_row"][0]]
    signed = built["orgs"]["M"][1].sign_document({"action": "grant.revoke", "grant": grant["id"]})
    revoked_at = time.monotonic()
    body = await on[first].gql(
        "M",
        "mutation($i: SignedDocumentInput!) { revokeGrant(input: $i) { revokedAt } }",
        i=signed_document_input(signed),
    )
    assert "errors" not in body, body
    while True:
        states = [await seen(first), await seen(second)]
        elapsed = time.monotonic() - revoked_at
        if states == [FORBIDDEN, FORBIDDEN]:
            break
        assert elapsed < 1.0, f"still {states} {elapsed:.2f} s after the revocation"
        await asyncio.sleep(0.05)


async def test_replicas_accept_each_others_tokens_with_a_shared_secret(
    tmp_path: Path, serve_asgi: Callable[..., str], redis_url: str
) -> None:
    settings = world_settings(tmp_path, redis_url=redis_url, auth_token_secret="ab" * 32)
    built: dict[str, Any] = {}
    first = serve_asgi(create_app(settings, on_startup=lambda router: build(router, built)))
    second = serve_asgi(create_app(settings))
    world = World(first, built["orgs"], built["records"])
    async with httpx.AsyncClient(timeout=30) as client:
        token = (await client.post(f"{first}/auth/token", auth=world.auth("I_row"))).json()["token"]
        response = await client.post(
            f"{second}/graphql",
            json={"query": RECORD, "variables": {"id": built["records"]["rTR"]}},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["record"]["seeDirect"] == 1.9
