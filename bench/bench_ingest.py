"""Bulk ingest of signed records: throughput, where the time goes, and publish-to-provable latency.

    python bench/bench_ingest.py                      # full run on the embedded default (SQLite)
    python bench/bench_ingest.py --quick              # ~30-second smoke run
    python bench/bench_ingest.py --postgres postgresql://user:pass@host:5432/postgres   # and PostgreSQL

Sections:
  1. throughput  records/s of `publishing.publish_batch` (parse + validate each signed payload with the
                 full record model, check its Ed25519 signature against the registered key, route to
                 the home shard, seal, insert, append ledger statements, commit) for several batch sizes,
                 the backends alternating batch by batch, each batch both in process
                 (ingest_processes = 0) and pooled (the hub's ingest worker processes, decision 0096;
                 --concurrent adds two uploads at once per mode). Targets: >= 10,000 records/s on
                 SQLite and >= 5,000 records/s on PostgreSQL.
  2. stages      the share of each stage in a batch of --stage-batch records: a copy of publish_batch /
                 _write timed with perf_counter, calling the same functions on the same kind of inputs,
                 interleaved with real publish_batch calls so the staged sum can be compared with the
                 real thing, once in process and once pooled (the check phase in the workers timed
                 whole); then parse_payload split into its three parts.
  3. latency     publish one record (`publishing.publish`) and read it back with its inclusion proof
                 (`reading.record_with_proof`), --latency-n times, p50/p99. Target: p99 <= 50 ms.
  4. headroom    the CPU-bound check (parse_payload + signature_valid) on 1 and 2 cores: what
                 checking in parallel can give on this machine, without sending results back.

Every hub has three regions (eu, cn, row); records come from installations in DE, CN and TR (one third
each) of one manufacturer registered in TR, and are signed before any timing starts (signing is the
manufacturer's cost, not the hub's). Every payload is unique (no replays). With --postgres each hub
region gets a fresh database `bench_ingest_<random>_<region>` on that server (the role needs CREATEDB),
dropped at the end. The machine is noisy: backends and the staged/real pipelines alternate in one run.

When `publishing.publish_batch`, `_check` or `_write` change, update the staged copy (`staged_batch`).
In process the staged copy checks signatures inline, so its "signature verification" row is their CPU
cost; the real publish_batch runs them on worker threads beside the parsing. Pooled, the staged copy
runs the real `_check_pooled` and then writes with the workers' precomputed values as `_write` does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import math
import os
import platform
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from cbamhub.ledger.disclosure import fields_commitment_of_document
from cbamhub.ledger.statements import (
    Statement,
    StatementKind,
    canonical,
    commitment_of_canonical,
    new_salt,
)
from cbamhub.vault import identities, publishing, reading, schema
from cbamhub.vault.identities import RegisteredKey, organisation_key
from cbamhub.vault.ids import new_id
from cbamhub.vault.models import OrganisationIn
from cbamhub.vault.publishing import (
    Submission,
    _check_pooled,
    _Checked,
    _installation,
    _Line,
    _period,
    _prepare_scores,
    _product_line_of,
    _Scoring,
    _supersede_problems,
    parse_payload,
    publish_batch,
)
from cbamhub.vault.record_model import parse_record
from cbamhub.vault.record_scores import insert_scores
from cbamhub.vault.shards import Shard, ShardRouter
from cbamhub.vault.signing import OrganisationKey, signature_valid
from cbamhub.vault.verification import is_canonical
from sqlalchemy import select
from sqlalchemy.engine import make_url

from cbamhub.demo import register_sample_site, sample_record
from cbamhub.settings import Settings

TARGET_SQLITE = 10_000  # records/s, bulk ingest on the embedded default
TARGET_POSTGRES = 5_000  # records/s, bulk ingest on PostgreSQL
TARGET_P99_MS = 50.0  # publish one record -> queryable with proof

REPO = Path(__file__).resolve().parent.parent
REGIONS = ("eu", "cn", "row")
COUNTRY_REGIONS = {"DE": "eu", "FR": "eu", "CN": "cn"}
# (country, installation id, CN code): steel in Germany, aluminium in China, cement in Turkey.
PLANTS = (
    ("DE", "DE-HAM-001", "72081000"),
    ("CN", "CN-SHA-001", "76011000"),
    ("TR", "TR-IST-001", "25231000"),
)
# Route codes the anomaly scorer's configured mapping knows (anomaly/data/route_mapping.json), so the
# CN and TR records are really scored at ingest; DE has no grid factor in the reference: "unscored".
ROUTE_CODES = {"DE": "C", "CN": "K", "TR": "A"}

# ------------------------------------------------------------------------------------------- helpers


def out(text: str = "") -> None:
    print(text, flush=True)


def section(title: str) -> None:
    out()
    out("=" * 100)
    out(title)
    out("=" * 100)


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def parse_list(text: str) -> list[int]:
    return [int(part.replace("_", "").replace(",", "")) for part in text.split(",") if part.strip()]


def machine_info() -> None:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        nproc = str(len(os.sched_getaffinity(0)))
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "vault", "ledger"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        commit = head + (" (vault/ or ledger/ has uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"

    def version(dist: str) -> str:
        try:
            return importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            return "not installed"

    now = datetime.now(UTC).astimezone()
    out(f"date:     {now:%Y-%m-%d %H:%M:%S %Z} ({datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ})")
    out(f"machine:  nproc={nproc}, cpu_count={os.cpu_count()}, CPU: {model}, RAM {mem}")
    out(f"          {platform.platform()}")
    out(
        f"python:   {sys.version.split()[0]} ({platform.python_implementation()}), "
        f"SQLite {sqlite3.sqlite_version}"
    )
    out(
        f"packages: SQLAlchemy {version('sqlalchemy')}, aiosqlite {version('aiosqlite')}, "
        f"asyncpg {version('asyncpg')}, PyNaCl {version('pynacl')}, pydantic {version('pydantic')}, "
        f"rfc8785 {version('rfc8785')}"
    )
    out(f"code:     git {commit}")
    load = os.getloadavg()
    out(f"load:     {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1/5/15 min) at start")


# ------------------------------------------------------------------------------------------- hubs


class Signer:
    """Makes unique signed record submissions for one manufacturer, ahead of any timing."""

    def __init__(
        self, manufacturer: str, key: OrganisationKey, sites: dict[str, tuple[str, str]]
    ) -> None:
        self.manufacturer = manufacturer
        self.key = key
        self.sites = sites
        """Plant label -> (registered installation id, product line id)."""
        self.count = 0

    def submissions(self, n: int) -> list[Submission]:
        made = []
        for i in range(self.count, self.count + n):
            country, plant, cn_code = PLANTS[i % len(PLANTS)]
            installation, line = self.sites[plant]
            document = sample_record(
                self.manufacturer,
                installation,
                country,
                cn_code,
                f"2026-Q{1 + (i // 3) % 4}",
                round(1.5 + i / 1_000_000, 6),  # unique per record: no replays
                0.31,
                product_line_id=line,
                productionMethod={"methodId": ROUTE_CODES[country]},
            )
            signed = self.key.sign_document(document)
            made.append(Submission(signed.payload, signed.signature, signed.key_id))
        self.count += n
        return made


@dataclass
class Hub:
    label: str
    router: ShardRouter
    signer: Signer
    cleanup: list[Any] = field(default_factory=list)


async def open_hub(
    label: str, data_dir: Path, region_urls: dict[str, str], processes: int | None
) -> Hub:
    settings = Settings(
        data_dir=data_dir,
        regions=region_urls,
        country_regions=COUNTRY_REGIONS,
        default_region="row",
        create_missing_keys=True,
    )
    if processes is not None:
        settings = settings.with_overrides(ingest_processes=processes)
    router = await ShardRouter.open(settings)
    try:
        if settings.ingest_processes:
            await router.ingest_pool.start()  # as a serving hub would, before the first batch
        key = OrganisationKey.generate()
        organisation = OrganisationIn(role="manufacturer", legal_name="Bench Steel", country="TR")
        manufacturer = await identities.register_organisation(router, organisation, key.public_key)
        sites = {
            plant: await register_sample_site(
                router, manufacturer, key, country, [cn_code], name=plant
            )
            for country, plant, cn_code in PLANTS
        }
    except BaseException:
        await router.close()
        raise
    return Hub(label, router, Signer(manufacturer, key, sites))


class Postgres:
    """Fresh throwaway databases on the server named by --postgres (needs CREATEDB)."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        if parsed.get_backend_name() != "postgresql":
            raise SystemExit(f"--postgres must be a postgresql:// URL, not {parsed.drivername}")
        self.admin_dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        self.base = parsed.set(drivername="postgresql+asyncpg")
        self.shown = parsed.render_as_string(hide_password=True)
        self.created: list[str] = []

    async def _admin(self, sql: str) -> Any:
        import asyncpg

        conn = await asyncpg.connect(self.admin_dsn, timeout=30)
        try:
            return await conn.fetch(sql)
        finally:
            await conn.close()

    async def describe(self) -> str:
        rows = await self._admin(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('server_version', 'fsync', 'synchronous_commit', 'shared_buffers', 'wal_level')"
        )
        return ", ".join(f"{r['name']}={r['setting']}" for r in rows)

    async def fresh(self) -> dict[str, str]:
        stem = f"bench_ingest_{secrets.token_hex(4)}"
        urls = {}
        for region in REGIONS:
            name = f"{stem}_{region}"
            await self._admin(f'CREATE DATABASE "{name}"')
            self.created.append(name)
            urls[region] = self.base.set(database=name).render_as_string(hide_password=False)
        return urls

    async def drop_all(self) -> None:
        for name in self.created:
            await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()


