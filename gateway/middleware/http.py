"""Small ASGI helpers shared by the middleware: headers, whole-body reads, JSON error answers."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    pass


def headers_of(scope: Scope) -> dict[str, str]:
    """Header fields by lower-case name; repeated fields joined with ', ' (RFC 9110 §5.3)."""
    merged: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1").strip()
        merged[name] = f"{merged[name]}, {value}" if name in merged else value
    return merged


def url_of(scope: Scope, headers: dict[str, str]) -> str:
    host = headers.get("host") or "{}:{}".format(*scope.get("server") or ("localhost", 80))
    path = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string", b"")
    url = f"{scope.get('scheme', 'http')}://{host}{path.decode('latin-1')}"
    return f"{url}?{query.decode('latin-1')}" if query else url


async def read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the already-read body to the app, then defers to the real one."""
    sent = False

    async def receive_again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return receive_again


async def send_error(
    send: Send, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> None:
    """A GraphQL-shaped error body, so clients read `extensions.code` whatever refused them."""
    body = json.dumps({"errors": [{"message": message, "extensions": {"code": code}}]}).encode()
    raw: list[Any] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
