"""Subscriptions over graphql-transport-ws: an importer hears of records verified on the product lines
it may read — on any replica, through Redis — and nothing else; a connection without a valid token is
refused."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from cbamhub.gateway.app import create_app
from gateway_hub import signed_document_input
from gateway_world import World, build, world_settings

SUBSCRIBE = "subscription { verifiedRecords { id status seeDirect visibleFields } }"


async def token_of(world: World, name: str) -> str:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(f"{world.url}/auth/token", auth=world.auth(name))
    token: str = response.json()["token"]
    return token


async def subscribe(url: str, token: str | None) -> Any:
    ws = await websockets.connect(
        url.replace("http://", "ws://") + "/graphql", subprotocols=["graphql-transport-ws"]
    )
    payload = {"Authorization": f"Bearer {token}"} if token else {}
    await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
    ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert ack["type"] == "connection_ack", ack
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}}))
    return ws


async def attest(world: World, record: str) -> None:
    verifier, key = world.orgs["V"]
    signed = key.sign_document(
        {
            "action": "record.attest",
            "record": world.records[record],
            "verifier": verifier,
            "opinion": "reasonable assurance",
        }
    )
    body = await world.gql(
        "V",
        "mutation($i: SignedDocumentInput!) { attestRecord(input: $i) { kind } }",
        i=signed_document_input(signed),
    )
    assert "errors" not in body, body


async def next_message(ws: Any, seconds: float) -> dict[str, Any] | None:
    try:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), seconds))
    except TimeoutError:
        return None
    return message


@pytest.mark.parametrize("replicas", [1, 2])
async def test_a_verified_record_reaches_exactly_its_readers(
    tmp_path: Path, serve_asgi: Callable[..., str], redis_url: str, replicas: int
) -> None:
    settings = world_settings(
        tmp_path, redis_url=redis_url if replicas == 2 else None, auth_token_secret="cd" * 32
    )
    built: dict[str, Any] = {}
    first = serve_asgi(create_app(settings, on_startup=lambda router: build(router, built)))
    other = serve_asgi(create_app(settings)) if replicas == 2 else first
    world = World(first, built["orgs"], built["records"])
    granted = await subscribe(other, await token_of(world, "I_row"))
    ungranted = await subscribe(other, await token_of(world, "I_none"))
    await asyncio.sleep(0.3)  # both subscriptions are listening
    await attest(world, "rTR")
    message = await next_message(granted, 10)
    assert message is not None and message["type"] == "next", message
    record = message["payload"]["data"]["verifiedRecords"]
    assert record["id"] == world.records["rTR"] and record["status"] == "verified"
    assert record["seeDirect"] == 1.9 and record["visibleFields"] is None
    assert await next_message(ungranted, 1.0) is None
    for ws in (granted, ungranted):
        await ws.close()
    log = await world.gql("M", "{ accessLog { recordId readerId } }")
    assert {"recordId": world.records["rTR"], "readerId": world.orgs["I_row"][0]} in log["data"][
        "accessLog"
    ]


@pytest.mark.parametrize("token", [None, "cbt1.forged.token"])
async def test_a_connection_without_a_valid_token_is_refused(
    tmp_path: Path, serve_asgi: Callable[..., str], token: str | None
) -> None:
    url = serve_asgi(create_app(world_settings(tmp_path)))
    ws = await websockets.connect(
        url.replace("http://", "ws://") + "/graphql", subprotocols=["graphql-transport-ws"]
    )
    payload = {"Authorization": f"Bearer {token}"} if token else {}
    await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
