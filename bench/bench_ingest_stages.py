"""The per-record stages of bulk ingest that decisions 0094 and 0099 made cheaper, before and after,
side by side in one run, on the same records: validation (parse_payload), commitments (whole
payload and per field), statement bytes, sealing payload + signature, the anomaly scoring context,
and score rows + their INSERT.

"Before" is the code of a git revision (--before, default: d93e0ce, the commit before decision
0099; a revision must hold every module below, so decision 0094's own baseline, be40b3f, from before
vault/payloads.py, is refused — its figures are in docs/PERFORMANCE.md),
loaded from `git show REV:<path>` as sibling modules of today's (ledger/statements.py,
ledger/disclosure.py, vault/crypto.py, vault/anomaly_ingest.py, vault/record_scores.py, and
vault/units.py, record_model.py and payloads.py, whose imports of each other are pointed at their
`before` siblings), so both sides run in this process against the same shard. Each stage checks that both sides answer the same
(the same bytes, the same features and digests; sealed boxes open under both), then times them in
alternating order, `--rounds` times; the table gives the median us/record of each side.

    .venv/bin/python bench/bench_ingest_stages.py [--records 5000] [--rounds 5]
        [--postgres postgresql+asyncpg://USER@HOST:PORT/DB] [--before REV]

The machine is shared: compare the two columns of one run, not figures across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import importlib.util
import math
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from bench_ingest import COUNTRY_REGIONS, PLANTS, REGIONS, ROUTE_CODES  # the same world
from cbamhub.anomaly.record import RecordFeatures
from cbamhub.ledger import disclosure
from cbamhub.ledger.statements import Statement, StatementKind, commitment_of_canonical
from cbamhub.vault import crypto, identities, publishing, record_scores
from cbamhub.vault.crypto import associated_data
from cbamhub.vault.ids import new_id
from cbamhub.vault.models import OrganisationIn
from cbamhub.vault.publishing import Submission, parse_payload
from cbamhub.vault.record_model import EmissionsRecord, record_document
from cbamhub.vault.shards import Shard, ShardRouter
from cbamhub.vault.signing import OrganisationKey
from sqlalchemy.engine import make_url

from cbamhub.demo import register_sample_site, sample_record
from cbamhub.settings import Settings

REPO = Path(__file__).resolve().parent.parent
BEFORE = "d93e0ce"  # main before decision 0099
MODULES = {
    "statements": ("cbamhub.ledger", "ledger/statements.py"),
    "disclosure": ("cbamhub.ledger", "ledger/disclosure.py"),
    "crypto": ("cbamhub.vault", "vault/crypto.py"),
    "anomaly_ingest": ("cbamhub.vault", "vault/anomaly_ingest.py"),
    "record_scores": ("cbamhub.vault", "vault/record_scores.py"),
    "units": ("cbamhub.vault", "vault/units.py"),
    "record_model": ("cbamhub.vault", "vault/record_model.py"),
    "payloads": ("cbamhub.vault", "vault/payloads.py"),
}
# a `before` module imports its `before` siblings, not today's
SIBLING_IMPORTS = {
    "record_model": (("from . import units\n", "from . import _before_units as units\n"),),
    "payloads": (("from .record_model import", "from ._before_record_model import"),),
}


def out(text: str = "") -> None:
    print(text, flush=True)


def git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True
    ).stdout


def load_before(rev: str) -> dict[str, ModuleType]:
    """Today's package siblings, as they were at `rev`."""
    loaded = {}
    for name, (package, path) in MODULES.items():
        spec = importlib.util.spec_from_loader(f"{package}._before_{name}", loader=None)
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        module.__package__ = package
        sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
        try:
            source = git("show", f"{rev}:{path}")
        except subprocess.CalledProcessError:
            raise SystemExit(f"--before {rev}: that revision has no {path}") from None
        for old, new in SIBLING_IMPORTS.get(name, ()):
            assert old in source, f"{rev}:{path} has no {old!r}"
            source = source.replace(old, new)
        exec(compile(source, f"{rev}:{path}", "exec"), module.__dict__)
        loaded[name] = module
    return loaded


