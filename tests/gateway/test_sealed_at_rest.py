"""Payloads are sealed at rest per region: a stolen shard database file leaks no emissions figures,
and neither a plain hash nor the signature of a payload is stored where it could confirm a guess."""

from __future__ import annotations

import hashlib
from pathlib import Path

import sqlalchemy as sa
from gateway_hub import Hub
from sqlalchemy.ext.asyncio import create_async_engine

PUBLISH = """mutation($input: SignedRecordInput!) { publishRecord(input: $input) { recordId } }"""


async def test_the_figures_are_not_in_the_database_but_come_back_to_readers(
    hub: Hub, region_urls: dict[str, str]
) -> None:
    document = hub.record(see_direct=9.87654321)
    signed = hub.signed_input(document)
    record_id = (await hub.gql(PUBLISH, input=signed))["data"]["publishRecord"]["recordId"]

    engine = create_async_engine(region_urls["row"])
    try:
        async with engine.connect() as conn:
            row = (
                await conn.execute(sa.text("SELECT payload, signature, replay_digest FROM records"))
            ).one()
    finally:
        await engine.dispose()
    payload = signed["payload"].encode()
    assert b"9.87654321" not in row.payload
    assert row.replay_digest != hashlib.sha256(payload).digest()
    import base64

    assert row.signature != base64.b64decode(signed["signature"])

    if region_urls["row"].startswith("sqlite"):
        raw = b"".join(
            p.read_bytes()
            for p in Path(region_urls["row"].split("///", 1)[1]).parent.glob("shard-row.db*")
        )
        assert b"9.87654321" not in raw

    body = await hub.gql(
        "query($id: ID!) { record(id: $id) { seeDirect signature } }", id=record_id
    )
    assert body["data"]["record"]["seeDirect"] == 9.87654321
    assert body["data"]["record"]["signature"] == signed["signature"]