# ------------------------------------------------------------------------------------------- 1. throughput


def worker_cpu(pids: Sequence[int]) -> float:
    """CPU seconds (user + system) the ingest worker processes have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


class LoopStalls:
    """The longest gap between the ticks of a 1 ms ticker on the event loop while the block runs."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            self.longest = max(self.longest, now - last - 0.001)
            last = now

    async def __aenter__(self) -> LoopStalls:
        self._task = asyncio.create_task(self._tick())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


MODES = ("in-process", "pooled")
"""in-process: Settings.ingest_processes = 0 (parse on the loop, signatures on threads, decision
92); pooled: the hub's worker processes check the rows (decision 0096)."""
UPLOADS = {"in-process": 1, "pooled": 1, "in-process x2": 2, "pooled x2": 2}
"""Batches published at once: x2 = two uploads under way together (e.g. two manufacturers), so one
batch's check phase can run while the other's write phase holds the loop."""


def mode_settings(mode: str) -> dict[str, Any]:
    return {"ingest_processes": 0} if mode.startswith("in-process") else {}


async def bench_throughput(hubs: list[Hub], args: argparse.Namespace) -> dict[str, float]:
    section(
        f"1. THROUGHPUT: publish_batch, batch sizes {', '.join(f'{b:,}' for b in args.batch_sizes)}, "
        f"{args.rounds} batch(es) per size per backend and mode, backends and modes alternating"
    )
    sample = hubs[0].signer.submissions(3)
    sizes = [len(s.payload) for s in sample]
    out(
        f"records: signed Catena-X KIT documents, ~{statistics.fmean(sizes):.0f} bytes of canonical "
        f"JSON each, DE/CN/TR installations (regions eu/cn/row) in turn"
    )
    settings = hubs[0].router.settings
    out(
        f"modes compared in the same run: in-process (ingest_processes=0, "
        f"{settings.ingest_signature_threads} signature threads) and pooled "
        f"({settings.ingest_processes} worker processes, chunks of "
        f"{settings.ingest_process_chunk}, batches >= {settings.ingest_process_min_batch})"
    )
    out("warm-up: one batch of 1,000 per hub and mode (untimed)")
    base = {hub.label: hub.router.settings for hub in hubs}
    modes = list(UPLOADS) if args.concurrent else list(MODES)
    for hub in hubs:
        for mode in MODES:
            hub.router.settings = base[hub.label].with_overrides(**mode_settings(mode))
            await publish_batch(hub.router, hub.signer.submissions(1_000))
    timings: dict[tuple[str, str, int], list[float]] = {}
    cpus: dict[tuple[str, str, int], list[float]] = {}  # this process + the workers
    loop_cpus: dict[tuple[str, str, int], list[float]] = {}  # the event loop's thread alone
    stall_ms: dict[tuple[str, str, int], list[float]] = {}  # the loop's longest stall per batch
    for batch in args.batch_sizes:
        for round_ in range(args.rounds):
            order = hubs if round_ % 2 == 0 else list(reversed(hubs))
            for hub in order:
                for mode in modes if round_ % 2 == 0 else list(reversed(modes)):
                    hub.router.settings = base[hub.label].with_overrides(**mode_settings(mode))
                    pids = hub.router.ingest_pool.pids()
                    # signed before the clock starts
                    uploads = [hub.signer.submissions(batch) for _ in range(UPLOADS[mode])]
                    gc.collect()
                    start, cpu = time.perf_counter(), time.process_time() + worker_cpu(pids)
                    loop_cpu = time.thread_time()
                    async with LoopStalls() as stalls:  # what other requests would wait
                        results = await asyncio.gather(
                            *(publish_batch(hub.router, u) for u in uploads)
                        )
                    elapsed = time.perf_counter() - start
                    stall_ms.setdefault((hub.label, mode, batch), []).append(stalls.longest * 1000)
                    key = (hub.label, mode, batch)
                    used = time.process_time() + worker_cpu(pids) - cpu
                    cpus.setdefault(key, []).append(used / len(uploads))
                    loop_cpus.setdefault(key, []).append(
                        (time.thread_time() - loop_cpu) / len(uploads)
                    )
                    for published in results:
                        assert len(published) == batch and not any(p.replayed for p in published)
                    timings.setdefault(key, []).append(elapsed / len(uploads))
    for hub in hubs:
        hub.router.settings = base[hub.label]
    out()
    out(
        "  CPU us/rec: CPU time per record of this process (every thread) and the ingest workers "
        "(the database server's not counted);\n  loop: the event loop thread's alone, the serial "
        "part that bounds throughput when cores are free;\n  stall: the longest time the event loop "
        "ran without yielding during a batch (other requests wait that long), worst batch"
    )
    out(
        f"  {'backend':<10} {'mode':>13} {'batch':>7} {'records/s':>11} {'(min':>9} {'max)':>9} "
        f"{'ms/batch':>10} {'CPU us/rec':>10} {'loop':>5} {'stall':>7}  target"
    )
    best: dict[str, float] = {}
    for hub in hubs:
        target = TARGET_POSTGRES if hub.label == "postgres" else TARGET_SQLITE
        for mode in modes:
            for batch in args.batch_sizes:
                key = (hub.label, mode, batch)
                seconds = timings[key]
                rate = batch * len(seconds) / sum(seconds)
                rates = [batch / s for s in seconds]
                best[hub.label] = max(best.get(hub.label, 0.0), rate)
                out(
                    f"  {hub.label:<10} {mode:>13} {batch:>7,} {rate:>11,.0f} {min(rates):>9,.0f} "
                    f"{max(rates):>9,.0f} {statistics.fmean(seconds) * 1000:>10,.1f} "
                    f"{sum(cpus[key]) / (batch * len(seconds)) * 1e6:>10,.0f} "
                    f"{sum(loop_cpus[key]) / (batch * len(seconds)) * 1e6:>5,.0f} "
                    f"{max(stall_ms[key]):>7,.0f}  "
                    f">= {target:,}/s: {verdict(rate >= target)}"
                )
    if len(hubs) == 2 and len(best) == 2:
        out(
            f"\n  ratio sqlite / postgres at the best batch size: {best['sqlite'] / best['postgres']:.2f}x"
        )
    return best


