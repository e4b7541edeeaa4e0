"""The CPU-bound checks of ingest, made cheaper without changing their answers.

- `BatchVerifier` checks a batch's Ed25519 signatures on worker threads while the event loop goes on
  parsing the next rows: PyNaCl releases the GIL inside libsodium, so on two cores the signatures
  cost almost nothing on the parsing thread (decision 92).
- `is_canonical` answers "are these bytes the RFC 8785 form of this document?" with the C JSON
  encoder when that provably gives the same bytes as RFC 8785, and with the `rfc8785` reference
  encoder otherwise (decision 93).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any

import orjson
from cbamhub.ledger.statements import canonical

from .signing import signature_valid

CHUNK = 128
"""Signatures per task handed to a worker thread: large enough that dispatch (~20 µs) is noise
against ~45 µs per signature, small enough that the last chunk does not keep the loop waiting."""

_Job = tuple[bytes, bytes, bytes]


def _verify_chunk(jobs: Sequence[_Job]) -> list[bool]:
    return [signature_valid(public_key, payload, sig) for public_key, payload, sig in jobs]


class BatchVerifier:
    """Collects (public key, payload, signature) checks and runs them in chunks on `threads` worker
    threads as they fill; `results()` answers in submission order. With `threads == 0` every check
    runs inline (small batches, single submissions).

    Use as `async with BatchVerifier(n) as verifier:`, which owns the workers for one batch."""

    def __init__(self, threads: int, chunk: int = CHUNK) -> None:
        self._threads = threads
        self._chunk = chunk
        self._pending: list[_Job] = []
        self._done: list[asyncio.Future[list[bool]]] = []
        self._executor: ThreadPoolExecutor | None = None

    async def __aenter__(self) -> BatchVerifier:
        if self._threads > 0:
            self._executor = ThreadPoolExecutor(self._threads, thread_name_prefix="verify")
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def submit(self, public_key: bytes, payload: bytes, signature: bytes) -> None:
        self._pending.append((public_key, payload, signature))
        if len(self._pending) >= self._chunk:
            self._dispatch()

    def _dispatch(self) -> None:
        jobs, self._pending = self._pending, []
        if not jobs:
            return
        if self._executor is None:
            future: asyncio.Future[list[bool]] = asyncio.get_running_loop().create_future()
            future.set_result(_verify_chunk(jobs))
        else:
            future = asyncio.get_running_loop().run_in_executor(self._executor, _verify_chunk, jobs)
        self._done.append(future)

    async def results(self) -> list[bool]:
        """Whether each submitted signature holds, in submission order."""
        self._dispatch()
        chunks = await asyncio.gather(*self._done)
        self._done = []
        return [ok for chunk in chunks for ok in chunk]


# A number the C encoder may write differently from RFC 8785 (ECMAScript number form): exponent
# notation, an integral float ("2.0"; RFC 8785 writes "2"), or an integer of 16+ digits (beyond 2**53
# RFC 8785 refuses it). In canonical bytes every number follows ':', '[' or ','; a match inside a
# string is a false alarm that only costs the reference encoder.
_NUMBER_TO_CHECK = re.compile(  # possessive: no backtracking, ~2x faster on a record
    rb"[:\[,]-?[0-9]++(?:\.[0-9]++)?+(?:[eE]|(?<=\.0)[,\]}]|(?<=[0-9]{16}))"
)


def is_canonical(payload: bytes, document: Any) -> bool:
    """`canonical(document) == payload`, computed faster for the usual record.

    When the payload is ASCII (so key order by UTF-16 code units is key order by code points, and
    no string holds a character the encoders escape differently) and holds no number of the kinds
    above, orjson's sorted, compact output is byte for byte what RFC 8785 gives for the document:
    equal bytes prove canonical. Any other case goes to the reference encoder. (orjson: ~0.7 µs
    for a record against ~8 µs for the json module's C encoder, which decision 0093 used; both
    agree with RFC 8785 on every string of ASCII characters and, for numbers, wherever the guard
    lets a payload through — tested against the reference on random floats and documents.)"""
    if payload[:1] in (b"{", b"[") and payload.isascii() and not _NUMBER_TO_CHECK.search(payload):
        try:
            fast = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
        except (TypeError, ValueError):  # orjson.JSONEncodeError is a TypeError: e.g. > 64 bits
            fast = b""
        if fast == payload:
            return True
    try:
        return canonical(document) == payload
    except ValueError:  # rfc8785.CanonicalizationError: not representable, so not canonical
        return False
