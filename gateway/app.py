"""The hub's HTTP front door: GraphQL, the regions' logs in the tlog-tiles layout, health.

Everything the app holds (shard router, witnessing tasks) lives in `app.state`, created by the lifespan
from one Settings object: no module-level state, so tests run several hubs in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from cbamhub.ledger.cosign import BlsPublicKey, WitnessPolicy
from cbamhub.ledger.tiles_http import create_tiles_app
from cbamhub.ledger.witness.client import WitnessClient
from cbamhub.ledger.witnessing import CheckpointWitnessing
from cbamhub.vault.shards import ShardRouter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL

from cbamhub.settings import Settings

from .schema import schema

StartupHook = Callable[[ShardRouter], Awaitable[None]]


class _GraphQL(GraphQL[dict[str, Any], None]):
    async def get_context(self, request: Any, response: Any) -> dict[str, Any]:
        return {"request": request, "response": response, "router": request.app.state.router}


class _RegionLogs:
    """Serves /log/<region>/... from that region's log (tlog-tiles layout, read-only)."""

    def __init__(self, app: Starlette) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        root, path = scope.get("root_path", ""), scope["path"]
        route = path[len(root) :] if path.startswith(root) else path
        region, _, _ = route.lstrip("/").partition("/")
        apps: dict[str, Any] = self._app.state.tiles_apps
        if region not in apps:
            response = PlainTextResponse(f"no log for region {region!r}\n", status_code=404)
            await response(scope, receive, send)
            return
        child = dict(scope)
        child["root_path"] = scope.get("root_path", "") + f"/{region}"
        await apps[region](child, receive, send)


def witness_policy(settings: Settings) -> WitnessPolicy:
    keys = {
        w.name: BlsPublicKey(
            bytes.fromhex(w.bls_public_key), bytes.fromhex(w.bls_proof_of_possession)
        )
        for w in settings.witnesses
    }
    return WitnessPolicy(keys, settings.witness_threshold)


def create_app(
    settings: Settings, *, debug: bool = False, on_startup: StartupHook | None = None
) -> Starlette:
    """Build the hub. `on_startup` runs once the shards are open (the demo seeds data there)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        router = await ShardRouter.open(settings)
        app.state.router = router
        app.state.tiles_apps = {r: create_tiles_app(router.shard(r).log) for r in router.regions}
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        clients: list[WitnessClient] = []
        try:
            if settings.witnesses and settings.witness_threshold:
                policy = witness_policy(settings)
                clients = [WitnessClient(w.url) for w in settings.witnesses]
                for region in router.regions:
                    witnessing = CheckpointWitnessing(router.shard(region).log, clients, policy)
                    tasks.append(
                        asyncio.create_task(
                            witnessing.run(settings.witness_interval_seconds, stop),
                            name=f"witnessing-{region}",
                        )
                    )
            if on_startup is not None:
                await on_startup(router)
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            for client in clients:
                await client.aclose()
            await router.close()

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "regions": request.app.state.router.regions})

    app = Starlette(debug=debug, lifespan=lifespan)
    graphql = _GraphQL(schema, graphql_ide="graphiql" if debug else None)
    app.router.routes.extend(
        [
            Route("/healthz", healthz),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Mount("/log", app=_RegionLogs(app)),
        ]
    )
    return app
