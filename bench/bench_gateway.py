"""The gateway under load: a bare strawberry floor and the real hub side by side, in one run, wrk.

    python bench/bench_gateway.py                     # ~60 s: floor, hub, 300 req/s, policy cost
    python bench/bench_gateway.py --profile 8         # and py-spy on the hub workers under wrk
    python bench/bench_gateway.py --help              # every knob, with its default

Needs `wrk` (Debian: `sudo apt-get install wrk`); installs nothing itself. Sections:
  1. throughput  wrk -t2 -c<connections> POST (Lua script) against two servers of 2 workers each:
                 the floor under `uvicorn --workers 2` as the issue defines it
                 (bench_gateway_app.create_floor_app: 10 constant records with their proofs,
                 strawberry's ParserCache and ValidationCache, nothing else) and the hub as it is
                 deployed, `cbamhub serve --workers 2` (a SO_REUSEPORT socket per worker; create_app
                 on SQLite shards in a temp dir, embedded Rego engine; --hub-uvicorn adds the hub
                 under uvicorn's shared socket as a third row) answering an importer's `records(first: 10)` with inclusion
                 proofs, bearer token (obtained once from /auth/token with an RFC 9421 signed
                 request, the token secret shared by both workers), authenticated, rate-limited
                 (limit raised so the run is not refused) and policy-checked. The two alternate for
                 --rounds rounds. Prints requests/s, the ratio hub/floor (target >= 65 %), latency
                 p50/p99, and the servers' CPU per request (from /proc: steadier than requests/s
                 on a shared machine) with the busiest worker's share of it.
  2. fixed rate  the same hub query at --rate requests/s (default 300) from an open-loop generator
                 (bench_gateway_load.py, its own process: latency counted from each request's
                 scheduled send time, so queueing is not hidden). Target: p99 <= 50 ms. When wrk
                 measured less capacity than the rate, the target is reported missed without the
                 run (the queue would only grow) and half the capacity is run for reference.
  3. profile     (--profile SECONDS) py-spy record --gil on both hub workers during a wrk run; the
                 top functions by own and by inclusive time. --gil because aiosqlite's threads,
                 blocked in SimpleQueue.get, otherwise count as busy (per /proc they use almost no
                 CPU). py-spy is not a dependency: --py-spy PATH or on PATH (`pip install py-spy`).
  4. policy      in process (httpx ASGITransport, the same app and data): the time spent inside the
                 Authorizer per request, measured by an Authorizer subclass that times its calls,
                 with the decision cache (hits after the first request) and without it (a cache that
                 never keeps anything: every request evaluates the Rego scopes rule), alternated;
                 plus what the grant lookup costs when the grant-set cache misses (RecordAccess
                 .grants: vault reads). Target: policy <= 10 % of the request's time. Then the SQL
                 statements (and new connections) per real request, 8 at a time, counted by
                 SQLAlchemy's events: the shards' work for one answer with the caches as in service.
  5. decisions   decisions/s in process and over the REST path (bench_policy.py's setup: the
                 OPA-compatible server in its own process), side by side.

The machine is small and shared: read the ratio first, and the load average in the header.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
from bench_policy import IMPORTER, NOW, RECORD, free_port, grants, rate
from bench_processes import stop_group
from cbamhub.gateway.app import create_app
from cbamhub.policies import Authorizer, OpaRestEngine, Principal, RecordRef, RegoEngine
from cbamhub.policies.decisions import Decision, Scope
from cbamhub.policies.grants import NO_ASSIGNMENTS, NO_GRANTS, AssignmentSet, GrantSet
from cbamhub.vault import driver_sql, identities, publishing
from cbamhub.vault import grants as vault_grants
from cbamhub.vault.models import OrganisationIn
from cbamhub.vault.shards import ShardRouter
from cbamhub.vault.signing import OrganisationKey
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine

from cbamhub.access import RecordAccess
from cbamhub.client import SignedRequests
from cbamhub.demo import register_sample_site, sample_record
from cbamhub.settings import Settings

TARGET_RATIO = 0.65  # hub requests/s over the floor's
TARGET_P99_MS = 50.0  # at the fixed rate
TARGET_POLICY_SHARE = 0.10  # of a request's time

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent

QUERY = """query Records {
  records(first: 10) {
    edges { cursor node {
      id region status cnCode periodStart periodEnd seeDirect seeIndirect dataQualityTier
      visibleFields
      inclusionProof { leafIndex treeSize hashes entry salt checkpoint final }
    } }
    pageInfo { hasNextPage endCursor }
  }
}"""

WRK_LUA = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
{auth}
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) ok = 0; bad = 0 end
function response(status, headers, body)
  if status == 200 and not string.find(body, '"errors"', 1, true) then ok = ok + 1
  else bad = bad + 1 end
end
function done(summary, latency, requests)
  local ok, bad = 0, 0
  for _, t in ipairs(threads) do ok = ok + t:get("ok"); bad = bad + t:get("bad") end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {{"requests":%d,"duration_us":%d,"ok":%d,"bad":%d,"socket_errors":%d,'
    .. '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}}\\n',
    summary.requests, summary.duration, ok, bad,
    e.connect + e.read + e.write + e.timeout + e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
"""

