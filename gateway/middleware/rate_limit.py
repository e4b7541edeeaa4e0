"""429 once an organisation (or an anonymous client address) exceeds its requests per minute."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from ..authentication import Caller
from ..rate_limits import RateLimiter
from .http import send_error


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, protected: tuple[str, ...]) -> None:
        self.app = app
        self.protected = protected

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.protected):
            await self.app(scope, receive, send)
            return
        caller: Caller | None = scope.get("state", {}).get("caller")
        client = (scope.get("client") or ("unknown", 0))[0]
        subject = caller.organisation_id if caller else f"anonymous:{client}"
        limiter: RateLimiter = scope["app"].state.rate_limiter
        verdict = await limiter.hit(subject)
        if not verdict.allowed:
            await send_error(
                send,
                429,
                "RATE_LIMITED",
                f"more than {limiter.limit} requests a minute from {subject}; "
                f"retry in {verdict.retry_after} s",
                {"Retry-After": str(verdict.retry_after)},
            )
            return
        await self.app(scope, receive, send)