# ------------------------------------------------------------------------------------------- 2. stages

STAGES = (
    ("workers", "pooled: check phase in the workers, wall (_check_pooled)"),
    ("parse", "JSON parse + record validation (parse_payload)"),
    ("key", "registered key lookup (organisation_key, once per batch)"),
    ("verify", "signature verification (signature_valid)"),
    ("line", "installation + product line check (cached per batch)"),
    ("route", "routing to home shards (for_country)"),
    ("score_context", "anomaly scoring context: route codes, history (before writers)"),
    ("begin", "open writers: BEGIN IMMEDIATE / FOR UPDATE + log head"),
    ("replay", "replay index: HMAC digests + SELECT existing"),
    ("seal", "sealing payload + signature (XChaCha20-Poly1305)"),
    ("rows", "ids, salts (or the worker's), row dicts"),
    ("commitment", "commitments: whole payload and per field (decision 0055)"),
    ("statement", "statement bytes (Statement.to_bytes: JCS)"),
    ("insert", "INSERT records (executemany)"),
    ("score", "anomaly score_batch + INSERT record_scores"),
    ("append", "ledger append (hash tiles, bundles, checkpoint, SQL)"),
    ("commit", "COMMIT (every region) + release"),
)


async def staged_batch(
    router: ShardRouter, submissions: Sequence[Submission], t: dict[str, float]
) -> int:
    """A copy of publishing.publish_batch (with _check and _write inlined), each stage timed into `t`.

    Same functions, same order, same inputs; only the perf_counter calls are added. Error reporting is
    left out (every benchmark row is valid). When the router's pool takes the batch, the check phase
    is the real `_check_pooled` timed whole ("workers": parse, verify, seal, commitments there, the
    key and line lookups here), and the write phase uses what the workers computed, as `_write` does."""
    clock = time.perf_counter
    keys: dict[tuple[str, str], RegisteredKey] = {}
    lines: dict[tuple[str, str], _Line | None] = {}
    checked: list[_Checked] = []
    if router.ingest_pool.used_for(router.settings, len(submissions)):
        errors: dict[int, Any] = {}
        a = clock()
        await _check_pooled(
            router, router.ingest_pool, submissions, set(), keys, lines, checked, errors
        )
        t["workers"] += clock() - a
        assert not errors
        submissions = []  # checked: skip the in-process loop below
    for row, submission in enumerate(submissions):
        a = clock()
        record, document = parse_payload(submission.payload)
        b = clock()
        manufacturer = record.manufacturer_id or ""
        cache_key = (manufacturer, submission.key_id)
        key = keys.get(cache_key)
        if key is None:
            key = await organisation_key(router, manufacturer, submission.key_id)
            keys[cache_key] = key
        assert key.revoked_at is None
        c = clock()
        ok = signature_valid(key.public_key, submission.payload, submission.signature)
        d = clock()
        assert ok
        line = await _product_line_of(router, record, lines)
        e = clock()
        checked.append(_Checked(row, submission, record, document, line.id))
        t["parse"] += b - a
        t["key"] += c - b
        t["verify"] += d - c
        t["line"] += e - d
    a = clock()
    by_region: dict[str, list[_Checked]] = {}
    for item in checked:
        by_region.setdefault(router.for_country(item.record.country_code).region, []).append(item)
    t["route"] += clock() - a
    a = clock()
    scoring = {region: await _prepare_scores(router, items) for region, items in by_region.items()}
    t["score_context"] += clock() - a
    written = 0
    async with contextlib.AsyncExitStack() as stack:
        for region in sorted(by_region):
            shard = router.shard(region)
            a = clock()
            writer = await stack.enter_async_context(shard.log.writer())
            t["begin"] += clock() - a
            written += await staged_write(shard, writer, by_region[region], t, scoring[region])
        a = clock()
        await stack.aclose()
        t["commit"] += clock() - a
    return written


