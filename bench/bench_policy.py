"""Policy decisions per second: in process (regopy) and over REST (OPA-compatible server), side by
side in one run, with 3 and with 300 grants in the input.

    python bench/bench_policy.py [--seconds 1.5]

Prints the usual header (date, machine, Python, packages, commit, load), then for each grant count:
the embedded engine on its compiled plan, the same on `Interpreter.query` (compiled per query), the
embedded engine handed to a thread (asyncio.to_thread), the Authorizer with its decision cache, and
the REST path (opa-python-client's async client against `python -m cbamhub.policies.opa_compatible`
in its own process), sequential and 8 concurrent. All importer reads of one record with a grant
that covers it (the decision the gateway makes per request), and the compiled grant set (scopes).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

from cbamhub.policies import (
    Authorizer,
    Grant,
    GrantSet,
    OpaRestEngine,
    Principal,
    RecordRef,
    RegoEngine,
)
from cbamhub.policies.bundle import load_bundle
from cbamhub.policies.rego_runtime import RegoRuntime

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2025, 6, 1, tzinfo=UTC)
IMPORTER = Principal("org_eu_imp", "importer", "eu")
READ = "cbamhub/authz/read"
RECORD = RecordRef("rec_cn_1", "org_cn_mfr", "ins_cn_1", "pl_cn_0", "72081000", "cn")


def out(text: str = "") -> None:
    print(text, flush=True)


def machine_info() -> None:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "policies"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        commit += " (policies/ has uncommitted changes)" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    now = datetime.now(UTC).astimezone()
    out(f"date:     {now:%Y-%m-%d %H:%M:%S %Z} ({datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ})")
    out(f"machine:  nproc={len(os.sched_getaffinity(0))}, cpu_count={os.cpu_count()}, CPU: {model}")
    out(f"          {platform.platform()}")
    out(f"python:   {sys.version.split()[0]} ({platform.python_implementation()})")
    out(
        f"packages: regopy {version('regopy')}, opa-python-client {version('opa-python-client')}, "
        f"aiohttp {version('aiohttp')}, starlette {version('starlette')}, uvicorn {version('uvicorn')}"
    )
    out(f"code:     git {commit}")
    load = os.getloadavg()
    out(f"load:     {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1/5/15 min) at start")


def grants(n: int) -> GrantSet:
    """n grants of the importer on n product lines of one manufacturer; pl_cn_0 covers RECORD."""
    return GrantSet.of(
        f"bench-{n}",
        (
            Grant(
                grant_id=f"gr_{i}",
                manufacturer_id="org_cn_mfr",
                importer_id="org_eu_imp",
                product_line_id=f"pl_cn_{i}",
                installation_id=None,
                cn_codes=(),
                fields=frozenset({"direct_emissions", "data_quality_tier"}) if i % 2 else None,
                purpose="bench",
                valid_from=NOW - timedelta(days=100),
                valid_until=NOW + timedelta(days=100 + i),
                revoked=False,
            )
            for i in range(n)
        ),
    )


async def rate(call: Callable[[], Awaitable[Any]], seconds: float) -> tuple[float, float]:
    """(decisions/s, mean ms) over `seconds` of sequential calls, after a short warm-up."""
    for _ in range(20):
        await call()
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        await call()
        count += 1
    return count / elapsed, elapsed / count * 1000


async def concurrent_rate(call: Callable[[], Awaitable[Any]], seconds: float, width: int) -> float:
    count, started = 0, time.perf_counter()

    async def worker() -> None:
        nonlocal count
        while time.perf_counter() - started < seconds:
            await call()
            count += 1

    await asyncio.gather(*(worker() for _ in range(width)))
    return count / (time.perf_counter() - started)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def main(seconds: float) -> None:
    machine_info()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "cbamhub.policies.opa_compatible", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    rest = OpaRestEngine(f"http://127.0.0.1:{port}", timeout_seconds=10)
    try:
        for _ in range(200):
            with contextlib.suppress(Exception):
                if await rest.ready():
                    break
            await asyncio.sleep(0.05)
        embedded = RegoEngine.from_dir()
        uncompiled = RegoRuntime(load_bundle(), entrypoints=("cbamhub/authz/ready",))
        out()
        out(f"{'grants':>7} {'path':<46} {'decisions/s':>12} {'mean ms':>9}")
        for n in (3, 300):
            gs = grants(n)
            document = {
                "principal": IMPORTER.to_input(),
                "record": RECORD.to_input(),
                "grants": gs.document,
                "assignments": {},
                "now": "2025-06-01T00:00:00Z",
            }
            sliced = {**document, "grants": gs.lookup("org_eu_imp", RECORD.product_line_id)}
            assert (await embedded.evaluate("cbamhub/authz/read", document))["allow"] is True
            authorizer = Authorizer(embedded)
            cached = Authorizer(embedded)
            rest_authorizer = Authorizer(rest)
            threaded_runtime = RegoRuntime(load_bundle())

            async def plan_whole(d: dict[str, Any] = document) -> Any:
                return await embedded.evaluate(READ, d)

            async def plan(d: dict[str, Any] = sliced) -> Any:
                return await embedded.evaluate(READ, d)

            async def query(d: dict[str, Any] = sliced) -> Any:
                return uncompiled.evaluate(READ, d)

            async def threaded(
                d: dict[str, Any] = sliced, r: RegoRuntime = threaded_runtime
            ) -> Any:
                return await asyncio.to_thread(r.evaluate, READ, d)

            async def decide(a: Authorizer = authorizer, g: GrantSet = gs) -> Any:
                return await a.read_record(IMPORTER, RECORD, g, now=NOW)

            async def decide_cached(a: Authorizer = cached, g: GrantSet = gs) -> Any:
                return await a.read_record(IMPORTER, RECORD, g)

            async def scopes(a: Authorizer = authorizer, g: GrantSet = gs) -> Any:
                return await a.scopes(IMPORTER, g, now=NOW)

            async def rest_decide(a: Authorizer = rest_authorizer, g: GrantSet = gs) -> Any:
                return await a.read_record(IMPORTER, RECORD, g, now=NOW)

            async def rest_scopes(a: Authorizer = rest_authorizer, g: GrantSet = gs) -> Any:
                return await a.scopes(IMPORTER, g, now=NOW)

            rows: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
                ("embedded: plan, every grant in the input", plan_whole),
                ("embedded: plan, the grants looked up", plan),
                ("embedded: Interpreter.query, grants looked up", query),
                ("embedded: plan via asyncio.to_thread", threaded),
                ("embedded: Authorizer.read_record (no cache)", decide),
                ("embedded: Authorizer.read_record (cached)", decide_cached),
                ("embedded: Authorizer.scopes", scopes),
                ("REST: Authorizer.read_record (sequential)", rest_decide),
                ("REST: Authorizer.scopes", rest_scopes),
            ]
            for label, call in rows:
                per_s, mean = await rate(call, seconds)
                out(f"{n:>7} {label:<46} {per_s:>12,.0f} {mean:>9.3f}")
            per_s = await concurrent_rate(rest_decide, seconds, 8)
            out(f"{n:>7} {'REST: Authorizer.read_record (8 concurrent)':<46} {per_s:>12,.0f}")
        await embedded.aclose()
    finally:
        await rest.aclose()
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="per measurement")
    args = parser.parse_args()
    asyncio.run(main(args.seconds))