# ------------------------------------------------------------------------------------------- setup


@dataclasses.dataclass
class Batch:
    router: ShardRouter
    by_region: dict[str, list[tuple[Submission, EmissionsRecord, Any]]]
    manufacturer: str


async def open_hub(region_urls: dict[str, str], data_dir: Path, n: int) -> Batch:
    settings = Settings(
        data_dir=data_dir,
        regions=region_urls,
        country_regions=COUNTRY_REGIONS,
        default_region="row",
        create_missing_keys=True,
    )
    router = await ShardRouter.open(settings)
    key = OrganisationKey.generate()
    organisation = OrganisationIn(role="manufacturer", legal_name="Bench Steel", country="TR")
    maker = await identities.register_organisation(router, organisation, key.public_key)
    sites = {
        plant: await register_sample_site(router, maker, key, country, [cn], name=plant)
        for country, plant, cn in PLANTS
    }

    def submissions(start: int, count: int, year: int) -> list[Submission]:
        made = []
        for i in range(start, start + count):
            country, plant, cn = PLANTS[i % len(PLANTS)]
            installation, line = sites[plant]
            document = sample_record(
                maker,
                installation,
                country,
                cn,
                f"{year}-Q{1 + (i // 3) % 4}",
                round(1.5 + i / 1_000_000, 6),
                0.31,
                product_line_id=line,
                productionMethod={"methodId": ROUTE_CODES[country]},
            )
            signed = key.sign_document(document)
            made.append(Submission(signed.payload, signed.signature, signed.key_id))
        return made

    # earlier periods in the shards: history and copy lookups find something
    await publishing.publish_batch(router, submissions(0, min(n, 3_000), 2025))
    batch: dict[str, list[tuple[Submission, EmissionsRecord, Any]]] = {}
    for s in submissions(100_000, n, 2026):
        record, document = parse_payload(s.payload)
        region = router.for_country(record.country_code).region
        batch.setdefault(region, []).append((s, record, document))
    return Batch(router, batch, maker)


# ------------------------------------------------------------------------------------------- stages

Stage = Callable[[], Awaitable[None]]


async def timed(stage: Stage) -> float:
    gc.collect()
    start = time.perf_counter()
    await stage()
    return time.perf_counter() - start


def bytes_stages(batch: Batch, before: dict[str, ModuleType]) -> dict[str, tuple[Stage, Stage]]:
    items = [item for items in batch.by_region.values() for item in items]
    salts = [secrets.token_bytes(32) for _ in items]
    old_d, old_s = before["disclosure"], before["statements"]

    for (s, _, document), salt in zip(items[:200], salts, strict=False):
        expected = old_d.fields_commitment_of_canonical(salt, s.payload)
        assert disclosure.fields_commitment_of_document(salt, s.payload, document) == expected

    async def commit_before() -> None:
        for (s, _, _), salt in zip(items, salts, strict=True):
            commitment_of_canonical(salt, s.payload)
            old_d.fields_commitment_of_canonical(salt, s.payload)

    async def commit_after() -> None:
        for (s, _, document), salt in zip(items, salts, strict=True):
            commitment_of_canonical(salt, s.payload)
            disclosure.fields_commitment_of_document(salt, s.payload, document)

    stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    members = [
        {
            "subject": {"record": new_id("rec", "eu"), "installation": r.installation_id or ""},
            "time": stamp,
            "signer": s.key_id,
            "commitment": secrets.token_hex(32),
            "fields": secrets.token_hex(32),
        }
        for s, r, _ in items
    ]
    old_kind = old_s.StatementKind.RECORD_PUBLISHED
    for m in members[:200]:
        new = Statement(kind=StatementKind.RECORD_PUBLISHED, **m).to_bytes()
        assert new == old_s.Statement(kind=old_kind, **m).to_bytes()

    async def statement_before() -> None:
        for m in members:
            old_s.Statement(kind=old_kind, **m).to_bytes()

    async def statement_after() -> None:
        for m in members:
            Statement(kind=StatementKind.RECORD_PUBLISHED, **m).to_bytes()

    return {
        "commitments: whole payload and per field": (commit_before, commit_after),
        "statement bytes (Statement.to_bytes)": (statement_before, statement_after),
    }


