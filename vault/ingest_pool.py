"""The parallel check phase of bulk ingest: per-record CPU work in worker processes (decision 0096).

Checking a signed record is CPU-bound Python (JSON, the pydantic record model, the RFC 8785 check,
Ed25519) and one process runs Python on one core. `publish_batch` hands a large batch to the
`IngestPool` in chunks; each worker process checks its rows exactly as the in-process path does
(`payloads.parse_payload`, `signing.signature_valid` against the key the MAIN process looked up)
and, for a row whose signature holds, also does what needs no database: it picks the record's id
and salt, seals the payload and signature under the home region's key, and computes the replay
digest and both ledger commitments. The main process keeps everything that reads or writes a
database (key and product-line lookups, replay check, INSERT, scoring, ledger append, COMMIT) and
the statement's time, which is taken under the writer as before.

A row whose key the main process did not hand over (an unexpected manufacturer, an unknown or
revoked key) comes back parsed only, and the main process checks it in process: errors and their
order stay those of the in-process path.

The pool is owned by the `ShardRouter` (started on first use or by `start()`, closed with the
router), uses the 'forkserver' start method (the hub has threads and an event loop), and is replaced
when a worker dies: the batch in flight fails with `IngestUnavailable` and nothing is written.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, Generic, NamedTuple, TypeVar

from cbamhub.ledger.disclosure import fields_commitment_of_document
from cbamhub.ledger.statements import commitment_of_canonical, new_salt

from cbamhub.settings import Settings

from .crypto import ShardKey, ShardKeyring, replay_digest, seal_for_row
from .errors import VaultError
from .ids import new_id
from .payloads import parse_payload
from .record_model import EmissionsRecord
from .signing import signature_valid


class IngestUnavailable(VaultError):
    """The check phase could not run (a worker process died): nothing was written; retry."""

    code = "UNAVAILABLE"


@dataclass(frozen=True)
class RegionKeys:
    """What a worker needs to seal a region's rows and find its replays."""

    payload_key: ShardKey = field(repr=False)
    """The region keyring's current key: the one `Shard.seal` seals under."""
    index_key: bytes = field(repr=False)
    """The region's replay-index key (`Shard.replay_digest`)."""


@dataclass(frozen=True)
class ChunkContext:
    """Sent with every chunk (a few hundred bytes): workers keep no state between chunks."""

    settings: Settings
    regions: Mapping[str, RegionKeys] = field(repr=False)
    keys: Mapping[tuple[str, str], bytes]
    """(manufacturer id, key id) -> public key: registered, valid now and never revoked."""


class Precomputed(NamedTuple):
    """A checked row's values that need no database, chosen and computed in a worker."""

    region: str
    record_id: str
    salt: bytes
    sealed_payload: bytes
    sealed_signature: bytes
    replay_digest: bytes
    commitment: str
    fields: str


class Outcome(NamedTuple):
    """One row as a worker found it: the parsed record, or the parse error (message, details);
    whether its signature holds (None: not checked, no key was handed over); and its
    precomputed values when the signature holds."""

    row: int
    record: EmissionsRecord | None
    error: tuple[str, dict[str, Any]] | None
    signature: bool | None
    pre: Precomputed | None


Row = tuple[int, bytes, bytes, str]
"""(row, payload, signature, key id)."""

_T = TypeVar("_T")


@dataclass(frozen=True)
class _Pending(Generic[_T]):
    """A task submitted to one executor (so a failure replaces that executor, not a newer one)."""

    executor: ProcessPoolExecutor
    future: Future[_T]

    def cancel(self) -> None:
        self.future.cancel()


def check_chunk(context: ChunkContext, rows: Sequence[Row]) -> list[Outcome]:
    """A worker's job: every row parsed and checked, in order. Runs in a worker process."""
    keyrings = {r: ShardKeyring(k.payload_key) for r, k in context.regions.items()}
    out: list[Outcome] = []
    for row, payload, signature, key_id in rows:
        try:
            record, document = parse_payload(payload)
        except VaultError as error:  # parse_payload raises BadInput only
            out.append(Outcome(row, None, (error.message, error.details), None, None))
            continue
        public_key = context.keys.get((record.manufacturer_id or "", key_id))
        if public_key is None:
            out.append(Outcome(row, record, None, None, None))
            continue
        if not signature_valid(public_key, payload, signature):
            out.append(Outcome(row, record, None, False, None))
            continue
        region = context.settings.region_for_country(record.country_code)
        keys = context.regions.get(region)
        if keys is None:  # no such shard: the main process raises as before
            out.append(Outcome(row, record, None, True, None))
            continue
        record_id = new_id("rec", region)
        salt = new_salt()
        keyring = keyrings[region]
        pre = Precomputed(
            region,
            record_id,
            salt,
            seal_for_row(keyring, region, payload, record_id, "payload"),
            seal_for_row(keyring, region, signature, record_id, "signature"),
            replay_digest(keys.index_key, payload),
            # the payload was checked canonical: both commitments hash it as it is
            commitment_of_canonical(salt, payload),
            fields_commitment_of_document(salt, payload, document),
        )
        out.append(Outcome(row, record, None, True, pre))
    return out


