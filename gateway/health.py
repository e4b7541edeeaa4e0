"""Liveness and readiness.

`/healthz` answers while the process runs. `/readyz` answers 200 only when every region's shard
answers a query, the policy engine answers, and Redis (if configured) answers a PING, each within a
short deadline; otherwise 503 naming what is down, so a load balancer stops sending traffic to a
replica that would only fail or (worse) deny everything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse

CHECK_SECONDS = 2.0


async def _check(probe: Callable[[], Awaitable[Any]]) -> str:
    try:
        await asyncio.wait_for(probe(), CHECK_SECONDS)
    except TimeoutError:
        return f"no answer within {CHECK_SECONDS} s"
    except Exception as error:  # readiness reports every failure, whatever its type
        return f"{type(error).__name__}: {error}"
    return "ok"


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "regions": request.app.state.router.regions})


async def readyz(request: Request) -> JSONResponse:
    state = request.app.state
    probes: dict[str, Callable[[], Awaitable[Any]]] = {}
    for region in state.router.regions:
        engine = state.router.shard(region).engine

        async def shard(engine: Any = engine) -> None:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))

        probes[f"shard:{region}"] = shard
    policy = getattr(state, "policy_ready", None)
    if policy is not None:
        probes["policy"] = policy
    if state.redis is not None:
        probes["redis"] = state.redis.ping
    names = list(probes)
    results = await asyncio.gather(*(_check(probes[n]) for n in names))
    checks = dict(zip(names, results, strict=True))
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)
