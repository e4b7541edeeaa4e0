"""Refuse work beyond what the process can finish: 503 with Retry-After once `limit` requests to the
protected paths are in flight. Without it an overloaded replica queues requests whose clients have
long given up, answers none in time, and finally fails with an exhausted connection pool."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from .http import send_error


class LoadSheddingMiddleware:
    def __init__(self, app: ASGIApp, protected: tuple[str, ...], limit: int) -> None:
        self.app = app
        self.protected = protected
        self.limit = limit
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.protected):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            await send_error(
                send,
                503,
                "OVERLOADED",
                f"this replica is answering {self.limit} requests already; retry shortly",
                {"Retry-After": "1"},
            )
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