def _ready(hold: float) -> int:
    time.sleep(hold)  # long enough that each worker takes one of start()'s calls
    return os.getpid()


_MANUFACTURER = re.compile(rb'"manufacturerId":"([^"\\]{1,200})"')


def manufacturer_hints(payload: bytes) -> list[str]:
    """Every `manufacturerId` string in a payload, unparsed: the keys worth looking up before the
    rows go to the workers. Only a hint: the worker matches the key against the parsed record."""
    return [m.decode("utf-8", "replace") for m in _MANUFACTURER.findall(payload)]


class IngestPool:
    """Worker processes for the check phase of large batches, owned by one ShardRouter.

    `settings.ingest_processes` workers (0 = never used: everything in process), started on first
    use or by `start()`; batches smaller than `ingest_process_min_batch` stay in process."""

    def __init__(self, settings: Settings, regions: Mapping[str, RegionKeys]) -> None:
        self._processes = settings.ingest_processes
        self._regions = dict(regions)
        self._executor: ProcessPoolExecutor | None = None
        self._closed = False

    def used_for(self, settings: Settings, rows: int) -> bool:
        """Whether a batch of `rows` goes to the workers under `settings` (the router's now)."""
        return (
            settings.ingest_processes > 0
            and self._processes > 0
            and rows >= settings.ingest_process_min_batch
            and not self._closed
        )

    def context(self, settings: Settings, keys: Mapping[tuple[str, str], bytes]) -> ChunkContext:
        return ChunkContext(settings, self._regions, dict(keys))

    def _pool(self) -> ProcessPoolExecutor:
        if self._closed:
            raise IngestUnavailable("the ingest pool is closed")
        if self._executor is None:
            context = multiprocessing.get_context("forkserver")
            # workers fork from a server that already imported the record model and PyNaCl
            context.set_forkserver_preload([__name__])
            self._executor = ProcessPoolExecutor(self._processes, context)
        return self._executor

    async def start(self) -> list[int]:
        """Start every worker now (not on the first large batch), ready to check; their ids."""
        if self._processes == 0:
            return []
        calls = [self._submit(_ready, 0.05) for _ in range(self._processes)]
        for call in calls:
            await self._result(call)
        return self.pids()

    def pids(self) -> list[int]:
        """The worker processes' ids (for operations and tests); empty before the pool starts."""
        processes = getattr(self._executor, "_processes", None) or {}
        return sorted(processes)

    def submit(self, context: ChunkContext, rows: Sequence[Row]) -> _Pending[list[Outcome]]:
        """Check `rows` on a worker. A dead worker shows as `IngestUnavailable` from `outcomes`."""
        return self._submit(check_chunk, context, rows)

    def _submit(self, fn: Callable[..., _T], *args: Any) -> _Pending[_T]:
        pool = self._pool()
        try:
            future: Future[_T] = pool.submit(fn, *args)
        except BrokenProcessPool:  # broken before this batch: it fails like a batch in flight
            future = Future()
            future.set_exception(BrokenProcessPool("a worker process died"))
        return _Pending(pool, future)

    async def outcomes(self, pending: _Pending[list[Outcome]]) -> list[Outcome]:
        """A submitted chunk's outcomes; a broken pool is replaced and the batch fails."""
        return await self._result(pending)

    async def _result(self, pending: _Pending[_T]) -> _T:
        try:
            return await asyncio.wrap_future(pending.future)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if pending.future.cancelled() and not (task and task.cancelling()):
                # the router closed the pool under this batch: not a cancellation of the caller
                raise IngestUnavailable(
                    "the ingest pool was closed while the batch was checked: nothing was published"
                ) from None
            raise
        except BrokenProcessPool as error:
            if self._executor is pending.executor:  # not a pool another batch already replaced
                self._executor = None
                # a broken executor has already failed its futures and terminated its workers
                pending.executor.shutdown(wait=False)
            raise IngestUnavailable(
                "an ingest worker process died while the batch was checked: nothing was "
                "published; the workers were replaced, send the batch again"
            ) from error

    async def close(self) -> None:
        """Stop the workers (waits for chunks under way); later batches run in process."""
        self._closed = True
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, True, cancel_futures=True)
