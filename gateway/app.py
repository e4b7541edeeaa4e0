"""The hub's HTTP front door: GraphQL, the regions' logs in the tlog-tiles layout, health.

Everything the app holds (shard router, witnessing tasks) lives in `app.state`, created by the lifespan
from one Settings object: no module-level state, so tests run several hubs in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from cbamhub.ledger.cosign import BlsPublicKey, WitnessPolicy
from cbamhub.ledger.tiles_http import create_tiles_app
from cbamhub.ledger.witness.client import WitnessClient
from cbamhub.ledger.witnessing import CheckpointWitnessing
from cbamhub.policies.engines import authorizer_from_settings
from cbamhub.vault.shards import ShardRouter
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL

from cbamhub.access import GrantSetCache
from cbamhub.settings import Settings

from .access_log_batches import AccessLogBatches
from .authentication import Authenticator, Caller
from .health import healthz, readyz
from .invalidation import follow_grant_changes
from .metrics import Metrics, metrics_endpoint
from .middleware.authentication import AuthenticationMiddleware
from .middleware.load_shedding import LoadSheddingMiddleware
from .middleware.metrics import MetricsMiddleware
from .middleware.rate_limit import RateLimitMiddleware
from .middleware.request_id import RequestIdMiddleware
from .rate_limits import InProcessRateLimiter, RateLimiter, RedisRateLimiter
from .record_events import RecordBus
from .record_queries import StoredRecordCache
from .schema import schema
from .subscriptions import authenticate_connection
from .tokens import TokenIssuer

StartupHook = Callable[[ShardRouter], Awaitable[None]]


class _GraphQL(GraphQL[dict[str, Any], None]):
    def encode_json(self, data: object) -> str:
        """Answers encoded by orjson: ~10x faster than the json module on a page of records with
        proofs (~0.2 ms a request, decision 0075). Text, not bytes: subscriptions' frames must be
        text frames (graphql-transport-ws), and strawberry sends bytes as binary ones."""
        return orjson.dumps(data).decode()

    async def get_context(self, request: Any, response: Any) -> dict[str, Any]:
        state = request.app.state
        return {
            "request": request,
            "response": response,
            "router": state.router,
            "access_log": state.access_log,
            "caller": request.scope.get("state", {}).get("caller"),
            "request_id": request.scope.get("state", {}).get("request_id"),
            "debug": request.app.debug,
        }

    async def on_ws_connect(self, context: dict[str, Any]) -> None:
        """Subscriptions authenticate with a bearer token in connection_init."""
        await authenticate_connection(context, context["request"].app.state.authenticator)


async def issue_token(request: Request) -> JSONResponse:
    """POST /auth/token, signed (RFC 9421): a bearer token for the signing organisation's key."""
    caller: Caller | None = request.scope.get("state", {}).get("caller")
    if caller is None or caller.method != "signature":
        return JSONResponse(
            {
                "errors": [
                    {
                        "message": "tokens are issued only for requests signed with the "
                        "organisation's key (RFC 9421), not for tokens",
                        "extensions": {"code": "UNAUTHENTICATED"},
                    }
                ]
            },
            status_code=401,
        )
    authenticator: Authenticator = request.app.state.authenticator
    token, claims = authenticator.tokens.issue(
        caller.organisation_id, caller.key_id, int(time.time())
    )
    return JSONResponse(
        {
            "token": token,
            "token_type": "Bearer",
            "organisation": caller.organisation_id,
            "expires_at": claims.expires_at,
            "expires_in": claims.expires_at - claims.issued_at,
        }
    )


def _rate_limiter(settings: Settings, redis: Redis | None) -> RateLimiter:
    if redis is not None:
        return RedisRateLimiter(redis, settings.rate_limit_per_minute)
    return InProcessRateLimiter(settings.rate_limit_per_minute)


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
        app.state.settings = settings
        app.state.metrics = Metrics()
        secret = bytes.fromhex(settings.auth_token_secret) if settings.auth_token_secret else None
        app.state.authenticator = Authenticator(
            router, settings, TokenIssuer(secret, settings.auth_token_ttl_seconds)
        )
        redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
        app.state.redis = redis
        authorizer = authorizer_from_settings(settings)
        app.state.authorizer = authorizer

        async def policy_ready() -> None:
            if not await authorizer.ready():
                raise RuntimeError(f"the {settings.policy_engine} policy engine does not answer")

        app.state.policy_ready = policy_ready
        app.state.record_bus = RecordBus(redis)
        app.state.grant_cache = GrantSetCache(settings.grant_cache_seconds)
        app.state.stored_cache = StoredRecordCache(settings.record_cache_seconds)
        app.state.access_log = AccessLogBatches(router)
        app.state.rate_limiter = _rate_limiter(settings, redis)
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
            if redis is not None:
                tasks.append(
                    asyncio.create_task(
                        follow_grant_changes(redis, authorizer, app.state.grant_cache, stop),
                        name="grant-changes",
                    )
                )
                tasks.append(
                    asyncio.create_task(app.state.record_bus.follow(stop), name="record-events")
                )
            if on_startup is not None:
                await on_startup(router)
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            await app.state.access_log.close()
            for client in clients:
                await client.aclose()
            await router.close()
            if redis is not None:
                await redis.aclose()
            await authorizer.aclose()

    protected = ("/graphql", "/auth/")
    app = Starlette(
        debug=debug,
        lifespan=lifespan,
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(MetricsMiddleware),
            Middleware(
                LoadSheddingMiddleware, protected=protected, limit=settings.max_inflight_requests
            ),
            Middleware(
                AuthenticationMiddleware, protected=protected, max_body=settings.max_request_bytes
            ),
            Middleware(RateLimitMiddleware, protected=protected),
        ],
    )
    graphql = _GraphQL(schema, graphql_ide="graphiql" if debug else None)
    app.router.routes.extend(
        [
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
            Route("/auth/token", issue_token, methods=["POST"]),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Mount("/log", app=_RegionLogs(app)),
        ]
    )
    return app