def validation_stage(batch: Batch, before: dict[str, ModuleType]) -> tuple[Stage, Stage]:
    """parse_payload: JSON, the record model (units, cross-field rules), the canonical check."""
    payloads = [s.payload for items in batch.by_region.values() for s, _, _ in items]
    old_parse = before["payloads"].parse_payload
    old_dump = before["record_model"].record_document
    for payload in payloads[:200]:
        (new, new_doc), (old, old_doc) = parse_payload(payload), old_parse(payload)
        assert record_document(new) == old_dump(old) and new_doc == old_doc

    async def before_() -> None:
        for payload in payloads:
            old_parse(payload)

    async def after() -> None:
        for payload in payloads:
            parse_payload(payload)

    return before_, after


def old_shard(shard: Shard, before: dict[str, ModuleType]) -> Shard:
    """The shard with the keyring of `before` over the same key: seals as the old code did."""
    keyring = before["crypto"].ShardKeyring(shard.keyring.current.key)
    return dataclasses.replace(shard, keyring=keyring)


def seal_stage(batch: Batch, before: dict[str, ModuleType]) -> tuple[Stage, Stage]:
    pairs = [
        (batch.router.shard(region), old_shard(batch.router.shard(region), before), s)
        for region, items in batch.by_region.items()
        for s, _, _ in items
    ]
    ids = [new_id("rec", shard.region) for shard, _, _ in pairs]
    for (shard, old, s), record_id in list(zip(pairs, ids, strict=True))[:200]:
        row = associated_data(shard.region, record_id, "payload")
        assert old.keyring.decrypt(shard.seal(s.payload, record_id, "payload"), row) == s.payload
        assert shard.keyring.decrypt(old.seal(s.payload, record_id, "payload"), row) == s.payload
        assert isinstance(shard.keyring, crypto.ShardKeyring)

    async def before_() -> None:
        for (_, old, s), record_id in zip(pairs, ids, strict=True):
            old.seal(s.payload, record_id, "payload")
            old.seal(s.signature, record_id, "signature")

    async def after() -> None:
        for (shard, _, s), record_id in zip(pairs, ids, strict=True):
            shard.seal(s.payload, record_id, "payload")
            shard.seal(s.signature, record_id, "signature")

    return before_, after


def _comparable(prepared: Any) -> tuple[Any, Any]:
    def strip(f: Any) -> Any:
        if not isinstance(f, RecordFeatures):
            return f
        values = dataclasses.astuple(dataclasses.replace(f, record_id=""))
        return tuple("NaN" if isinstance(v, float) and math.isnan(v) else v for v in values)

    return {r: strip(f) for r, f in prepared.by_row.items()}, dict(prepared.digests)


async def anomaly_stages(
    batch: Batch, before: dict[str, ModuleType]
) -> dict[str, tuple[Stage, Stage]]:
    scoring = batch.router.scoring
    assert scoring is not None
    old_ai, old_rs = before["anomaly_ingest"], before["record_scores"]
    old = old_ai.AnomalyIngest(scoring.scorer, scoring.mapping)
    shards = {region: batch.router.shard(region) for region in batch.by_region}
    olds = {region: old_shard(shard, before) for region, shard in shards.items()}
    records = {
        region: {row: record for row, (_, record, _) in enumerate(items)}
        for region, items in batch.by_region.items()
    }
    prepared_new = {r: await scoring.prepare(shards[r], records[r]) for r in records}
    prepared_old = {r: await old.prepare(olds[r], records[r]) for r in records}
    for region in records:
        new_view, old_view = _comparable(prepared_new[region]), _comparable(prepared_old[region])
        if new_view != old_view:
            for part, a, b in zip(("features", "digests"), new_view, old_view, strict=True):
                diff = [r for r in set(a) | set(b) if a.get(r) != b.get(r)]
                out(
                    f"{region} {part} differ in {len(diff)} rows, e.g. {[(a.get(r), b.get(r)) for r in diff[:2]]}"
                )
            raise AssertionError(f"before and after disagree on the {region} context")
    ids = {
        region: {row: (new_id("rec", region), batch.manufacturer) for row in rows}
        for region, rows in records.items()
    }
    now = datetime.now(UTC)

    async def context_before() -> None:
        for region, shard in olds.items():
            await old.prepare(shard, records[region])

    async def context_after() -> None:
        for region, shard in shards.items():
            await scoring.prepare(shard, records[region])

    async def rows_and_insert(
        ingest: Any, insert: Any, chosen: dict[str, Shard], prepared: dict[str, Any]
    ) -> None:
        for region, shard in chosen.items():
            async with shard.engine.connect() as conn:
                transaction = await conn.begin()
                await insert(shard, conn, ingest.score(prepared[region], ids[region]), now)
                await transaction.rollback()

    async def score_before() -> None:
        await rows_and_insert(old, old_rs.insert_scores, olds, prepared_old)

    async def score_after() -> None:
        await rows_and_insert(scoring, record_scores.insert_scores, shards, prepared_new)

    return {
        "anomaly scoring context (prepare: reads + score_batch)": (context_before, context_after),
        "score rows + INSERT record_scores": (score_before, score_after),
    }


