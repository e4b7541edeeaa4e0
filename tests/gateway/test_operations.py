"""Operations: liveness, readiness of every dependency, Prometheus metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from cbamhub.gateway.app import create_app
from cbamhub.vault import identities
from cbamhub.vault.models import OrganisationIn
from cbamhub.vault.shards import ShardRouter
from cbamhub.vault.signing import OrganisationKey
from gateway_hub import Hub

from cbamhub.client import SignedRequests
from cbamhub.settings import Settings


async def test_ready_when_every_shard_answers(hub: Hub) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        live = await client.get(f"{hub.url}/healthz")
        ready = await client.get(f"{hub.url}/readyz")
    assert live.status_code == 200
    assert ready.status_code == 200, ready.text
    checks = ready.json()["checks"]
    assert {k for k in checks if k.startswith("shard:")} == {"shard:eu", "shard:cn", "shard:row"}
    assert set(checks.values()) == {"ok"}


async def test_not_ready_while_redis_is_down(
    tmp_path: Path, serve_asgi: Callable[..., str], free_port: int
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        regions={"eu": f"sqlite+aiosqlite:///{tmp_path / 'eu.db'}"},
        country_regions={},
        default_region="eu",
        create_missing_keys=True,
        redis_url=f"redis://127.0.0.1:{free_port}/0",  # nothing listens there
    )
    url = serve_asgi(create_app(settings))
    async with httpx.AsyncClient(timeout=30) as client:
        ready = await client.get(f"{url}/readyz")
    assert ready.status_code == 503
    body = ready.json()
    assert body["ready"] is False and body["checks"]["shard:eu"] == "ok"
    assert "ConnectionError" in body["checks"]["redis"]


async def test_metrics_count_requests_by_operation_ingest_and_ledger_size(
    tmp_path: Path, serve_asgi: Callable[..., str]
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        regions={"eu": f"sqlite+aiosqlite:///{tmp_path / 'eu.db'}"},
        country_regions={},
        default_region="eu",
        create_missing_keys=True,
    )
    key = OrganisationKey.generate()
    state: dict[str, str] = {}

    async def on_startup(router: ShardRouter) -> None:
        org = OrganisationIn(role="regulator", legal_name="Reg", country="DE")
        state["org"] = await identities.register_organisation(router, org, key.public_key)

    url = serve_asgi(create_app(settings, on_startup=on_startup))
    async with httpx.AsyncClient(timeout=30, auth=SignedRequests(state["org"], key)) as client:
        for _ in range(3):
            assert (
                await client.post(f"{url}/graphql", json={"query": "{ regions }"})
            ).status_code == 200
        scraped = (await client.get(f"{url}/metrics")).text
    assert (
        'cbamhub_request_seconds_count{operation="query:regions",path="/graphql",status="200"} 3.0'
        in scraped
    )
    # one entry: the organisation's registration
    assert 'cbamhub_ledger_size{region="eu"} 1.0' in scraped
    assert (
        "cbamhub_final_checkpoint_age_seconds"
        not in scraped.split("# TYPE cbamhub_final_checkpoint_age_seconds gauge")[1]
    )


async def test_an_overloaded_replica_answers_503_at_once(
    tmp_path: Path, serve_asgi: Callable[..., str]
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        regions={"eu": f"sqlite+aiosqlite:///{tmp_path / 'eu.db'}"},
        country_regions={},
        default_region="eu",
        create_missing_keys=True,
        max_inflight_requests=1,
        max_request_bytes=10_000_000,
    )
    url = serve_asgi(create_app(settings))

    async def slow_body() -> Any:
        yield b"{"
        await asyncio.sleep(1.0)  # holds the one slot while its body trickles in
        yield b'"query": "{ regions }"}'

    async with httpx.AsyncClient(timeout=30) as client:
        holding = asyncio.create_task(client.post(f"{url}/graphql", content=slow_body()))
        await asyncio.sleep(0.3)
        refused = await client.post(f"{url}/graphql", json={"query": "{ regions }"})
        await holding
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["errors"][0]["extensions"]["code"] == "OVERLOADED"