# ------------------------------------------------------------------------------------------ helpers


def out(text: str = "") -> None:
    print(text, flush=True)


def section(title: str) -> None:
    out()
    out("=" * 100)
    out(title)
    out("=" * 100)


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info(wrk: str) -> None:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "gateway", "cbamhub", "vault"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        commit += " (gateway/, cbamhub/ or vault/ has uncommitted changes)" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    wrk_version = subprocess.run([wrk, "--version"], capture_output=True, text=True).stdout
    loops = [m for m in ("uvloop", "httptools") if _importable(m)]
    now = datetime.now(UTC).astimezone()
    out(f"date:     {now:%Y-%m-%d %H:%M:%S %Z} ({datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ})")
    out(f"machine:  nproc={len(os.sched_getaffinity(0))}, cpu_count={os.cpu_count()}, CPU: {model}")
    out(f"          {platform.platform()}")
    out(f"python:   {sys.version.split()[0]} ({platform.python_implementation()})")
    out(
        f"packages: uvicorn {version('uvicorn')} ({', '.join(loops) or 'asyncio loop, h11'}), "
        f"strawberry-graphql {version('strawberry-graphql')}, starlette {version('starlette')}, "
        f"regopy {version('regopy')}, aiohttp {version('aiohttp')}"
    )
    out(f"wrk:      {wrk_version.splitlines()[0] if wrk_version else wrk}")
    out(f"code:     git {commit}")
    load = os.getloadavg()
    out(f"load:     {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1/5/15 min) at start")


