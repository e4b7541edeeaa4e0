"""Authenticate every request to the protected paths before the app sees it.

Credentials that are presented and fail (bad signature, stale, unknown or revoked key, forged or
expired token) end the request here with 401. A request without credentials goes on as anonymous
(`state.caller` is None); the GraphQL layer then allows it only the self-proving registration
mutation (gateway/anonymous.py), so no data is ever served to nobody.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from .. import http_signatures as hs
from ..authentication import AuthenticationFailed, Authenticator
from .http import BodyTooLarge, headers_of, read_body, replay, send_error, url_of

CHALLENGE = {"WWW-Authenticate": 'Signature realm="cbamhub", Bearer realm="cbamhub"'}


class AuthenticationMiddleware:
    def __init__(self, app: ASGIApp, protected: tuple[str, ...], max_body: int) -> None:
        self.app = app
        self.protected = protected
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.protected):
            await self.app(scope, receive, send)
            return
        try:
            body = await read_body(receive, self.max_body)
        except BodyTooLarge:
            await send_error(
                send, 413, "PAYLOAD_TOO_LARGE", f"bodies are limited to {self.max_body} bytes"
            )
            return
        headers = headers_of(scope)
        request = hs.Request(scope["method"], url_of(scope, headers), headers, body)
        authenticator: Authenticator = scope["app"].state.authenticator
        try:
            caller = await authenticator.authenticate(request)
        except AuthenticationFailed as error:
            await send_error(send, 401, "UNAUTHENTICATED", error.message, CHALLENGE)
            return
        scope.setdefault("state", {})["caller"] = caller
        await self.app(scope, replay(body, receive), send)