# ------------------------------------------------------------------------------------------- main


async def drop_databases(admin_dsn: str, names: list[str]) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_dsn)
    try:
        for name in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def run(args: argparse.Namespace, region_urls: dict[str, str], data_dir: Path) -> None:
    before = load_before(args.before)
    batch = await open_hub(region_urls, data_dir, args.records)
    try:
        stages = {"validation (parse_payload)": validation_stage(batch, before)}
        stages.update(bytes_stages(batch, before))
        stages["sealing payload + signature"] = seal_stage(batch, before)
        stages.update(await anomaly_stages(batch, before))
        n = sum(len(items) for items in batch.by_region.values())
        out(f"{n:,} records ({', '.join(f'{r} {len(i)}' for r, i in batch.by_region.items())})")
        out(
            f"  {'stage (us/record, median of ' + str(args.rounds) + ')':<58} {'before':>8} {'after':>8}"
        )
        totals = [0.0, 0.0]
        for label, (old, new) in stages.items():
            times: tuple[list[float], list[float]] = ([], [])
            for round_ in range(args.rounds):
                order = ((0, old), (1, new)) if round_ % 2 == 0 else ((1, new), (0, old))
                for side, stage in order:
                    times[side].append(await timed(stage))
            us = [statistics.median(t) / n * 1e6 for t in times]
            totals = [totals[0] + us[0], totals[1] + us[1]]
            out(f"  {label:<58} {us[0]:>8.1f} {us[1]:>8.1f}")
        out(f"  {'sum':<58} {totals[0]:>8.1f} {totals[1]:>8.1f}")
    finally:
        await batch.router.close()


async def main(args: argparse.Namespace) -> None:
    rev = git("rev-parse", "--short", "HEAD").strip()
    out(f"date:   {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}; git {rev}; before = {args.before}")
    out(f"python: {sys.version.split()[0]}, {platform.platform()}, nproc {os.cpu_count()}")
    out(f"load:   {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        out("--- SQLite")
        await run(args, {r: f"sqlite+aiosqlite:///{data_dir}/{r}.db" for r in REGIONS}, data_dir)
        if args.postgres:
            import asyncpg

            url = make_url(args.postgres)
            admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
            stem = f"bench_stages_{secrets.token_hex(4)}"
            names = [f"{stem}_{r}" for r in REGIONS]
            conn = await asyncpg.connect(admin)
            try:
                for name in names:
                    await conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                await conn.close()
            try:
                out("--- PostgreSQL")
                urls = {
                    r: url.set(database=name).render_as_string(hide_password=False)
                    for r, name in zip(REGIONS, names, strict=True)
                }
                pg_dir = data_dir / "pg"
                pg_dir.mkdir()
                await run(args, urls, pg_dir)
            finally:
                await drop_databases(admin, names)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--before", default=BEFORE, help="git revision of the 'before' column")
    parser.add_argument("--postgres", default=None, help="also on this server (needs CREATEDB)")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(arguments()))
