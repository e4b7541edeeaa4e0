"""Submission -> validation -> signature check -> home shard -> ledger, in one transaction per shard.

A record is stored only in the shard of its installation's home region, with the ledger entry that
anchors it; the two commit together or not at all. A batch is checked whole before anything is
written: one bad row rejects the batch with a report of every bad row. Replays of an already published
signed payload are idempotent in a batch (the existing record is returned, nothing is written) and an
error for a single submission.

A batch that spans regions holds every region's writer (in a fixed order, so batches never deadlock)
until all rows and entries are written, then commits region by region: only a crash between two
regions' commits can leave part of it committed, and re-submitting the same batch completes it.

A record names its hub installation and product line: the installation must be registered to the
record's manufacturer in the record's country, and the product line must belong to it and list the
record's CN code. A correction names the record it supersedes (`supersedesRecordId`): the old record,
of the same manufacturer, installation and product line, becomes superseded in the same transaction
(vault/lifecycle.py), and the new one gets the next version.

A large batch's check phase runs in the router's ingest worker processes (vault/ingest_pool.py,
decision 0096): parsing, validation and signatures there, everything that touches a database here,
with the same errors, rows and reports as the in-process path smaller batches take.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from cbamhub.ledger.disclosure import fields_commitment_of_document
from cbamhub.ledger.log import LogWriter
from cbamhub.ledger.statements import (
    Statement,
    StatementKind,
    commitment_of_canonical,
    new_salt,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from . import schema
from .anomaly_ingest import AnomalyIngest, Prepared
from .errors import (
    BadInput,
    DuplicateSubmission,
    Forbidden,
    InvalidSignature,
    InvalidTransition,
    UnknownKey,
    VaultError,
)
from .identities import RegisteredKey, organisation_key
from .ids import new_id, region_of
from .ingest_pool import IngestPool, IngestUnavailable, Outcome, Precomputed, manufacturer_hints
from .lifecycle import (
    EventKind,
    PreparedEvent,
    check_transition,
    events_of,
    prepare_event,
    status_of,
)
from .payloads import MAX_PAYLOAD_BYTES as MAX_PAYLOAD_BYTES
from .payloads import parse_payload as parse_payload
from .record_model import EmissionsRecord
from .record_scores import insert_scores
from .shards import Shard, ShardRouter
from .signing import SignedDocument, signature_valid
from .verification import BatchVerifier

_T = TypeVar("_T")

MAX_BATCH = 10_000
YIELD_EVERY = 128
"""Rows the in-process check parses (or a region's write builds) between yields to the event
loop (~10-20 ms of work), so the requests a hub serves beside an upload wait that long at most,
not the whole check or write phase."""
MAX_KEY_PREFETCH = 16
"""Distinct (manufacturer, key) pairs looked up for the ingest workers per batch: a batch is one
manufacturer's upload; rows of any further pair are checked in process, with the same answers."""


@dataclass(frozen=True)
class Submission:
    """A record as signed by its manufacturer: canonical JSON bytes, signature, key id."""

    payload: bytes
    signature: bytes
    key_id: str


@dataclass(frozen=True)
class Published:
    record_id: str
    region: str
    leaf_index: int
    tree_size: int
    checkpoint: str
    replayed: bool = False
    """True when the payload was already published: this is the existing record."""


@dataclass(frozen=True)
class _Checked:
    row: int
    submission: Submission
    record: EmissionsRecord
    document: Any
    product_line_id: str
    pre: Precomputed | None = None
    """What an ingest worker already chose and computed for the row (vault/ingest_pool.py)."""


@dataclass(frozen=True)
class _Line:
    """A registered product line with what a record must match."""

    id: str
    installation_id: str
    organisation_id: str
    country: str
    cn_codes: frozenset[str]


def _installation(record: EmissionsRecord) -> str:
    return record.installation_id or record.installation_cbam_id


def _period(record: EmissionsRecord) -> str:
    """The reporting period as an ISO 8601 interval of dates."""
    data = record.activity_data
    return f"{data.reference_period_start.date()}/{data.reference_period_end.date()}"


async def _check(
    router: ShardRouter,
    row: int,
    submission: Submission,
    keys: dict[tuple[str, str], RegisteredKey],
    lines: dict[tuple[str, str], _Line | None],
    verifier: BatchVerifier | None = None,
) -> _Checked | _Unverified:
    """The row checked whole; with a `verifier`, checked up to its signature, which the verifier
    checks later (`_verified`), so a row's first error is the same either way."""
    record, document = parse_payload(submission.payload)
    return await _keyed(
        router, _Unverified(row, submission, record, document), keys, lines, verifier
    )


async def _keyed(
    router: ShardRouter,
    unverified: _Unverified,
    keys: dict[tuple[str, str], RegisteredKey],
    lines: dict[tuple[str, str], _Line | None],
    verifier: BatchVerifier | None = None,
) -> _Checked | _Unverified:
    """`_check` of a parsed row: its key, then (now or by `verifier`) its signature."""
    submission = unverified.submission
    manufacturer = unverified.record.manufacturer_id or ""  # parse_payload refuses it missing
    cache_key = (manufacturer, submission.key_id)
    key = keys.get(cache_key)
    if key is None:
        key = await organisation_key(router, manufacturer, submission.key_id)
        keys[cache_key] = key
    if key.revoked_at is not None:
        raise UnknownKey(f"key {submission.key_id} was revoked at {key.revoked_at.isoformat()}")
    if verifier is not None:
        verifier.submit(key.public_key, submission.payload, submission.signature)
        return unverified
    ok = signature_valid(key.public_key, submission.payload, submission.signature)
    return await _verified(router, unverified, ok, lines)


@dataclass(frozen=True)
class _Unverified:
    row: int
    submission: Submission
    record: EmissionsRecord
    document: Any


async def _verified(
    router: ShardRouter,
    item: _Unverified,
    signature_ok: bool,
    lines: dict[tuple[str, str], _Line | None],
    pre: Precomputed | None = None,
) -> _Checked:
    """The rest of `_check` once the row's signature is known."""
    if not signature_ok:
        raise InvalidSignature(
            f"the signature does not match the payload under key {item.submission.key_id} "
            f"of {item.record.manufacturer_id}"
        )
    line = await _product_line_of(router, item.record, lines)
    return _Checked(item.row, item.submission, item.record, item.document, line.id, pre)


def _problem(field: str, reason: str) -> dict[str, Any]:
    return {"problems": [{"field": field, "reason": reason}]}


async def _load_line(router: ShardRouter, installation_id: str, line_id: str) -> _Line | None:
    shard = router.shard(region_of(installation_id, "ins"))
    async with shard.engine.connect() as conn:
        found = (
            await conn.execute(
                select(
                    schema.product_lines.c.id,
                    schema.product_lines.c.installation_id,
                    schema.product_lines.c.cn_codes,
                    schema.installations.c.organisation_id,
                    schema.installations.c.country,
                )
                .select_from(
                    schema.installations.outerjoin(
                        schema.product_lines,
                        (schema.product_lines.c.installation_id == schema.installations.c.id)
                        & (schema.product_lines.c.id == line_id),
                    )
                )
                .where(schema.installations.c.id == installation_id)
            )
        ).first()
    if found is None:
        return None
    return _Line(
        found.id or "",
        installation_id,
        found.organisation_id,
        found.country,
        frozenset(json.loads(found.cn_codes)) if found.cn_codes else frozenset(),
    )


async def _product_line_of(
    router: ShardRouter, record: EmissionsRecord, lines: dict[tuple[str, str], _Line | None]
) -> _Line:
    """The registered product line the record names, checked against the record."""
    installation = record.installation_id
    if installation is None:
        raise BadInput(
            "installationId is required to publish: the hub id of a registered installation",
            _problem("installationId", "required to publish"),
        )
    if record.product_line_id is None:
        raise BadInput(
            "productLineId is required to publish: the hub id of the installation's product line "
            "that lists the record's CN code",
            _problem("productLineId", "required to publish"),
        )
    try:
        region_of(installation, "ins")
    except BadInput:
        raise BadInput(
            f"installationId {installation!r} is not a hub installation id: register the "
            "installation first and name its id (ins_...)",
            _problem("installationId", "not a registered installation"),
        ) from None
    key = (installation, record.product_line_id)
    if key not in lines:
        lines[key] = await _load_line(router, installation, record.product_line_id)
    line = lines[key]
    if line is None:
        raise BadInput(
            f"no installation {installation} is registered",
            _problem("installationId", "not a registered installation"),
        )
    if line.organisation_id != record.manufacturer_id:
        raise Forbidden(f"installation {installation} is not {record.manufacturer_id}'s")
    if line.country != record.country_code:
        raise BadInput(
            f"installation {installation} is in {line.country}, the record says "
            f"{record.country_code}",
            _problem("countryCode", f"the installation is in {line.country}"),
        )
    if not line.id:
        raise BadInput(
            f"product line {record.product_line_id} is not a product line of {installation}",
            _problem("productLineId", "not a product line of the installation"),
        )
    if record.cn_code not in line.cn_codes:
        raise BadInput(
            f"CN code {record.cn_code} is not in product line {line.id} "
            f"({', '.join(sorted(line.cn_codes))}): register it in a product line first",
            _problem("cnCode", f"not in product line {line.id}"),
        )
    return line


def _problems(row: int, error: VaultError) -> list[dict[str, Any]]:
    listed = error.details.get("problems")
    if listed:
        return [{"row": row, "code": error.code, **p} for p in listed]
    return [{"row": row, "code": error.code, "field": "(submission)", "reason": error.message}]


async def publish_batch(
    router: ShardRouter,
    submissions: Sequence[Submission],
    known_problems: Sequence[dict[str, Any]] = (),
) -> list[Published]:
    """Publish a batch atomically; results in input order. Raises BadInput listing every bad row.

    `known_problems` are rows the caller already found bad while decoding (e.g. a signature that is
    not base64): they reject the batch too, and are reported together with every other bad row.
    """
    if not submissions:
        raise BadInput("an empty batch publishes nothing")
    if len(submissions) > MAX_BATCH:
        raise BadInput(f"a batch holds at most {MAX_BATCH} records, not {len(submissions)}")
    keys: dict[tuple[str, str], RegisteredKey] = {}
    lines: dict[tuple[str, str], _Line | None] = {}
    checked: list[_Checked] = []
    problems: list[dict[str, Any]] = list(known_problems)
    known_rows = {p["row"] for p in known_problems}
    settings = router.settings
    errors: dict[int, VaultError] = {}
    pool = router.ingest_pool
    if pool.used_for(settings, len(submissions) - len(known_rows)):
        await _check_pooled(router, pool, submissions, known_rows, keys, lines, checked, errors)
    else:
        await _check_here(router, submissions, known_rows, keys, lines, checked, errors)
    problems.extend(p for row in sorted(errors) for p in _problems(row, errors[row]))
    if problems:
        rows = len({p["row"] for p in problems})
        raise BadInput(
            f"{rows} of {len(submissions)} rows are invalid: nothing was published",
            {"problems": problems},
        )
    by_region: dict[str, list[_Checked]] = {}
    for item in checked:
        by_region.setdefault(router.for_country(item.record.country_code).region, []).append(item)
    results: dict[int, Published] = {}
    regions = sorted(by_region)
    # A server database (PostgreSQL) works in its own process while the loop builds another
    # region's rows; SQLite works on this process's threads, which would only contend for the GIL
    # with the loop (measured: no gain, and longer stalls of the loop). See decision 0103.
    overlap = all(router.shard(r).engine.dialect.name != "sqlite" for r in regions)
    prepared = await _each((_prepare_scores(router, by_region[r]) for r in regions), overlap)
    async with contextlib.AsyncExitStack() as stack:
        writers = []
        for region in regions:  # locks taken in one order, so two batches never deadlock
            writers.append(await stack.enter_async_context(router.shard(region).log.writer()))
        written = await _each(
            (
                _write(router.shard(region), writer, by_region[region], scoring)
                for region, writer, scoring in zip(regions, writers, prepared, strict=True)
            ),
            overlap,
        )
        for part in written:
            results.update(part)
    return [results[row] for row in range(len(submissions))]


async def _each(calls: Iterable[Awaitable[_T]], concurrently: bool) -> list[_T]:
    """The calls' answers, one after the other or run concurrently (each on its own region's
    database). Every call has ended before this returns or raises, so no writer is left in use
    when the batch's writers close; if any failed, the error of the first in the given order is
    raised (the one a region-by-region run meets first), and the writers roll everything back."""
    if not concurrently:
        return [await call for call in calls]
    tasks = [asyncio.ensure_future(call) for call in calls]
    if not tasks:
        return []
    try:
        await asyncio.wait(tasks)
    except BaseException:  # cancelled from outside: stop them all before the writers close
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    errors = [task.exception() for task in tasks]  # every one retrieved, none logged as lost
    for error in errors:
        if error is not None:
            raise error
    return [task.result() for task in tasks]


async def _check_here(
    router: ShardRouter,
    submissions: Sequence[Submission],
    skip: set[int],
    keys: dict[tuple[str, str], RegisteredKey],
    lines: dict[tuple[str, str], _Line | None],
    checked: list[_Checked],
    errors: dict[int, VaultError],
) -> None:
    """The check phase in this process: rows parsed on the loop, signatures on threads."""
    settings = router.settings
    threads = settings.ingest_signature_threads
    if len(submissions) < settings.ingest_threaded_min_batch:
        threads = 0
    unverified: list[_Unverified] = []
    async with BatchVerifier(threads) as verifier:  # signatures checked while rows are parsed
        for row, submission in enumerate(submissions):
            if row in skip:
                continue
            if row % YIELD_EVERY == YIELD_EVERY - 1:  # parsing never waits: let others run
                await asyncio.sleep(0)
            try:
                found = await _check(router, row, submission, keys, lines, verifier)
                assert isinstance(found, _Unverified)
                unverified.append(found)
            except VaultError as error:
                errors[row] = error
        signatures = await verifier.results()
    for waiting, ok in zip(unverified, signatures, strict=True):
        try:
            checked.append(await _verified(router, waiting, ok, lines))
        except VaultError as error:
            errors[waiting.row] = error


async def _check_pooled(
    router: ShardRouter,
    pool: IngestPool,
    submissions: Sequence[Submission],
    skip: set[int],
    keys: dict[tuple[str, str], RegisteredKey],
    lines: dict[tuple[str, str], _Line | None],
    checked: list[_Checked],
    errors: dict[int, VaultError],
) -> None:
    """The check phase in the ingest workers (decision 0096): chunks of rows go out at once and
    come back in order; the loop does each row's database checks as its chunk returns."""
    handed = await _prefetch_keys(router, submissions, skip, keys)
    context = pool.context(router.settings, handed)
    size = router.settings.ingest_process_chunk
    rows = [
        (r, s.payload, s.signature, s.key_id) for r, s in enumerate(submissions) if r not in skip
    ]
    pending = [pool.submit(context, rows[i : i + size]) for i in range(0, len(rows), size)]
    try:
        for chunk in pending:
            for outcome in await pool.outcomes(chunk):
                try:
                    checked.append(await _from_worker(router, submissions, outcome, keys, lines))
                except VaultError as error:
                    errors[outcome.row] = error
    except IngestUnavailable:
        raise  # a broken pool fails every chunk it holds itself
    except BaseException:
        for chunk in pending:  # the chunks no worker has taken yet are dropped
            chunk.cancel()
        raise


async def _prefetch_keys(
    router: ShardRouter,
    submissions: Sequence[Submission],
    skip: set[int],
    keys: dict[tuple[str, str], RegisteredKey],
) -> dict[tuple[str, str], bytes]:
    """The keys the workers check signatures with: those the rows' manufacturer ids (read from the
    payloads unparsed) name, registered, valid now and never revoked. Any other row's key is
    looked up in process once the row is parsed, as without workers."""
    wanted: dict[tuple[str, str], None] = {}
    for row, submission in enumerate(submissions):
        if row not in skip:
            for manufacturer in manufacturer_hints(submission.payload):
                wanted[(manufacturer, submission.key_id)] = None
        if len(wanted) >= MAX_KEY_PREFETCH:
            break
    handed: dict[tuple[str, str], bytes] = {}
    for pair in list(wanted)[:MAX_KEY_PREFETCH]:
        try:
            key = await organisation_key(router, *pair)
        except VaultError:  # a wrong guess or a bad key: the row's own check says which
            continue
        keys[pair] = key
        if key.revoked_at is None:
            handed[pair] = key.public_key
    return handed


async def _from_worker(
    router: ShardRouter,
    submissions: Sequence[Submission],
    outcome: Outcome,
    keys: dict[tuple[str, str], RegisteredKey],
    lines: dict[tuple[str, str], _Line | None],
) -> _Checked:
    """A worker's row finished as `_check` would: the same errors, in the same order."""
    if outcome.error is not None:
        message, details = outcome.error
        raise BadInput(message, details)  # the only error parse_payload raises
    assert outcome.record is not None
    unverified = _Unverified(outcome.row, submissions[outcome.row], outcome.record, None)
    if outcome.signature is None:  # no key was handed over: its key checked here
        found = await _keyed(router, unverified, keys, lines)
        assert isinstance(found, _Checked)
        return found
    return await _verified(router, unverified, outcome.signature, lines, outcome.pre)


async def publish(router: ShardRouter, payload: bytes, signature: bytes, kid: str) -> Published:
    """Publish one signed record; raises a typed VaultError and writes nothing on any problem."""
    keys: dict[tuple[str, str], RegisteredKey] = {}
    item = await _check(router, 0, Submission(payload, signature, kid), keys, {})
    assert isinstance(item, _Checked)
    shard = router.for_country(item.record.country_code)
    scoring = await _prepare_scores(router, [item])
    async with shard.log.writer() as writer:
        published = (await _write(shard, writer, [item], scoring))[0]
        if published.replayed:
            raise DuplicateSubmission(
                f"this signed payload was already published as {published.record_id}",
                {"recordId": published.record_id, "leafIndex": published.leaf_index},
            )
    return published


_Scoring = tuple[AnomalyIngest, Prepared] | None


async def _prepare_scores(router: ShardRouter, items: list[_Checked]) -> _Scoring:
    """The anomaly scorer's context for one shard's items, read before its writer is taken."""
    if router.scoring is None:
        return None
    shard = router.for_country(items[0].record.country_code)
    return router.scoring, await router.scoring.prepare(shard, {i.row: i.record for i in items})


async def _supersede_problems(
    shard: Shard, conn: AsyncConnection, items: list[_Checked]
) -> tuple[dict[str, int], list[tuple[int, VaultError]]]:
    """Check the corrections among `items`: the version each gets, and every problem by row."""
    wanted = {i.row: i.record.supersedes_record_id for i in items if i.record.supersedes_record_id}
    if not wanted:
        return {}, []
    problems: list[tuple[int, VaultError]] = []
    olds = sorted(set(wanted.values()))
    table = schema.records
    found = {
        r.id: r
        for r in await conn.execute(
            select(
                table.c.id,
                table.c.manufacturer_id,
                table.c.installation_id,
                table.c.product_line_id,
                table.c.version,
            ).where(table.c.id.in_(olds))
        )
    }
    events = await events_of(conn, [o for o in olds if o in found])
    by_row = {i.row: i for i in items}
    versions: dict[str, int] = {}
    claimed: set[str] = set()
    for row, old_id in sorted(wanted.items()):
        item = by_row[row]
        old = found.get(old_id)
        field = "supersedesRecordId"
        try:
            if old is None:
                raise BadInput(
                    f"no record {old_id} in the {shard.region} shard to supersede (a correction "
                    "lives in the same installation's shard as the record it corrects)",
                    _problem(field, "no such record in the installation's shard"),
                )
            same = (old.manufacturer_id, old.installation_id, old.product_line_id) == (
                item.record.manufacturer_id,
                item.record.installation_id,
                item.product_line_id,
            )
            if not same:
                raise BadInput(
                    f"record {old_id} is of another manufacturer, installation or product line: "
                    "a correction keeps all three",
                    _problem(field, "not the same manufacturer, installation and product line"),
                )
            status = status_of(e.kind for e in events[old_id])
            if old_id in claimed:
                raise InvalidTransition(
                    f"record {old_id} is superseded twice in one batch",
                    {"recordId": old_id, "status": status.value, "event": "superseded"},
                )
            check_transition(old_id, status, EventKind.SUPERSEDED)
            claimed.add(old_id)
            versions[old_id] = (old.version or 1) + 1
        except VaultError as error:
            problems.append((row, error))
    return versions, problems


async def _write(
    shard: Shard, writer: LogWriter, items: list[_Checked], scoring: _Scoring = None
) -> dict[int, Published]:
    """Insert the new records of one shard, their anomaly scores, and append their statements,
    inside `writer`.

    Raises the typed error of a single record, or BadInput listing every bad row of a batch."""
    conn = writer.connection
    pre_of = {i.row: i.pre for i in items if i.pre is not None and i.pre.region == shard.region}
    digest_of = {
        item.row: pre.replay_digest
        if (pre := pre_of.get(item.row))
        else shard.replay_digest(item.submission.payload)
        for item in items
    }
    digests = list(set(digest_of.values()))
    existing = {
        row.replay_digest: row
        for row in await conn.execute(
            select(
                schema.records.c.id, schema.records.c.leaf_index, schema.records.c.replay_digest
            ).where(schema.records.c.replay_digest.in_(digests))
        )
    }
    new_items: list[_Checked] = []
    seen: set[bytes] = set()
    for item in items:
        digest = digest_of[item.row]
        if digest not in existing and digest not in seen:
            new_items.append(item)
            seen.add(digest)
    versions, problems = await _supersede_problems(shard, conn, new_items)
    if problems:
        if len(items) == 1:
            raise problems[0][1]
        listed = [p for row, error in problems for p in _problems(row, error)]
        raise BadInput(
            f"{len(problems)} of {len(items)} rows are invalid: nothing was published",
            {"problems": listed},
        )
    now = datetime.now(UTC)
    time = now.isoformat().replace("+00:00", "Z")
    rows: list[dict[str, Any]] = []
    events: list[PreparedEvent] = []
    statements: list[bytes] = []
    placed: dict[bytes, tuple[str, int]] = {}
    fresh: dict[int, tuple[str, int]] = {}
    replays: dict[int, tuple[str, int]] = {}
    for done, item in enumerate(items):
        if done % YIELD_EVERY == YIELD_EVERY - 1:  # building rows never waits: let others run
            await asyncio.sleep(0)
        if digest_of[item.row] in existing:
            found = existing[digest_of[item.row]]
            replays[item.row] = (found.id, found.leaf_index)
            continue
        if digest_of[item.row] in placed:  # the same signed payload twice in one batch
            replays[item.row] = placed[digest_of[item.row]]
            continue
        leaf_index = writer.size + len(statements)
        record = item.record
        old = record.supersedes_record_id
        pre = pre_of.get(item.row)
        if pre is not None:  # chosen and computed by an ingest worker
            record_id, salt = pre.record_id, pre.salt
            sealed_payload, sealed_signature = pre.sealed_payload, pre.sealed_signature
            committed, fields = pre.commitment, pre.fields
        else:
            record_id = new_id("rec", shard.region)
            salt = new_salt()
            sealed_payload = shard.seal(item.submission.payload, record_id, "payload")
            sealed_signature = shard.seal(item.submission.signature, record_id, "signature")
            # the payload was checked canonical: both commitments hash it as it is
            committed = commitment_of_canonical(salt, item.submission.payload)
            fields = fields_commitment_of_document(salt, item.submission.payload, item.document)
        rows.append(
            {
                "id": record_id,
                "manufacturer_id": record.manufacturer_id,
                "installation_id": _installation(record),
                "cn_code": record.cn_code,
                "period": _period(record),
                "payload": sealed_payload,
                "replay_digest": digest_of[item.row],
                "signature": sealed_signature,
                "key_id": item.submission.key_id,
                "salt": salt,
                "leaf_index": leaf_index,
                "recorded_at": now,
                "product_line_id": item.product_line_id,
                "version": versions[old] if old else 1,
                "supersedes": old,
                "quality_tier": record.data_quality_tier.value,
                # UTC: SQLite keeps wall-clock time only, and queries compare these
                "valid_from": record.activity_data.reference_period_start.astimezone(UTC),
                "valid_until": record.activity_data.reference_period_end.astimezone(UTC),
            }
        )
        statements.append(
            Statement(
                kind=StatementKind.RECORD_PUBLISHED,
                subject={"record": record_id, "installation": _installation(record)},
                time=time,
                signer=item.submission.key_id,
                commitment=committed,
                fields=fields,
            ).to_bytes()
        )
        if old:
            event = prepare_event(
                shard,
                record_id=old,
                kind=EventKind.SUPERSEDED,
                actor=record.manufacturer_id or "",
                signed=SignedDocument(
                    item.submission.payload, item.submission.signature, item.submission.key_id
                ),
                payload={"superseded_by": record_id},
                subject={"superseded_by": record_id},
                verifier_id=None,
                now=now,
                leaf_index=writer.size + len(statements),
            )
            events.append(event)
            statements.append(event.entry)
        placed[digest_of[item.row]] = fresh[item.row] = (record_id, leaf_index)
    if rows:
        await conn.execute(schema.records.insert(), rows)
        if scoring is not None:  # one score_batch; never raises (unscored rows instead)
            makers = {i.row: i.record.manufacturer_id or "" for i in items}
            ids = {row: (rid, makers[row]) for row, (rid, _) in fresh.items()}
            await insert_scores(shard, conn, scoring[0].score(scoring[1], ids), now)
        if events:
            await conn.execute(schema.record_events.insert(), [dict(e.row) for e in events])
        appended = await writer.append(statements)
        size, checkpoint = appended.size, appended.checkpoint
    else:
        size = writer.size
        checkpoint = await shard.log.checkpoint(size)
    out: dict[int, Published] = {}
    for row, (record_id, leaf_index) in fresh.items():
        out[row] = Published(record_id, shard.region, leaf_index, size, checkpoint)
    for row, (record_id, leaf_index) in replays.items():
        out[row] = Published(record_id, shard.region, leaf_index, size, checkpoint, replayed=True)
    return out
