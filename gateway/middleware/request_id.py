"""A request id on every request and response, and one structured JSON access-log line each.

The id is taken from an incoming X-Request-ID when it is short and printable (so a caller can follow
its own id through), otherwise made here; it is what a manufacturer's access log names.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .http import headers_of

LOG = logging.getLogger("cbamhub.gateway.access")
_ACCEPTABLE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = headers_of(scope).get("x-request-id", "")
        request_id = incoming if _ACCEPTABLE.match(incoming) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if LOG.isEnabledFor(logging.INFO):
                _log(request_id, state, scope, status, started)


def _log(request_id: str, state: dict[str, Any], scope: Scope, status: int, started: float) -> None:
    caller = state.get("caller")
    LOG.info(
        json.dumps(
            {
                "request_id": request_id,
                "method": scope.get("method", "WS"),
                "path": scope["path"],
                "status": status,
                "organisation": getattr(caller, "organisation_id", None),
                "operation": state.get("operation"),
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            },
            separators=(",", ":"),
        )
    )
