"""The OPA server engine: decisions over OPA's REST API with opa-python-client's async client.

Production runs the official OPA image beside the gateway (helm/); CI runs it against
`cbamhub.policies.opa_compatible`, which serves the same bundle. The client's own retries are off:
a slow or failing OPA must turn into a prompt denial, not a longer wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from opa_client.opa_async import AsyncOpaClient  # type: ignore[import-untyped]

from .bundle import PolicyBundle
from .errors import PolicyEngineError, PolicyLoadError


class OpaRestEngine:
    def __init__(self, url: str, *, timeout_seconds: float = 2.0, token: str | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"opa_url {url!r} is not an http(s) URL")
        self.url = url
        self._client = AsyncOpaClient(
            host=parts.hostname,
            port=parts.port or (443 if parts.scheme == "https" else 80),
            ssl=parts.scheme == "https",
            token=token,
            retries=0,
            timeout=timeout_seconds,
        )
        self._session_lock = asyncio.Lock()
        self._open = False

    async def _session(self) -> AsyncOpaClient:
        # aiohttp sessions belong to a running loop, so the session is opened on first use
        async with self._session_lock:
            if not self._open:
                await self._client._init_session()
                self._open = True
        return self._client

    async def evaluate(self, path: str, input: Mapping[str, Any]) -> Any:
        client = await self._session()
        try:
            body = await client.query_rule(input_data=dict(input), package_path=path)
        except Exception as exc:
            raise PolicyEngineError(f"OPA at {self.url} failed on {path}: {exc!r}") from exc
        if not isinstance(body, dict):
            raise PolicyEngineError(f"OPA at {self.url} answered {path} with a non-object")
        return body.get("result")

    async def ready(self) -> bool:
        client = await self._session()
        if not await client.check_health():
            return False
        try:
            return await self.evaluate("cbamhub/authz/ready", {}) is True
        except PolicyEngineError:
            return False

    async def push_bundle(self, bundle: PolicyBundle) -> None:
        """Uploads the bundle's policies and data (PUT /v1/policies/<file>, PUT /v1/data/<key>),
        for an OPA that is not fed by a bundle server. A policy OPA refuses raises PolicyLoadError."""
        client = await self._session()
        for module in bundle.modules:
            try:
                await client.update_policy_from_string(
                    module.source, module.name, rego_compat=False
                )
            except Exception as exc:
                raise PolicyLoadError(f"OPA at {self.url} refused {module.name}: {exc}") from exc
        for key, value in bundle.merged_data().items():
            try:
                await client.update_or_create_data(value, key)
            except Exception as exc:
                raise PolicyLoadError(f"OPA at {self.url} refused data {key}: {exc}") from exc

    async def aclose(self) -> None:
        async with self._session_lock:
            if self._open:
                await self._client.close_connection()
                self._open = False
