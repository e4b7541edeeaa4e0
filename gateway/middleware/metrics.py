"""Times every HTTP request into the gateway's latency histogram."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..metrics import Metrics

_KNOWN_PREFIXES = ("/graphql", "/auth/token", "/log", "/healthz", "/readyz", "/metrics")


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            path = next((p for p in _KNOWN_PREFIXES if scope["path"].startswith(p)), "other")
            operation = scope.get("state", {}).get("operation") or "-"
            metrics: Metrics = scope["app"].state.metrics
            metrics.requests.labels(path, operation, str(status)).observe(
                time.perf_counter() - started
            )