async def staged_write(
    shard: Shard, writer: Any, items: list[_Checked], t: dict[str, float], scoring: _Scoring
) -> int:
    """publishing._write with timers (replays cannot occur here: every payload is new)."""
    clock = time.perf_counter
    a = clock()
    conn = writer.connection
    digest_of = {
        item.row: item.pre.replay_digest
        if item.pre is not None and item.pre.region == shard.region
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
    assert not existing
    versions, problems = await _supersede_problems(shard, conn, items)
    assert not versions and not problems  # no corrections here
    now = datetime.now(UTC)
    stamp = now.isoformat().replace("+00:00", "Z")
    t["replay"] += clock() - a
    rows: list[dict[str, Any]] = []
    statements: list[bytes] = []
    ids: dict[int, tuple[str, str]] = {}
    seal = commit_ = statement = other = 0.0
    for item in items:
        a = clock()
        pre = item.pre if item.pre is not None and item.pre.region == shard.region else None
        leaf_index = writer.size + len(statements)
        if pre is not None:  # chosen and computed by an ingest worker
            record_id, salt = pre.record_id, pre.salt
        else:
            record_id = new_id("rec", shard.region)
            salt = new_salt()
        b = clock()
        if pre is not None:
            sealed_payload, sealed_signature = pre.sealed_payload, pre.sealed_signature
        else:
            sealed_payload = shard.seal(item.submission.payload, record_id, "payload")
            sealed_signature = shard.seal(item.submission.signature, record_id, "signature")
        c = clock()
        ids[item.row] = (record_id, item.record.manufacturer_id or "")
        rows.append(
            {
                "id": record_id,
                "manufacturer_id": item.record.manufacturer_id,
                "installation_id": _installation(item.record),
                "cn_code": item.record.cn_code,
                "period": _period(item.record),
                "payload": sealed_payload,
                "replay_digest": digest_of[item.row],
                "signature": sealed_signature,
                "key_id": item.submission.key_id,
                "salt": salt,
                "leaf_index": leaf_index,
                "recorded_at": now,
                "product_line_id": item.product_line_id,
                "version": 1,
                "supersedes": None,
                "quality_tier": item.record.data_quality_tier.value,
                "valid_from": item.record.activity_data.reference_period_start,
                "valid_until": item.record.activity_data.reference_period_end,
            }
        )
        d = clock()
        # as in _write: both commitments over the verified canonical payload, not re-encoded
        if pre is not None:
            committed, fields = pre.commitment, pre.fields
        else:
            committed = commitment_of_canonical(salt, item.submission.payload)
            fields = fields_commitment_of_document(salt, item.submission.payload, item.document)
        e = clock()
        statements.append(
            Statement(
                kind=StatementKind.RECORD_PUBLISHED,
                subject={"record": record_id, "installation": _installation(item.record)},
                time=stamp,
                signer=item.submission.key_id,
                commitment=committed,
                fields=fields,
            ).to_bytes()
        )
        f = clock()
        seal += c - b
        commit_ += e - d
        statement += f - e
        other += (b - a) + (d - c)
    t["seal"] += seal
    t["commitment"] += commit_
    t["statement"] += statement
    t["rows"] += other
    a = clock()
    await conn.execute(schema.records.insert(), rows)
    b = clock()
    if scoring is not None:
        await insert_scores(shard, conn, scoring[0].score(scoring[1], ids), now)
    c = clock()
    await writer.append(statements)
    d = clock()
    t["insert"] += b - a
    t["score"] += c - b
    t["append"] += d - c
    return len(rows)


async def bench_stages(hub: Hub, args: argparse.Namespace) -> None:
    base = hub.router.settings
    try:
        for mode in MODES:
            hub.router.settings = base.with_overrides(**mode_settings(mode))
            await bench_stages_of(hub, mode, args)
    finally:
        hub.router.settings = base


async def bench_stages_of(hub: Hub, mode: str, args: argparse.Namespace) -> None:
    n, rounds = args.stage_batch, args.stage_rounds
    out()
    out(
        f"--- {hub.label}, {mode}: batches of {n:,} records, {rounds} staged + {rounds} real "
        f"publish_batch calls, alternating (fresh records each)"
    )
    t = {key: 0.0 for key, _ in STAGES}
    staged_total: list[float] = []
    real_total: list[float] = []
    last: list[Submission] = []
    for round_ in range(rounds):
        for kind in ("staged", "real") if round_ % 2 == 0 else ("real", "staged"):
            submissions = hub.signer.submissions(n)
            gc.collect()
            start = time.perf_counter()
            if kind == "staged":
                written = await staged_batch(hub.router, submissions, t)
                staged_total.append(time.perf_counter() - start)
                assert written == n
                last = submissions
            else:
                published = await publish_batch(hub.router, submissions)
                real_total.append(time.perf_counter() - start)
                assert len(published) == n
    staged_sum = sum(t.values()) / rounds
    out(f"  {'stage':<58} {'ms/batch':>9} {'us/record':>10} {'share':>7}")
    for key, label in STAGES:
        per_batch = t[key] / rounds
        out(
            f"  {label:<58} {per_batch * 1000:>9.1f} {per_batch / n * 1e6:>10.1f} "
            f"{per_batch / staged_sum * 100:>6.1f}%"
        )
    staged_wall = statistics.fmean(staged_total)
    real_wall = statistics.fmean(real_total)
    out(
        f"  {'sum of the stages':<58} {staged_sum * 1000:>9.1f} {staged_sum / n * 1e6:>10.1f} "
        f"{100.0:>6.1f}%"
    )
    out(
        f"  {'staged copy, wall clock':<58} {staged_wall * 1000:>9.1f} {staged_wall / n * 1e6:>10.1f}"
        f"   (untimed glue: {(staged_wall - staged_sum) * 1000:.1f} ms)"
    )
    out(
        f"  {'real publish_batch, wall clock':<58} {real_wall * 1000:>9.1f} {real_wall / n * 1e6:>10.1f}"
        f"   = {n / real_wall:,.0f} records/s; real / staged sum = {real_wall / staged_sum:.2f}"
    )
    if mode == "pooled":
        check = t["workers"] / rounds
        out(
            f"  check phase in the workers alone: {n / check:,.0f} records/s; the write phase "
            f"after it (on the loop) alone: {n / (staged_sum - check):,.0f}/s"
        )
        return
    cpu_check = (t["parse"] + t["verify"]) / rounds
    out(
        f"  check phase (parse + verify) alone caps one core at {n / cpu_check:,.0f} records/s; "
        f"the write phase alone at {n / (staged_sum - cpu_check - t['key'] / rounds):,.0f}/s"
    )
    parse_parts(last)


def parse_parts(submissions: Sequence[Submission]) -> None:
    """parse_payload's parts on the same payloads: json.loads, parse_record, and the canonical
    check both ways: the rfc8785 reference encoder (before decision 93) and is_canonical (now)."""
    import json

    clock = time.perf_counter
    loads = model = jcs = fast = 0.0
    for submission in submissions:
        a = clock()
        document = json.loads(submission.payload)
        b = clock()
        parse_record(document)
        c = clock()
        same = canonical(document) == submission.payload
        d = clock()
        quick = is_canonical(submission.payload, document)
        e = clock()
        assert same and quick
        loads += b - a
        model += c - b
        jcs += d - c
        fast += e - d
    n = len(submissions)
    total = loads + model + fast
    out(
        "  parse_payload split (same payloads, run again; % of the split as parse_payload runs now):"
    )
    for label, seconds in (
        ("json.loads", loads),
        ("parse_record (pydantic record model + cross-field rules)", model),
        ("is_canonical(payload, document) (C encoder, proven same)", fast),
        ("  was: canonical(document) == payload (rfc8785, pure Py)", jcs),
    ):
        out(f"    {label:<56} {seconds / n * 1e6:>10.1f} us/record {seconds / total * 100:>6.1f}%")


# ------------------------------------------------------------------------------------------- 3. latency


async def bench_latency(hubs: list[Hub], args: argparse.Namespace) -> dict[str, float]:
    section(
        f"3. PUBLISH -> QUERYABLE WITH PROOF: publishing.publish then reading.record_with_proof, "
        f"{args.latency_n} records per backend, backends alternating"
    )
    pending = {hub.label: hub.signer.submissions(args.latency_n + 10) for hub in hubs}
    timings: dict[str, list[tuple[float, float]]] = {hub.label: [] for hub in hubs}
    for i in range(args.latency_n + 10):  # the first 10 per backend warm up, untimed
        for hub in hubs if i % 2 == 0 else list(reversed(hubs)):
            submission = pending[hub.label][i]
            start = time.perf_counter()
            published = await publishing.publish(
                hub.router, submission.payload, submission.signature, submission.key_id
            )
            middle = time.perf_counter()
            stored = await reading.record_with_proof(hub.router, published.record_id)
            end = time.perf_counter()
            assert stored.record_id == published.record_id and stored.evidence.proof is not None
            if i >= 10:
                timings[hub.label].append((middle - start, end - middle))
    p99s: dict[str, float] = {}
    out(f"  {'backend':<10} {'step':<30} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'mean ms':>8}")
    for hub in hubs:
        rows = timings[hub.label]
        for label, values in (
            ("publish", [p for p, _ in rows]),
            ("record_with_proof", [r for _, r in rows]),
            ("publish + record_with_proof", [p + r for p, r in rows]),
        ):
            ms = sorted(v * 1000 for v in values)
            out(
                f"  {hub.label:<10} {label:<30} {percentile(ms, 50):>8.2f} {percentile(ms, 99):>8.2f} "
                f"{ms[-1]:>8.2f} {statistics.fmean(ms):>8.2f}"
            )
        total = sorted((p + r) * 1000 for p, r in rows)
        p99s[hub.label] = percentile(total, 99)
        out(
            f"  {hub.label:<10} p99 {p99s[hub.label]:.2f} ms vs target <= {TARGET_P99_MS:.0f} ms: "
            f"{verdict(p99s[hub.label] <= TARGET_P99_MS)}"
        )
    return p99s


# ------------------------------------------------------------------------------------------- 4. headroom

_KEY: bytes = b""


def _check_chunk(chunk: list[tuple[bytes, bytes]]) -> int:
    valid = 0
    for payload, signature in chunk:
        parse_payload(payload)
        valid += signature_valid(_KEY, payload, signature)
    return valid


def _verify_chunk(chunk: list[tuple[bytes, bytes]]) -> int:
    return sum(signature_valid(_KEY, p, s) for p, s in chunk)


def _init_worker(key: bytes) -> None:
    global _KEY
    _KEY = key


def bench_headroom(hub: Hub, args: argparse.Namespace) -> None:
    section(
        f"4. HEADROOM: the CPU-bound check on {args.headroom:,} records, 1 core vs 2 "
        f"(what a parallel check can give; publish_batch runs the signatures on threads)"
    )
    submissions = hub.signer.submissions(args.headroom)
    pairs = [(s.payload, s.signature) for s in submissions]
    _init_worker(hub.signer.key.public_key)
    chunks = [pairs[i : i + 500] for i in range(0, len(pairs), 500)]
    rows: list[tuple[str, float]] = []

    start = time.perf_counter()
    assert sum(_check_chunk(c) for c in chunks) == len(pairs)
    rows.append(
        ("parse + verify, 1 core (publish_batch before decision 92)", time.perf_counter() - start)
    )

    start = time.perf_counter()
    assert sum(_verify_chunk(c) for c in chunks) == len(pairs)
    rows.append(("verify only, 1 thread", time.perf_counter() - start))

    with ThreadPoolExecutor(2) as pool:
        start = time.perf_counter()
        assert sum(pool.map(_verify_chunk, chunks)) == len(pairs)
        rows.append(
            ("verify only, 2 threads (PyNaCl releases the GIL)", time.perf_counter() - start)
        )

    with ProcessPoolExecutor(
        2, initializer=_init_worker, initargs=(hub.signer.key.public_key,)
    ) as pool:
        list(pool.map(_verify_chunk, chunks[:2]))  # start the workers
        start = time.perf_counter()
        assert sum(pool.map(_check_chunk, chunks)) == len(pairs)
        rows.append(
            (
                "parse + verify, 2 processes (results not sent back)",
                time.perf_counter() - start,
            )
        )
    for label, seconds in rows:
        out(f"  {label:<58} {len(pairs) / seconds:>10,.0f} records/s")


# ------------------------------------------------------------------------------------------- main


async def main(args: argparse.Namespace) -> None:
    machine_info()
    pg = Postgres(args.postgres) if args.postgres else None
    if pg:
        out(f"postgres: {pg.shown}: {await pg.describe()}")
    out(f"command:  {' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}")
    hubs: list[Hub] = []
    with tempfile.TemporaryDirectory(prefix="cbamhub-bench-ingest-") as tmp:
        root = Path(tmp)
        try:
            sqlite_urls = {
                r: f"sqlite+aiosqlite:///{root / 'sqlite' / f'shard-{r}.db'}" for r in REGIONS
            }
            hubs.append(await open_hub("sqlite", root / "sqlite", sqlite_urls, args.processes))
            if pg:
                urls = await pg.fresh()
                hubs.append(await open_hub("postgres", root / "postgres", urls, args.processes))
            out(
                f"hubs:     {', '.join(h.label for h in hubs)}; regions {', '.join(REGIONS)}; "
                f"one manufacturer ({hubs[0].signer.manufacturer}), key registered in its home shard"
            )
            sections = set(args.sections.split(","))
            best: dict[str, float] = {}
            p99s: dict[str, float] = {}
            if "throughput" in sections:
                best = await bench_throughput(hubs, args)
            if "stages" in sections:
                section(
                    "2. WHERE THE TIME GOES: a staged copy of publish_batch next to the real one"
                )
                for hub in hubs:
                    await bench_stages(hub, args)
            if "latency" in sections:
                p99s = await bench_latency(hubs, args)
            if "headroom" in sections:
                bench_headroom(hubs[0], args)
            section("TARGETS")
            for hub in hubs:
                target = TARGET_POSTGRES if hub.label == "postgres" else TARGET_SQLITE
                if hub.label in best:
                    out(
                        f"  bulk ingest on {hub.label:<8} >= {target:>6,} records/s: "
                        f"{best[hub.label]:>8,.0f} at the best batch size  {verdict(best[hub.label] >= target)}"
                    )
                if hub.label in p99s:
                    out(
                        f"  publish -> provable p99 on {hub.label:<8} <= {TARGET_P99_MS:.0f} ms: "
                        f"{p99s[hub.label]:>8.2f} ms  {verdict(p99s[hub.label] <= TARGET_P99_MS)}"
                    )
            if not pg:
                out("  bulk ingest on postgres: not measured (no --postgres URL)")
        finally:
            for hub in hubs:
                await hub.router.close()
            if pg:
                await pg.drop_all()


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n", 1)[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="~30-second smoke run")
    parser.add_argument(
        "--postgres", metavar="URL", help="also run on this PostgreSQL server (role with CREATEDB)"
    )
    parser.add_argument(
        "--sections",
        default="throughput,stages,latency,headroom",
        help="comma-separated subset of throughput,stages,latency,headroom",
    )
    parser.add_argument(
        "--batch-sizes",
        type=parse_list,
        default=None,
        help="default 1000,5000,10000 (quick: 1000,5000)",
    )
    parser.add_argument(
        "--rounds", type=int, default=None, help="batches per size (quick: 1; else 3)"
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=None,
        help="Settings.ingest_processes of the hubs (pooled mode); default: the settings' default",
    )
    parser.add_argument(
        "--concurrent",
        action="store_true",
        help="section 1 also publishes two batches at once per mode (x2 rows)",
    )
    parser.add_argument("--stage-batch", type=int, default=5_000, help="records per staged batch")
    parser.add_argument("--stage-rounds", type=int, default=None, help="quick: 1; else 3")
    parser.add_argument("--latency-n", type=int, default=None, help="quick: 60; else 300")
    parser.add_argument("--headroom", type=int, default=None, help="quick: 2000; else 10000")
    args = parser.parse_args()
    quick = args.quick
    if args.batch_sizes is None:
        args.batch_sizes = [1_000, 5_000] if quick else [1_000, 5_000, 10_000]
    if args.rounds is None:
        args.rounds = 1 if quick else 3
    if args.stage_rounds is None:
        args.stage_rounds = 1 if quick else 3
    if args.latency_n is None:
        args.latency_n = 60 if quick else 300
    if args.headroom is None:
        args.headroom = 2_000 if quick else 10_000
    if max([*args.batch_sizes, args.stage_batch]) > publishing.MAX_BATCH:
        parser.error(f"publish_batch takes at most {publishing.MAX_BATCH:,} records per batch")
    return args


if __name__ == "__main__":
    asyncio.run(main(arguments()))