def _importable(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


# ---------------------------------------------------------------------------------------- the world


@dataclass(frozen=True)
class World:
    settings: Settings
    env: dict[str, str]
    importer_id: str
    importer_key: OrganisationKey
    records: int


def hub_settings(data_dir: Path) -> tuple[Settings, dict[str, str]]:
    """Three SQLite shards (eu, cn, row), a token secret both workers share, the rate limit raised
    so the measurement is not refused (the limiter still runs on every request). The same values go
    to the workers as CBAMHUB_* variables and to this process as a Settings."""
    values: dict[str, Any] = {
        "data_dir": str(data_dir),
        "regions": {r: f"sqlite+aiosqlite:///{data_dir / f'{r}.db'}" for r in ("eu", "cn", "row")},
        "country_regions": {"DE": "eu", "FR": "eu", "CN": "cn"},
        "default_region": "row",
        "auth_token_secret": secrets.token_hex(32),
        "rate_limit_per_minute": 10_000_000,
    }
    env = {
        f"CBAMHUB_{name.upper()}": json.dumps(value) if isinstance(value, dict) else str(value)
        for name, value in values.items()
    }
    return Settings(**values, create_missing_keys=True), env


async def seed(settings: Settings, records: int) -> tuple[str, OrganisationKey]:
    """A TR manufacturer with one site and product line, `records` signed records on it, a DE
    importer with a grant on that line valid for a year. Returns the importer and its key."""
    router = await ShardRouter.open(settings)
    try:
        m_key, i_key = OrganisationKey.generate(), OrganisationKey.generate()
        manufacturer = await identities.register_organisation(
            router,
            OrganisationIn(role="manufacturer", legal_name="Bench Steel", country="TR"),
            m_key.public_key,
        )
        importer = await identities.register_organisation(
            router,
            OrganisationIn(
                role="importer", legal_name="Bench Imports", country="DE", eori="DE000000000042"
            ),
            i_key.public_key,
        )
        installation, line = await register_sample_site(
            router, manufacturer, m_key, "TR", ["72081000"]
        )
        submissions = []
        for i in range(records):
            document = sample_record(
                manufacturer, installation, "TR", "72081000", "2026", round(1.8 + i / 1000, 4), 0.3,
                product_line_id=line,
            )  # fmt: skip
            signed = m_key.sign_document(document)
            submissions.append(
                publishing.Submission(signed.payload, signed.signature, signed.key_id)
            )
        await publishing.publish_batch(router, submissions)
        now = datetime.now(UTC)
        await vault_grants.grant_access(
            router,
            m_key.sign_document(
                {
                    "action": "grant.create",
                    "manufacturer": manufacturer,
                    "importer": importer,
                    "product_line": line,
                    "purpose": "CBAM declaration 2026",
                    "valid_from": (now - timedelta(days=1)).isoformat(),
                    "valid_until": (now + timedelta(days=365)).isoformat(),
                }
            ),
        )
        return importer, i_key
    finally:
        await router.close()


# ------------------------------------------------------------------------------------------ servers


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]

    def cpu_seconds(self) -> dict[int, float]:
        """CPU time (user + system, every thread) of each child process of the server so far."""
        found = {}
        for pid in self.worker_pids():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = Path(f"/proc/{pid}/stat").read_text()
                fields = stat[stat.rindex(")") + 2 :].split()
                found[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return found

    def worker_pids(self) -> list[int]:
        """The server's worker processes (not multiprocessing's resource tracker)."""
        pids: list[int] = []
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            with contextlib.suppress(OSError):
                pids += [int(p) for p in (task / "children").read_text().split()]
        workers = []
        for pid in pids:
            with contextlib.suppress(OSError):
                if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                    workers.append(pid)
        return workers


def uvicorn_command(factory: str, port: int, workers: int) -> list[str]:
    """uvicorn's own multi-process mode: the workers share one listening socket."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        factory,
        "--app-dir",
        str(BENCH),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]


def cbamhub_serve_command(port: int, workers: int) -> list[str]:
    """The hub as it is deployed: `cbamhub serve`, one SO_REUSEPORT socket per worker."""
    return [
        sys.executable,
        "-m",
        "cbamhub.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


@contextlib.contextmanager
def serving(
    name: str, command: Callable[[int], list[str]], env: dict[str, str]
) -> Iterator[Server]:
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CBAMHUB_")}
    process = subprocess.Popen(
        command(port),
        env={**clean, **env},
        cwd=REPO,
        start_new_session=True,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield Server(name, f"http://127.0.0.1:{port}", process)
    finally:
        # The server's own session: its workers go with it, even with requests still queued.
        stop_group(process, signal.SIGINT, timeout=10)


async def wait_ready(server: Server, path: str, *, workers: int) -> None:
    """Until `path` answers and every worker is up (uvicorn starts them one by one)."""
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(timeout=5) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"{server.name} server exited with {server.process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                response = await client.get(f"{server.url}{path}")
                if response.status_code < 500 and len(server.worker_pids()) >= workers:
                    await asyncio.sleep(1.0)  # the last worker's lifespan
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{server.name} server not ready in 60 s")


async def obtain_token(url: str, organisation_id: str, key: OrganisationKey) -> str:
    async with httpx.AsyncClient(timeout=10, auth=SignedRequests(organisation_id, key)) as client:
        response = await client.post(f"{url}/auth/token")
        response.raise_for_status()
        token: str = response.json()["token"]
        return token


async def check_answer(url: str, headers: dict[str, str], name: str) -> int:
    """The answer must be 10 records with proofs and no error: a benchmark of errors is no figure.
    Returns the response size in bytes."""
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(f"{url}/graphql", json={"query": QUERY}, headers=headers)
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"{name}: {response.status_code} {response.text[:500]}")
    edges = body["data"]["records"]["edges"]
    if len(edges) != 10 or any(not e["node"]["inclusionProof"]["hashes"] for e in edges):
        raise RuntimeError(f"{name}: expected 10 records with proofs, got {len(edges)}")
    return len(response.content)


# --------------------------------------------------------------------------------------------- wrk


@dataclass(frozen=True)
class WrkResult:
    requests: int
    cpu_seconds: tuple[float, ...]
    """CPU time of each of the server's processes during the run, busiest first."""
    seconds: float
    ok: int
    bad: int
    socket_errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def per_second(self) -> float:
        return self.ok / self.seconds

    @property
    def cpu_ms_per_request(self) -> float:
        """Server CPU per answered request: steadier than requests/s on a shared machine."""
        return sum(self.cpu_seconds) / max(1, self.ok) * 1000

    @property
    def busiest_share(self) -> float:
        return self.cpu_seconds[0] / sum(self.cpu_seconds) if sum(self.cpu_seconds) else 0.0


def write_lua(directory: Path, name: str, token: str | None) -> Path:
    auth = f'wrk.headers["Authorization"] = "Bearer {token}"' if token else ""
    lua = WRK_LUA.format(body=json.dumps(json.dumps({"query": QUERY})), auth=auth)
    path = directory / f"{name}.lua"
    path.write_text(lua)
    return path


def run_wrk(
    wrk: str, server: Server, script: Path, seconds: float, connections: int, threads: int
) -> WrkResult:
    command = [
        wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s",
        "-s", str(script), f"{server.url}/graphql",
    ]  # fmt: skip
    cpu_before = server.cpu_seconds()
    text = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    cpu_after = server.cpu_seconds()
    cpu = sorted((cpu_after[pid] - cpu_before.get(pid, 0.0) for pid in cpu_after), reverse=True)
    match = re.search(r"^WRK_JSON (\{.*\})$", text, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"wrk printed no summary:\n{text}")
    raw = json.loads(match.group(1))
    return WrkResult(
        requests=raw["requests"],
        cpu_seconds=tuple(c for c in cpu if c > 0.0),
        seconds=raw["duration_us"] / 1e6,
        ok=raw["ok"],
        bad=raw["bad"],
        socket_errors=raw["socket_errors"],
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
    )


def wrk_row(name: str, r: WrkResult) -> str:
    return (
        f"{name:<18} {r.per_second:>7,.0f} {r.p50_ms:>7.1f} {r.p90_ms:>7.1f} {r.p99_ms:>7.1f} "
        f"{r.max_ms:>7.1f} {r.ok:>7,} {r.bad + r.socket_errors:>4} {r.cpu_ms_per_request:>8.2f} "
        f"{r.busiest_share:>9.0%}"
    )


def fixed_rate(
    url: str, body_file: Path, token: str | None, rate_per_s: float, seconds: float
) -> dict[str, float]:
    command = [
        sys.executable, str(BENCH / "bench_gateway_load.py"), f"{url}/graphql",
        "--rate", str(rate_per_s), "--seconds", str(seconds), "--body-file", str(body_file),
    ]  # fmt: skip
    if token:
        command += ["--header", f"Authorization: Bearer {token}"]
    text = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result: dict[str, float] = json.loads(text.strip().splitlines()[-1])
    return result


# ------------------------------------------------------------------------------------------- policy


class TimedAuthorizer(Authorizer):
    """The real Authorizer, with the wall time of each call the gateway makes added up."""

    seconds: float = 0.0
    calls: int = 0

    async def scopes(
        self,
        principal: Principal,
        grants: GrantSet = NO_GRANTS,
        *,
        assignments: AssignmentSet = NO_ASSIGNMENTS,
        now: datetime | None = None,
    ) -> tuple[Scope, ...]:
        started = time.perf_counter()
        try:
            return await super().scopes(principal, grants, assignments=assignments, now=now)
        finally:
            self.seconds += time.perf_counter() - started
            self.calls += 1

    async def read_record(
        self,
        principal: Principal,
        record: RecordRef,
        grants: GrantSet = NO_GRANTS,
        *,
        assignments: AssignmentSet = NO_ASSIGNMENTS,
        now: datetime | None = None,
    ) -> Decision:
        started = time.perf_counter()
        try:
            return await super().read_record(
                principal, record, grants, assignments=assignments, now=now
            )
        finally:
            self.seconds += time.perf_counter() - started
            self.calls += 1


class KeepNothing:
    """A decision cache that never hits: every request asks the engine (the cache-miss cost)."""

    async def get(self, key: str) -> Any | None:
        return None

    async def put(self, key: str, value: Any, ttl_seconds: float, tags: Any) -> None:
        return None

    async def invalidate(self, tag: str) -> None:
        return None

    async def clear(self) -> None:
        return None


@dataclass
class PolicyTally:
    requests: int = 0
    request_seconds: float = 0.0
    authorizer_seconds: float = 0.0
    authorizer_calls: int = 0

    def share(self) -> float:
        return self.authorizer_seconds / self.request_seconds

    def ms(self, seconds: float) -> float:
        return seconds / self.requests * 1000


async def policy_cost(
    world: World, token: str, per_round: int, rounds: int, stage_requests: int
) -> None:
    section(
        f"4. policy cost per request, in process ({rounds} alternating rounds of {per_round} "
        "sequential requests per mode)"
    )
    app = create_app(world.settings)
    headers = {"Authorization": f"Bearer {token}"}
    body = {"query": QUERY}
    async with app.router.lifespan_context(app):
        engine = app.state.authorizer.engine
        timeout = world.settings.policy_timeout_seconds
        modes = {
            "decision cache (hits)": TimedAuthorizer(engine, timeout_seconds=timeout),
            "no cache (Rego per request)": TimedAuthorizer(
                engine, timeout_seconds=timeout, cache=KeepNothing()
            ),
        }
        tallies = {name: PolicyTally() for name in modes}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
            for _ in range(20):  # warm-up: parser/validation caches, SQLite page cache
                (await client.post("/graphql", json=body, headers=headers)).raise_for_status()
            for _ in range(rounds):
                for name, authorizer in modes.items():
                    app.state.authorizer = authorizer
                    tally = tallies[name]
                    before, calls = authorizer.seconds, authorizer.calls
                    started = time.perf_counter()
                    for _ in range(per_round):
                        response = await client.post("/graphql", json=body, headers=headers)
                        if response.status_code != 200 or "errors" in response.json():
                            raise RuntimeError(response.text[:500])
                    tally.request_seconds += time.perf_counter() - started
                    tally.requests += per_round
                    tally.authorizer_seconds += authorizer.seconds - before
                    tally.authorizer_calls += authorizer.calls - calls
            # The grant lookup that feeds every decision: vault reads, once per request.
            principal = Principal(world.importer_id, "importer", "eu")
            lookups, started = per_round, time.perf_counter()  # what a grant-set cache miss costs
            for _ in range(lookups):
                await RecordAccess(
                    app.state.router, modes["no cache (Rego per request)"], principal
                ).grants()
            lookup_ms = (time.perf_counter() - started) / lookups * 1000
            out(
                f"{'mode':<30} {'request ms':>11} {'authorizer ms':>14} {'calls/req':>10} "
                f"{'share':>7} {'target':>8}"
            )
            for name, t in tallies.items():
                out(
                    f"{name:<30} {t.ms(t.request_seconds):>11.2f} "
                    f"{t.ms(t.authorizer_seconds):>14.3f} "
                    f"{t.authorizer_calls / t.requests:>10.1f} {t.share():>7.1%} "
                    f"{verdict(t.share() <= TARGET_POLICY_SHARE):>8}"
                )
            cached = tallies["decision cache (hits)"]
            request_ms = cached.ms(cached.request_seconds)
            out(
                "grant lookup when the grant-set cache misses (grants_version + "
                f"grants_for_importer, once per importer per grant_cache_seconds): {lookup_ms:.2f} "
                f"ms, {lookup_ms / request_ms:.1%} of a cached request"
            )
            app.state.authorizer = modes["decision cache (hits)"]
            await statements_per_request(client, headers, stage_requests, concurrency=8)
        await engine.aclose()


async def decisions_per_second(seconds: float) -> None:
    section("5. decisions/s: in process (regopy) and REST path (OPA-compatible server), 3 grants")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "cbamhub.policies.opa_compatible", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    rest = OpaRestEngine(f"http://127.0.0.1:{port}", timeout_seconds=10)
    embedded = RegoEngine.from_dir()
    try:
        for _ in range(200):
            with contextlib.suppress(Exception):
                if await rest.ready():
                    break
            await asyncio.sleep(0.05)
        gs = grants(3)
        local, local_cached, remote = Authorizer(embedded), Authorizer(embedded), Authorizer(rest)

        async def read(a: Authorizer, cached: bool) -> Any:
            return await a.read_record(IMPORTER, RECORD, gs, now=None if cached else NOW)

        async def scopes(a: Authorizer) -> Any:
            return await a.scopes(IMPORTER, gs, now=NOW)

        rows = [
            ("read_record", lambda: read(local, False), lambda: read(remote, False)),
            ("scopes (the list query's decision)", lambda: scopes(local), lambda: scopes(remote)),
            ("read_record, cache hit", lambda: read(local_cached, True), None),
        ]
        out(f"{'decision':<38} {'in process /s':>14} {'mean ms':>8} {'REST /s':>10} {'mean ms':>8}")
        for label, here, there in rows:
            here_rate, here_ms = await rate(here, seconds)
            line = f"{label:<38} {here_rate:>14,.0f} {here_ms:>8.3f}"
            if there is not None:
                there_rate, there_ms = await rate(there, seconds)
                line += f" {there_rate:>10,.0f} {there_ms:>8.3f}"
            out(line)
    finally:
        await embedded.aclose()
        await rest.aclose()
        server.terminate()
        server.wait(timeout=10)


# ---------------------------------------------------------------------------------- statements


async def statements_per_request(
    client: httpx.AsyncClient, headers: dict[str, str], requests: int, concurrency: int
) -> None:
    """SQL statements (and new database connections) per real request, `concurrency` at a time,
    counted by SQLAlchemy's events on every engine of the process and, for the statements the
    serving path hands to its own SQLite threads (vault/driver_sql.py), by wrapping the two
    functions those threads run: what the shards do for one answer, with the replica caches working
    as they do in service."""
    counts: Counter[str] = Counter()

    def name_of(text: str) -> str:
        words = text.split()
        table = words[words.index("FROM") + 1].strip("()") if "FROM" in words else ""
        return " ".join(words[:1] + ([table] if words[0] == "SELECT" else words[1:3]))

    def statement(conn: Any, cursor: Any, text: str, *_: Any) -> None:
        counts[name_of(text)] += 1

    def connection(*_: Any) -> None:
        counts["<new connection>"] += 1

    read, append = driver_sql._read, driver_sql._append

    def counted_read(db: Any, statements: list[tuple[str, list[Any]]]) -> Any:
        counts["<driver hand-off: read>"] += 1
        for text, _ in statements:
            counts[name_of(text) + " (driver)"] += 1
        return read(db, statements)

    def counted_append(db: Any, text: str, values: list[list[Any]]) -> None:
        counts["<driver hand-off: append>"] += 1
        counts[name_of(text) + " (driver)"] += 1
        counts["  rows appended"] += len(values)
        append(db, text, values)

    body = {"query": QUERY}
    sa_event.listen(Engine, "before_cursor_execute", statement)
    sa_event.listen(Engine, "connect", connection)
    driver_sql._read, driver_sql._append = counted_read, counted_append  # type: ignore[assignment]
    try:

        async def worker() -> None:
            for _ in range(requests // concurrency):
                (await client.post("/graphql", json=body, headers=headers)).raise_for_status()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        sa_event.remove(Engine, "before_cursor_execute", statement)
        sa_event.remove(Engine, "connect", connection)
        driver_sql._read, driver_sql._append = read, append  # type: ignore[assignment]
    done = requests // concurrency * concurrency
    out()
    out(f"SQL per request ({done} real requests, {concurrency} at a time, caches as in service):")
    for name, n in counts.most_common():
        out(f"  {n / done:6.2f}  {name}")


# ------------------------------------------------------------------------------------------ profile


def find_py_spy(given: str | None) -> str | None:
    if given:
        return given
    return shutil.which("py-spy") or (
        str(Path(sys.executable).parent / "py-spy")
        if (Path(sys.executable).parent / "py-spy").exists()
        else None
    )


def top_functions(raw_files: list[Path], top: int) -> None:
    """Collapsed stacks (py-spy --format raw) of every worker: own and inclusive sample shares."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for path in raw_files:
        for line in path.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = [_frame(f) for f in stack.split(";")]
            frames = [f for f in frames if f]
            if not frames:
                continue
            total += count
            own[frames[-1]] += count
            for frame in set(frames):
                inclusive[frame] += count
    if not total:
        out("py-spy recorded no samples")
        return
    out(f"{total:,} samples over both workers; own time (where the CPU is):")
    for frame, count in own.most_common(top):
        out(f"  {count / total:>6.1%}  {frame}")
    out("inclusive time (the call and everything under it), hub and framework code:")
    shown = 0
    for frame, count in inclusive.most_common():
        if "asyncio" in frame or "uvicorn/server" in frame or "<module>" in frame:
            continue
        out(f"  {count / total:>6.1%}  {frame}")
        shown += 1
        if shown >= top:
            break


def _frame(text: str) -> str:
    """'function (path/file.py:line)' -> 'function (package/file.py)'; the process frame -> ''."""
    match = re.match(r"^(.*) \((.*?)(?::\d+)?\)$", text.strip())
    if match is None:
        return ""
    function, path = match.groups()
    for marker in ("site-packages/", "/work/main/", "lib/python3."):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{function} ({path})"


def profile(
    wrk: str, py_spy: str, hub: Server, script: Path, seconds: float, connections: int, tmp: Path
) -> None:
    section(f"3. where the hub's time goes: py-spy on both workers for {seconds:g} s under wrk")
    recorders = []
    files = []
    for pid in hub.worker_pids():
        path = tmp / f"pyspy-{pid}.txt"
        files.append(path)
        recorders.append(
            subprocess.Popen(
                [py_spy, "record", "--pid", str(pid), "--duration", f"{seconds:g}",
                 "--rate", "200", "--format", "raw", "--output", str(path), "--nonblocking",
                 "--gil"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        )  # fmt: skip
    time.sleep(0.5)
    result = run_wrk(wrk, hub, script, seconds, connections, 2)
    for recorder in recorders:
        _, err = recorder.communicate(timeout=60)
        if recorder.returncode != 0:
            out(f"py-spy failed: {err.decode().strip()[-500:]}")
    out(f"(under the profiler: {result.per_second:,.0f} requests/s)")
    top_functions([f for f in files if f.exists()], 25)


# --------------------------------------------------------------------------------------------- main


async def main(args: argparse.Namespace) -> int:
    wrk = shutil.which("wrk")
    if wrk is None:
        out(
            "wrk not found: it is the load generator of this benchmark and is not a Python package."
        )
        out("  Debian/Ubuntu: sudo apt-get install wrk     macOS: brew install wrk")
        out("  or build it: https://github.com/wg/wrk (make; put wrk on PATH)")
        return 2
    py_spy = find_py_spy(args.py_spy) if args.profile else None
    if args.profile and py_spy is None:
        out("--profile needs py-spy: pip install py-spy (or give its binary with --py-spy)")
        return 2
    machine_info(wrk)
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp_name:
        tmp = Path(tmp_name)
        settings, env = hub_settings(tmp / "hub")
        started = time.perf_counter()
        importer_id, importer_key = await seed(settings, args.records)
        world = World(settings, env, importer_id, importer_key, args.records)
        out(
            f"world:    3 SQLite shards in {tmp}, {args.records} records of a TR manufacturer, "
            f"a DE importer with one grant (seeded in {time.perf_counter() - started:.1f} s)"
        )
        body_file = tmp / "query.json"
        body_file.write_text(json.dumps({"query": QUERY}))
        workers = args.workers
        floor_app, hub_app = (
            "bench_gateway_app:create_floor_app",
            "bench_gateway_app:create_app_from_env",
        )
        with contextlib.ExitStack() as servers:
            floor = servers.enter_context(
                serving("floor", lambda port: uvicorn_command(floor_app, port, workers), {})
            )
            hub = servers.enter_context(
                serving("hub", lambda port: cbamhub_serve_command(port, workers), env)
            )
            extra = []
            if args.floor_nodelay:
                floor_dir = tmp / "floor"
                floor_dir.mkdir()
                extra.append(
                    servers.enter_context(
                        serving(
                            "floor/serve",
                            lambda port: [
                                sys.executable,
                                str(BENCH / "bench_gateway_app.py"),
                                str(port),
                                str(workers),
                                str(floor_dir),
                            ],
                            {},
                        )
                    )
                )
            if args.hub_uvicorn:
                extra.append(
                    servers.enter_context(
                        serving(
                            "hub/uvicorn", lambda port: uvicorn_command(hub_app, port, workers), env
                        )
                    )
                )
            await wait_ready(floor, "/graphql?query=%7B__typename%7D", workers=workers)
            for served in (hub, *extra):
                ready = (
                    "/graphql?query=%7B__typename%7D"
                    if served.name.startswith("floor")
                    else "/healthz"
                )
                await wait_ready(served, ready, workers=workers)
            token = await obtain_token(hub.url, importer_id, importer_key)
            bearer = {"Authorization": f"Bearer {token}"}
            floor_size = await check_answer(floor.url, {}, "floor")
            hub_size = await check_answer(hub.url, bearer, "hub")
            for served in extra:
                await check_answer(
                    served.url, {} if served.name.startswith("floor") else bearer, served.name
                )
            out(
                f"servers:  floor: uvicorn --workers {workers} (one shared socket); hub: cbamhub "
                f"serve --workers {workers} (a socket per worker)"
                + "".join(
                    f"; {s.name}: "
                    + (
                        f"the floor under cbamhub's serving, {workers} workers"
                        if s.name.startswith("floor")
                        else f"the hub under uvicorn --workers {workers}"
                    )
                    for s in extra
                )
                + f"; answer sizes floor {floor_size:,} B, hub {hub_size:,} B (10 records with "
                "proofs, checked before timing)"
            )
            floor_lua = write_lua(tmp, "floor", None)
            hub_lua = write_lua(tmp, "hub", token)

            section(
                f"1. throughput: wrk -t{args.threads} -c{args.connections} -d{args.seconds:g}s, "
                f"POST records(first: 10) with proofs; {args.rounds} round(s), after "
                f"{args.warmup:g} s of warm-up each"
            )
            out(
                f"{'server':<18} {'req/s':>7} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} "
                f"{'max ms':>7} {'ok':>7} {'bad':>4} {'cpu ms/r':>8} {'busiest w':>9}"
            )
            results: dict[str, list[WrkResult]] = {s.name: [] for s in (floor, hub, *extra)}
            runs = [(floor, floor_lua), (hub, hub_lua)] + [
                (s, floor_lua if s.name.startswith("floor") else hub_lua) for s in extra
            ]
            for round_ in range(args.rounds):
                for server, script in runs:
                    run_wrk(wrk, server, script, args.warmup, args.connections, args.threads)
                    result = run_wrk(
                        wrk, server, script, args.seconds, args.connections, args.threads
                    )
                    results[server.name].append(result)
                    out(wrk_row(f"{server.name} (round {round_ + 1})", result))
            best_floor = max(r.per_second for r in results["floor"])
            best_hub = max(r.per_second for r in results["hub"])
            ratio = sum(r.per_second for r in results["hub"]) / sum(
                r.per_second for r in results["floor"]
            )
            bad = sum(r.bad + r.socket_errors for rs in results.values() for r in rs)
            cpu_ratio = sum(r.cpu_ms_per_request for r in results["floor"]) / sum(
                r.cpu_ms_per_request for r in results["hub"]
            )
            out(
                f"hub / floor: {ratio:.1%} "
                f"(target >= {TARGET_RATIO:.0%}: {verdict(ratio >= TARGET_RATIO)}); "
                f"best rounds: floor {best_floor:,.0f}/s, hub {best_hub:,.0f}/s; "
                f"failed responses: {bad}"
            )
            if "floor/serve" in results:
                like = sum(r.per_second for r in results["hub"]) / sum(
                    r.per_second for r in results["floor/serve"]
                )
                out(
                    f"hub / floor served like the hub (floor/serve): {like:.1%} (like for like; "
                    "the target is defined against the uvicorn floor above)"
                )
            out(
                f"server CPU per request, floor / hub: {cpu_ratio:.1%} (the ratio if both were "
                "CPU-bound on the same cores); 'busiest w': the share of the server's CPU spent "
                "by its busiest process, ~50 % when both workers serve"
            )

            section(
                f"2. fixed rate: {args.rate:g} requests/s for {args.fixed_seconds:g} s, open loop "
                "(bench_gateway_load.py, latency from the scheduled send time)"
            )
            targets = [("hub", hub, token)] + ([("floor", floor, None)] if args.fixed_floor else [])
            out(
                f"{'server':<8} {'sent/s':>7} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} "
                f"{'max ms':>8} {'requests':>9} {'failed':>7}"
            )
            hub_p99 = float("nan")
            capacity = min(r.per_second for r in results["hub"])
            for name, server, tok in targets:
                offered = args.rate
                if name == "hub" and capacity < args.rate and not args.fixed_anyway:
                    # Above its capacity the queue only grows: the p99 would be the run's length
                    # (and the server would go on answering abandoned requests for minutes).
                    offered = max(5.0, round(capacity * 0.5))
                    out(
                        f"hub: {args.rate:g}/s is above its measured capacity ({capacity:,.0f}/s): "
                        f"target MISSED without running it; for reference, {offered:g}/s "
                        "(--fixed-anyway runs the full rate)"
                    )
                fixed = fixed_rate(server.url, body_file, tok, offered, args.fixed_seconds)
                out(
                    f"{name:<8} {fixed['achieved_send_rate']:>7.0f} {fixed['p50_ms']:>8.1f} "
                    f"{fixed['p90_ms']:>8.1f} {fixed['p99_ms']:>8.1f} {fixed['max_ms']:>8.1f} "
                    f"{int(fixed['requests']):>9,} {int(fixed['failures']):>7}"
                )
                if name == "hub" and offered == args.rate:
                    hub_p99 = fixed["p99_ms"]
            measured = (
                "not measured (above capacity)" if hub_p99 != hub_p99 else f"{hub_p99:.1f} ms"
            )
            out(
                f"hub p99 at {args.rate:g}/s: {measured} "
                f"(target <= {TARGET_P99_MS:g} ms: {verdict(hub_p99 <= TARGET_P99_MS)})"
            )
            if args.profile and py_spy is not None:
                profile(wrk, py_spy, hub, hub_lua, args.profile, args.connections, tmp)
        await policy_cost(
            world, token, args.policy_requests, args.policy_rounds, args.stage_requests
        )
        await decisions_per_second(args.decision_seconds)
    load = os.getloadavg()
    out()
    out(f"load:     {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1/5/15 min) at the end")
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="wrk measurement per server")
    parser.add_argument("--warmup", type=float, default=2.0, help="wrk warm-up before each")
    parser.add_argument("--rounds", type=int, default=1, help="floor/hub alternations")
    parser.add_argument("--connections", type=int, default=16, help="wrk -c")
    parser.add_argument("--threads", type=int, default=2, help="wrk -t")
    parser.add_argument("--workers", type=int, default=2, help="worker processes per server")
    parser.add_argument(
        "--floor-nodelay",
        action="store_true",
        help="also serve the floor as the hub is served (a SO_REUSEPORT, TCP_NODELAY socket per "
        "worker): the like-for-like ratio beside the issue's uvicorn floor",
    )
    parser.add_argument(
        "--hub-uvicorn",
        action="store_true",
        help="also serve the hub with uvicorn --workers (one shared socket), for comparison",
    )
    parser.add_argument(
        "--records", type=int, default=1000, help="records seeded (>= 10; 256 fill a bundle)"
    )
    parser.add_argument("--rate", type=float, default=300.0, help="fixed-rate requests/s")
    parser.add_argument("--fixed-seconds", type=float, default=8.0, help="fixed-rate duration")
    parser.add_argument(
        "--fixed-floor", action="store_true", help="also run the fixed rate on the floor"
    )
    parser.add_argument(
        "--fixed-anyway",
        action="store_true",
        help="run the hub at --rate even above its measured capacity (the queue grows)",
    )
    parser.add_argument("--policy-requests", type=int, default=100, help="per mode and round")
    parser.add_argument("--policy-rounds", type=int, default=2)
    parser.add_argument(
        "--stage-requests", type=int, default=400, help="requests whose SQL statements are counted"
    )
    parser.add_argument("--decision-seconds", type=float, default=1.0, help="per decision rate")
    parser.add_argument(
        "--profile", type=float, default=0.0, metavar="SECONDS", help="py-spy the hub workers"
    )
    parser.add_argument("--py-spy", help="path of the py-spy binary (default: PATH, the venv)")
    args = parser.parse_args()
    if args.records < 10:
        parser.error("--records must be at least 10 (the query asks for 10)")
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
