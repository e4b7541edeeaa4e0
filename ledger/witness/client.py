"""Async client of a tlog-witness: submit a checkpoint, get cosignature lines or a typed refusal."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

import httpx

from ..note import MalformedNoteError, parse_signature_lines
from .protocol import SIZE_CONTENT_TYPE, AddCheckpointRequest, parse_size


class WitnessError(Exception):
    """The witness did not cosign. `status` is the HTTP status (0 when it could not be reached)."""

    def __init__(self, url: str, status: int, message: str) -> None:
        super().__init__(f"witness {url}: {status or 'unreachable'}: {message}")
        self.url = url
        self.status = status
        self.message = message


class BadRequest(WitnessError):
    """400: the witness found the request malformed (or old size above the checkpoint size)."""


class LogSignatureRejected(WitnessError):
    """403: no signature on the checkpoint verified against the witness's key for the log."""


class UnknownLog(WitnessError):
    """404: the witness is not configured for this log origin."""


class Conflict(WitnessError):
    """409: `old` was not the witness's latest size, or same size with another root (split view)."""

    def __init__(self, url: str, message: str, latest_size: int) -> None:
        super().__init__(url, 409, message)
        self.latest_size = latest_size


class InconsistentProof(WitnessError):
    """422: the consistency proof does not link the witness's latest checkpoint to this one."""


class WitnessUnavailable(WitnessError):
    """Network failure, timeout, a server error or an answer outside the protocol."""


_BY_STATUS: dict[int, type[WitnessError]] = {
    400: BadRequest,
    403: LogSignatureRejected,
    404: UnknownLog,
    422: InconsistentProof,
}


class WitnessClient:
    """Talks to one witness; `url` is its submission prefix, e.g. "https://w.example/witness"."""

    def __init__(
        self, url: str, *, timeout: float = 10.0, http: httpx.AsyncClient | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self._http = http if http is not None else httpx.AsyncClient(timeout=timeout)
        self._owns_http = http is None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def add_checkpoint(
        self, old_size: int, proof: Sequence[bytes], signed_note: bytes | str
    ) -> list[str]:
        """Submit a signed checkpoint; return the cosignature lines (each ending in a newline)."""
        body = AddCheckpointRequest.build(old_size, proof, signed_note).to_bytes()
        try:
            response = await self._http.post(f"{self.url}/add-checkpoint", content=body)
        except httpx.HTTPError as exc:
            raise WitnessUnavailable(self.url, 0, f"{type(exc).__name__}: {exc}") from exc
        text = response.text
        if response.status_code == 200:
            try:
                lines = [s.line() for s in parse_signature_lines(text)]
            except MalformedNoteError as exc:
                raise WitnessUnavailable(
                    self.url, 200, f"answer is not signature lines: {exc}"
                ) from exc
            if not lines:
                raise WitnessUnavailable(self.url, 200, "answer holds no cosignature")
            return lines
        if response.status_code == 409:
            content_type = response.headers.get("content-type", "").split(";")[0].strip()
            try:
                if content_type != SIZE_CONTENT_TYPE:
                    raise ValueError(f"content type {content_type!r}, not {SIZE_CONTENT_TYPE}")
                latest = parse_size(response.content)
            except ValueError as exc:
                raise WitnessUnavailable(
                    self.url, 409, f"malformed conflict answer: {exc}"
                ) from exc
            raise Conflict(self.url, f"witness is at size {latest}", latest)
        kind = _BY_STATUS.get(response.status_code, WitnessUnavailable)
        raise kind(self.url, response.status_code, text.strip()[:500])

    async def refusals(self, origin: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The witness's recorded refusals, newest first (its `/refusals` listing)."""
        params: dict[str, str | int] = {"limit": limit}
        if origin is not None:
            params["origin"] = origin
        try:
            response = await self._http.get(f"{self.url}/refusals", params=params)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise WitnessUnavailable(self.url, 0, f"{type(exc).__name__}: {exc}") from exc
        result: list[dict[str, Any]] = response.json()
        return result
