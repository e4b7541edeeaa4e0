"""Query pushdown vs naive filtering: an importer with 3 grants among 100,000 records.

Publishes N signed records (real path: signatures, validation, ledger) over many product lines of one
manufacturer in one SQLite shard, grants an importer 3 of the lines, then times side by side, in
alternation:

- pushdown: `vault.querying.find_records` with the 3 grant scopes (one indexed WHERE), first page of
  50 and the full walk through every granted record by cursor (pages of 100);
- naive: read every record's row from the shard, then filter by the grants and sort in Python (what
  "filter after the query" costs), first page of 50.

Prints the plan SQLite chose for the pushdown query, the latencies (median, p95) and the ratio.

    python bench/bench_query.py                 # 100,000 records (about a minute with setup)
    python bench/bench_query.py --records 20000 --repeats 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import platform
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cbamhub.vault import grants, identities, installations, publishing, querying, schema
from cbamhub.vault.publishing import Submission
from cbamhub.vault.querying import RecordFilters, RecordScope
from cbamhub.vault.shards import ShardRouter
from cbamhub.vault.signing import OrganisationKey
from sqlalchemy import select

from cbamhub.settings import Settings

CN_CODE = "72081000"  # Annex I (shared/reference/cbam_facts.md §1)


def out(text: str = "") -> None:
    print(text, flush=True)


def machine_info() -> None:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        nproc = "?"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "?"
    out(f"date {datetime.now(UTC).isoformat(timespec='seconds')}  commit {commit}")
    out(f"machine: {nproc} cores, {model}, Python {platform.python_version()}")


def record(org: str, installation: str, line: str, i: int) -> dict[str, Any]:
    """A TEST INPUT record: figures chosen for consistency, not reference figures."""
    return {
        "manufacturerId": org,
        "operatorCbamId": f"OPR-{i}",
        "installationCbamId": f"INST-{installation[-8:]}",
        "installationId": installation,
        "productLineId": line,
        "countryCode": "CN",
        "unLoCode": "CN SHA",
        "cnCode": CN_CODE,
        "productionMethod": {"methodId": "P24"},
        "activityData": {
            "referencePeriodStart": "2026-01-01T00:00:00Z",
            "referencePeriodEnd": "2026-12-31T23:59:59Z",
            "netMass": 1000.0,
        },
        "directEmissions": {"specificEmbeddedEmissionsDirect": 2.0, "attributedEmissions": 2000.0},
        "methodology": "calculationBased",
        "dataQualityTier": "measured",
    }


async def setup(router: ShardRouter, n_records: int, n_lines: int) -> tuple[str, list[str]]:
    """Publish the records; return the importer and the 3 granted line ids."""
    key = OrganisationKey.generate()
    org = await identities.register_organisation_signed(
        router,
        key.sign_document(
            {
                "action": "organisation.register",
                "role": "manufacturer",
                "legal_name": "Bench Steel",
                "country": "CN",
                "public_key": key.public_key.hex(),
            }
        ),
    )
    importer_key = OrganisationKey.generate()
    importer = await identities.register_organisation_signed(
        router,
        importer_key.sign_document(
            {
                "action": "organisation.register",
                "role": "importer",
                "legal_name": "Bench Importer",
                "country": "DE",
                "eori": "DE123456789",
                "public_key": importer_key.public_key.hex(),
            }
        ),
    )
    lines: list[tuple[str, str]] = []
    for i in range(n_lines):
        installation = await installations.register_installation(
            router,
            key.sign_document(
                {
                    "action": "installation.register",
                    "organisation": org,
                    "name": f"Works {i}",
                    "country": "CN",
                    "un_locode": "CN SHA",
                }
            ),
        )
        line = await installations.register_product_line(
            router,
            key.sign_document(
                {
                    "action": "product_line.register",
                    "organisation": org,
                    "installation": installation.id,
                    "name": f"Line {i}",
                    "cn_codes": [CN_CODE],
                }
            ),
        )
        lines.append((installation.id, line.id))
    started = time.perf_counter()
    batch: list[Submission] = []
    for i in range(n_records):
        installation, line = lines[i % n_lines]
        signed = key.sign_document(record(org, installation, line, i))
        batch.append(Submission(signed.payload, signed.signature, signed.key_id))
        if len(batch) == 5000 or i == n_records - 1:
            await publishing.publish_batch(router, batch)
            batch = []
    elapsed = time.perf_counter() - started
    out(f"setup: {n_records:,} signed records over {n_lines} product lines in {elapsed:.1f} s")
    now = datetime.now(UTC)
    granted = [lines[7][1], lines[n_lines // 2][1], lines[-3][1]]
    for line_id in granted:
        await grants.grant_access(
            router,
            key.sign_document(
                {
                    "action": "grant.create",
                    "manufacturer": org,
                    "importer": importer,
                    "product_line": line_id,
                    "purpose": "bench",
                    "valid_from": (now - timedelta(days=1)).isoformat(),
                    "valid_until": (now + timedelta(days=1)).isoformat(),
                }
            ),
        )
    return importer, granted


async def naive_first_page(router: ShardRouter, granted: set[str], limit: int) -> list[str]:
    """Read every record row, filter by grants in Python, sort, cut a page."""
    shard = router.shard("cn")
    table = schema.records
    async with shard.engine.connect() as conn:
        rows = (
            await conn.execute(select(table.c.id, table.c.product_line_id, table.c.recorded_at))
        ).all()
    kept = sorted((r.recorded_at, r.id) for r in rows if r.product_line_id in granted)
    return [record_id for _, record_id in kept[:limit]]


async def pushdown_walk(router: ShardRouter, scopes: list[RecordScope]) -> int:
    seen, after = 0, None
    while True:
        page = await querying.find_records(router, scopes, after=after, limit=100)
        seen += len(page.records)
        if not page.has_next_page:
            return seen
        after = page.end_cursor


def summary(label: str, times: list[float]) -> float:
    times = sorted(times)
    median = statistics.median(times)
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
    out(f"  {label:<46} median {median * 1000:8.2f} ms   p95 {p95 * 1000:8.2f} ms")
    return median


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--lines", type=int, default=200, help="product lines (installations)")
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    machine_info()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            regions={r: f"sqlite+aiosqlite:///{tmp}/{r}.db" for r in ("cn", "row")},
            country_regions={"CN": "cn"},
            default_region="row",
            create_missing_keys=True,
        )
        router = await ShardRouter.open(settings)
        try:
            importer, granted = await setup(router, args.records, args.lines)
            known = await grants.grants_for_importer(router, importer)
            scopes = querying.scopes_of_grants(known, datetime.now(UTC))
            query = querying.shard_query(scopes, RecordFilters(), None, None, 51, "sqlite")
            async with router.shard("cn").engine.connect() as conn:
                sql = query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
                plan = [r[-1] for r in await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]
            out("pushdown plan (SQLite EXPLAIN QUERY PLAN):")
            for line in plan:
                out(f"  {line}")
            expected = await naive_first_page(router, set(granted), 50)
            first = await querying.find_records(router, scopes, limit=50)
            assert [r.id for r in first.records] == expected, "pushdown and naive disagree"
            granted_total = await pushdown_walk(router, scopes)
            out(
                f"{args.records:,} records, {len(scopes)} grants covering {granted_total:,} "
                f"records; {args.repeats} alternating repeats"
            )
            t_push: list[float] = []
            t_naive: list[float] = []
            t_walk: list[float] = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                await querying.find_records(router, scopes, limit=50)
                t1 = time.perf_counter()
                await naive_first_page(router, set(granted), 50)
                t2 = time.perf_counter()
                await pushdown_walk(router, scopes)
                t3 = time.perf_counter()
                t_push.append(t1 - t0)
                t_naive.append(t2 - t1)
                t_walk.append(t3 - t2)
            push = summary("pushdown: first page of 50", t_push)
            naive = summary("naive: read all, filter in Python, page of 50", t_naive)
            summary(f"pushdown: walk all {granted_total:,} granted (pages of 100)", t_walk)
            out(f"  naive / pushdown (first page): {naive / push:.1f}x")
        finally:
            await router.close()


if __name__ == "__main__":
    asyncio.run(main())
