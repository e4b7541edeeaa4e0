"""The witness service: a Starlette app speaking c2sp.org/tlog-witness.

`POST <prefix>/add-checkpoint` answers, per spec: 404 unknown origin, 403 no valid log signature,
400 malformed (or old size above the checkpoint size, or a proof from size 0), 409 when `old` is not
the witness's latest size (body: that size, `text/x.tlog.size`) and also for a split view (same size,
different root), 422 bad consistency proof, 200 with two cosignature lines: Ed25519 cosignature/v1
and the BLS line (see `cosign`). The first checkpoint of a log is trusted on first use.

Every refusal of a checkpoint that carries a valid log signature is recorded with its evidence and
listed by `GET <prefix>/refusals` (JSON, newest first, `?origin=` and `?limit=`). Requests with no
valid log signature (403/404/malformed) are not recorded: anyone can send them, so they prove nothing
about the log and would only let strangers fill the database.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ..checkpoint import Checkpoint, MalformedCheckpointError
from ..cosign import BlsPublicKey, BlsSigner, CosignatureSigner
from ..note import Ed25519Verifier, MalformedNoteError, Note, verify_note
from ..verify import EMPTY_ROOT, VerificationError, verify_consistency
from .protocol import (
    SIZE_CONTENT_TYPE,
    AddCheckpointRequest,
    MalformedRequestError,
    format_size,
)
from .store import LogState, WitnessStore


@dataclass(frozen=True)
class WitnessConfig:
    """Everything a witness needs: its identity and keys, the logs it watches, where it remembers."""

    name: str
    ed25519_seed: bytes
    bls_secret: bytes
    logs: Mapping[str, str]
    """origin -> the log's Ed25519 verifier key (Go vkey format)."""
    database_url: str
    prefix: str = ""
    max_body_bytes: int = 64 * 1024
    _verifiers: dict[str, Ed25519Verifier] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.prefix and (not self.prefix.startswith("/") or self.prefix.endswith("/")):
            raise ValueError(f"prefix {self.prefix!r} must start with '/' and not end with one")
        CosignatureSigner(self.name, self.ed25519_seed)  # fail fast on a bad name or seed
        BlsSigner(self.name, self.bls_secret)
        verifiers = {origin: Ed25519Verifier.from_vkey(vkey) for origin, vkey in self.logs.items()}
        object.__setattr__(self, "_verifiers", verifiers)

    def log_verifier(self, origin: str) -> Ed25519Verifier | None:
        return self._verifiers.get(origin)

    def cosigner(self) -> CosignatureSigner:
        return CosignatureSigner(self.name, self.ed25519_seed)

    def bls_signer(self) -> BlsSigner:
        return BlsSigner(self.name, self.bls_secret)

    def cosignature_vkey(self) -> str:
        """What clients configure to check this witness's Ed25519 cosignatures."""
        return self.cosigner().vkey()

    def bls_public_key(self) -> BlsPublicKey:
        """What a WitnessPolicy needs for this witness (key + proof of possession)."""
        return self.bls_signer().public()


class _Refused(Exception):
    """Internal: answer with `status` and `message`; record it when `reason` is set."""

    def __init__(
        self, status: int, message: str, reason: str | None = None, body: bytes | None = None
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason
        self.body = body


class _Witness:
    def __init__(self, config: WitnessConfig) -> None:
        self.config = config
        self.store = WitnessStore(config.database_url)
        self.cosigner = config.cosigner()
        self.bls = config.bls_signer()
        self.locks = {origin: asyncio.Lock() for origin in config.logs}

    async def add_checkpoint(self, request: Request) -> Response:
        body = await _read_limited(request, self.config.max_body_bytes)
        if body is None:
            return PlainTextResponse("request body too large", status_code=413)
        try:
            submission = AddCheckpointRequest.parse(body)
            note = Note.parse(submission.note)
            checkpoint = Checkpoint.parse(note.text)
        except (MalformedRequestError, MalformedNoteError, MalformedCheckpointError) as exc:
            return PlainTextResponse(f"malformed request: {exc}\n", status_code=400)
        verifier = self.config.log_verifier(checkpoint.origin)
        if verifier is None:
            return PlainTextResponse(f"unknown log origin {checkpoint.origin!r}\n", status_code=404)
        try:
            verify_note(note, [verifier])
        except VerificationError as exc:
            return PlainTextResponse(f"log signature rejected: {exc}\n", status_code=403)

        async with self.locks[checkpoint.origin]:
            latest = await self.store.latest(checkpoint.origin)
            try:
                await self._check(submission, checkpoint, latest)
                new = LogState(checkpoint.origin, checkpoint.size, checkpoint.root, note.to_text())
                if not await self.store.advance(latest, new):
                    current = await self.store.latest(checkpoint.origin)
                    size = 0 if current is None else current.size
                    raise _Refused(
                        409, "state changed concurrently", "concurrent-update", format_size(size)
                    )
            except _Refused as refused:
                if refused.reason is not None:
                    await self.store.record_refusal(
                        origin=checkpoint.origin,
                        reason=refused.reason,
                        status=refused.status,
                        detail=refused.message,
                        old_size=submission.old_size,
                        new_size=checkpoint.size,
                        new_root=checkpoint.root,
                        note=note.to_text(),
                        latest=latest,
                    )
                if refused.body is not None:
                    return Response(refused.body, refused.status, media_type=SIZE_CONTENT_TYPE)
                return PlainTextResponse(refused.message + "\n", status_code=refused.status)

        lines = await asyncio.to_thread(self._cosign, checkpoint)
        return PlainTextResponse(lines)

    async def _check(
        self, submission: AddCheckpointRequest, checkpoint: Checkpoint, latest: LogState | None
    ) -> None:
        """Raise _Refused unless `checkpoint` may replace `latest` (the witness's view of the log)."""
        old, proof = submission.old_size, submission.proof
        if old > checkpoint.size:
            raise _Refused(
                400, f"old size {old} exceeds checkpoint size {checkpoint.size}", "old-size-too-big"
            )
        latest_size = 0 if latest is None else latest.size
        if old != latest_size:
            raise _Refused(
                409, f"old size {old} is not the latest size {latest_size}", "stale-old-size",
                format_size(latest_size),
            )  # fmt: skip
        if latest is not None and checkpoint.size == latest.size:
            if checkpoint.root != latest.root:
                raise _Refused(
                    409,
                    f"split view: size {checkpoint.size} was cosigned with root {latest.root.hex()}, "
                    f"now presented with root {checkpoint.root.hex()}",
                    "split-view",
                    format_size(latest.size),
                )
            if proof:
                raise _Refused(
                    422, "a consistency proof between equal sizes must be empty", "bad-proof"
                )
            return
        if checkpoint.size == 0 and checkpoint.root != EMPTY_ROOT:
            raise _Refused(
                422, "an empty tree's root must be SHA-256 of the empty string", "bad-empty-root"
            )
        if latest_size == 0:
            if proof:
                raise _Refused(
                    400, "the proof must be empty when the old size is 0", "proof-from-zero"
                )
            return  # trust on first use (or growth from the empty tree)
        assert latest is not None
        try:
            verify_consistency(latest.size, checkpoint.size, latest.root, checkpoint.root, proof)
        except VerificationError as exc:
            raise _Refused(
                422, f"inconsistent with the cosigned size {latest.size}: {exc}", "inconsistent"
            ) from exc

    def _cosign(self, checkpoint: Checkpoint) -> str:
        return self.cosigner.cosign(checkpoint).line() + self.bls.cosign(checkpoint).line()

    async def list_refusals(self, request: Request) -> Response:
        origin = request.query_params.get("origin")
        try:
            limit = int(request.query_params.get("limit", "100"))
        except ValueError:
            return PlainTextResponse("limit must be an integer\n", status_code=400)
        refusals = await self.store.refusals(origin, max(1, min(limit, 1000)))
        return JSONResponse([r.to_json() for r in refusals])


async def _read_limited(request: Request, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def create_witness_app(config: WitnessConfig) -> Starlette:
    """Build the witness ASGI app; its tables are created at startup, the engine closed at shutdown."""
    witness = _Witness(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await witness.store.create_tables()
        try:
            yield
        finally:
            await witness.store.close()

    routes = [
        Route(f"{config.prefix}/add-checkpoint", witness.add_checkpoint, methods=["POST"]),
        Route(f"{config.prefix}/refusals", witness.list_refusals, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.witness_config = config
    return app
