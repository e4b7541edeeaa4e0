"""The gRPC front door under load: a consignment stream, concurrent unary checks, paced latency.

    python bench/bench_grpc.py            # every section, every variant, 2 rounds (~4 min)
    python bench/bench_grpc.py --quick    # smoke run
    python bench/bench_grpc.py --sections paced --variants signed/w1/nofreeze,mtls/w2 --rounds 3

The hub runs as it is deployed: `cbamhub grpc-serve` (in its own process group) over one SQLite
shard per region that this script seeds first, with the embedded Rego engine: a customs
organisation, an importer granted a product line of a TR manufacturer, 5 verified records on it.
Each measurement's load comes from a fresh load-generator process (its own interpreter and GIL);
the hub's CPU is read from /proc for every process of the hub, the generator's from itself.

Variants, AUTH/wN[/nofreeze], each a hub of its own started once and kept for the run:
  signed     plaintext channel; every unary call carries Ed25519-signed metadata that the hub
             verifies (~45 us); the signing is done by the generator before the clock starts
  mtls       TLS with the customs organisation's client certificate: how a customs system is
             meant to connect (decision 0051); no per-call signature
  wN         N hub processes on one port (grpc_workers, SO_REUSEPORT); the generator opens
             --connections channels (separate TCP connections) and spreads calls over them
  nofreeze   grpc_gc_freeze=false: the hub as it was before decision 0056
Rounds run the variants in turn (A B C, A B C), so a busy moment of the shared machine does not
fall on one variant only; every line prints the 1-minute load average when it ended.

Sections (targets from issue 6):
  stream   one CheckConsignment call of --lines lines naming 5 records: lines/s (>= 5,000)
  unary    CheckLine from 16 concurrent clients for --seconds: calls/s (>= 2,000)
  paced    CheckLine at --rate calls/s (1,000), open loop: each call starts at its due time
           whatever the earlier ones do, latency counted from that due time (no coordinated
           omission): p50/p99 (p99 <= 10 ms)
Figures are TEST INPUTS.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import gc
import ipaddress
import json
import multiprocessing as mp
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
from bench_processes import stop_group
from cbamhub.rpc.call_signing import CallSigner
from cbamhub.rpc.customs_service import CHECK_CONSIGNMENT, CHECK_LINE
from cbamhub.rpc.generated import customs_pb2, customs_pb2_grpc
from cbamhub.vault import grants, identities, installations, lifecycle, publishing
from cbamhub.vault.models import OrganisationIn
from cbamhub.vault.shards import ShardRouter
from cbamhub.vault.signing import OrganisationKey
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cbamhub.settings import Settings

EORI = "DE123456789012345"
REPO = Path(__file__).resolve().parent.parent
COUNTRY_REGIONS = {"DE": "eu", "TR": "tr"}
DEFAULT_VARIANTS = "signed/w1/nofreeze,signed/w1,mtls/w1,mtls/w2"
STALL_MS = 5.0  # the hub logs every loop stall and gc pause longer than this


# ------------------------------------------------------------------------------------------ world


async def _org(
    router: ShardRouter, role: str, country: str, eori: str | None = None
) -> tuple[str, OrganisationKey]:
    key = OrganisationKey.generate()
    organisation = OrganisationIn(role=role, legal_name=f"Bench {role}", country=country, eori=eori)
    return await identities.register_organisation(router, organisation, key.public_key), key


async def seed(settings: Settings) -> tuple[str, OrganisationKey, list[str]]:
    """The customs organisation (id, key) and 5 verified records granted to the importer."""
    router = await ShardRouter.open(settings)
    try:
        return await _world(router)
    finally:
        await router.close()


async def _world(router: ShardRouter) -> tuple[str, OrganisationKey, list[str]]:
    customs_id, customs_key = await _org(router, "customs", "DE", "DE000000000000001")
    importer_id, _ = await _org(router, "importer", "DE", EORI)
    maker_id, maker = await _org(router, "manufacturer", "TR")
    verifier_id, verifier = await _org(router, "verifier", "DE")
    installation = await installations.register_installation(
        router,
        maker.sign_document(
            {
                "action": "installation.register",
                "organisation": maker_id,
                "name": "Works",
                "country": "TR",
                "un_locode": "TR IST",
                "production_routes": ["BF-BOF"],
            }
        ),
    )
    line = await installations.register_product_line(
        router,
        maker.sign_document(
            {
                "action": "product_line.register",
                "organisation": maker_id,
                "installation": installation.id,
                "name": "Coil",
                "cn_codes": ["72081000"],
            }
        ),
    )
    records = []
    for i in range(5):
        document = {
            "manufacturerId": maker_id,
            "operatorCbamId": "OPR-1",
            "installationCbamId": "INST-1",
            "installationId": installation.id,
            "productLineId": line.id,
            "countryCode": "TR",
            "unLoCode": "TR IST",
            "cnCode": "72081000",
            "productionMethod": {"methodId": "P24"},
            "activityData": {
                "referencePeriodStart": "2026-01-01T00:00:00Z",
                "referencePeriodEnd": "2026-03-31T23:59:59Z",
                "netMass": 1000.0,
            },
            "directEmissions": {"specificEmbeddedEmissionsDirect": 1.5 + i / 10},
            "methodology": "calculationBased",
            "dataQualityTier": "measured",
        }
        signed = maker.sign_document(document)
        published = await publishing.publish(
            router, signed.payload, signed.signature, signed.key_id
        )
        records.append(published.record_id)
        await lifecycle.request_verification(
            router,
            maker.sign_document(
                {
                    "action": "record.request_verification",
                    "record": published.record_id,
                    "verifier": verifier_id,
                }
            ),
        )
        await lifecycle.attest(
            router,
            verifier.sign_document(
                {
                    "action": "record.attest",
                    "record": published.record_id,
                    "verifier": verifier_id,
                    "opinion": "reasonable assurance",
                }
            ),
        )
    now = datetime.now(UTC)
    await grants.grant_access(
        router,
        maker.sign_document(
            {
                "action": "grant.create",
                "manufacturer": maker_id,
                "importer": importer_id,
                "product_line": line.id,
                "purpose": "bench",
                "valid_from": (now - timedelta(minutes=1)).isoformat(),
                "valid_until": (now + timedelta(days=1)).isoformat(),
            }
        ),
    )
    return customs_id, customs_key, records  # fmt: skip


@dataclass(frozen=True)
class Pki:
    """A throwaway CA, the hub's server certificate and the customs organisation's client one."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_pki(directory: Path, customs_id: str) -> Pki:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)

    def name(common_name: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    def certificate(
        subject: str, key: ec.EllipticCurvePrivateKey, *, ca: bool = False, server: bool = False
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(name("bench-ca"))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if server:
            alt = [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
        if not ca:
            usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
            builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        return builder.sign(ca_key, hashes.SHA256())

    def write(stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        (directory / f"{stem}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (directory / f"{stem}.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    write("ca", certificate("bench-ca", ca_key, ca=True), ca_key)
    server_key, client_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    write("server", certificate("localhost", server_key, server=True), server_key)
    write("client", certificate(customs_id, client_key), client_key)
    d = directory
    return Pki(d / "ca.crt", d / "server.crt", d / "server.key", d / "client.crt", d / "client.key")


# ------------------------------------------------------------------------------------------ hub


@dataclass(frozen=True)
class Variant:
    auth: str  # "signed" or "mtls"
    workers: int
    freeze: bool

    @classmethod
    def parse(cls, text: str) -> Variant:
        parts = text.strip().split("/")
        if parts[0] not in ("signed", "mtls") or len(parts) < 2 or not parts[1].startswith("w"):
            raise argparse.ArgumentTypeError(f"{text!r}: AUTH/wN[/nofreeze], AUTH signed or mtls")
        if parts[2:] not in ([], ["nofreeze"]):
            raise argparse.ArgumentTypeError(f"{text!r}: only /nofreeze may follow /wN")
        return cls(parts[0], int(parts[1][1:]), parts[2:] != ["nofreeze"])

    def __str__(self) -> str:
        return f"{self.auth}/w{self.workers}" + ("" if self.freeze else "/nofreeze")


@dataclass
class Hub:
    variant: Variant
    process: subprocess.Popen[bytes]
    target: str
    log: Path
    """the hub's stderr: its stall and gc pause lines (grpc_stall_log_ms)"""
    _log_offset: int = 0

    def new_stalls(self) -> tuple[list[float], list[float]]:
        """(loop stalls, gc pauses) in ms logged since the last call."""
        with self.log.open("rb") as f:
            f.seek(self._log_offset)
            text = f.read().decode(errors="replace")
            self._log_offset = f.tell()
        stalls, pauses = [], []
        for line in text.splitlines():
            if line.startswith("event loop stall "):
                stalls.append(float(line.split()[3]))
            elif line.startswith("gc pause "):
                pauses.append(float(line.split()[2]))
        return stalls, pauses

    def worker_pids(self) -> list[int]:
        return [p for p in self.pids() if p != self.process.pid] or [self.process.pid]

    def cpu_by_process(self) -> dict[int, float]:
        return {pid: _cpu_seconds(pid) for pid in self.worker_pids()}

    def pids(self) -> list[int]:
        """The hub's processes: the CLI process and its descendants (the workers)."""
        found, queue = [], [self.process.pid]
        while queue:
            pid = queue.pop()
            found.append(pid)
            with contextlib.suppress(OSError):
                for task in Path(f"/proc/{pid}/task").iterdir():
                    with contextlib.suppress(OSError):
                        queue += [int(p) for p in (task / "children").read_text().split()]
        return found

    def cpu_seconds(self) -> float:
        """User + system CPU of every thread of every process of the hub so far."""
        return sum(_cpu_seconds(pid) for pid in self.pids())


def _cpu_seconds(pid: int) -> float:
    with contextlib.suppress(OSError, ValueError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def hub_env(data_dir: Path, variant: Variant, pki: Pki) -> dict[str, str]:
    values: dict[str, str] = {
        "CBAMHUB_DATA_DIR": str(data_dir),
        "CBAMHUB_COUNTRY_REGIONS": json.dumps(COUNTRY_REGIONS),
        "CBAMHUB_GRPC_HOST": "127.0.0.1",
        "CBAMHUB_GRPC_GC_FREEZE": str(variant.freeze).lower(),
        "CBAMHUB_GRPC_STALL_LOG_MS": str(STALL_MS),
    }
    if variant.auth == "mtls":
        values |= {
            "CBAMHUB_GRPC_TLS_CERT": str(pki.server_cert),
            "CBAMHUB_GRPC_TLS_KEY": str(pki.server_key),
            "CBAMHUB_GRPC_TLS_CLIENT_CA": str(pki.ca),
            "CBAMHUB_GRPC_REQUIRE_CLIENT_CERT": "true",
        }
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CBAMHUB_")}
    return {**clean, **values}


@contextlib.contextmanager
def hub(data_dir: Path, variant: Variant, pki: Pki) -> Iterator[Hub]:
    command = [sys.executable, "-m", "cbamhub.cli", "grpc-serve", "--port", "0"]
    command += ["--workers", str(variant.workers)]
    log = data_dir / f"hub-{str(variant).replace('/', '-')}.log"
    process = subprocess.Popen(
        command,
        env=hub_env(data_dir, variant, pki),
        cwd=REPO,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=log.open("wb"),
    )
    try:
        assert process.stdout is not None
        ports = set()
        for _ in range(variant.workers):  # every worker prints its line once it serves
            banner = process.stdout.readline().decode()
            if not banner.startswith("cbamhub gRPC on "):
                raise RuntimeError(f"hub {variant} did not start: {banner!r}")
            ports.add(banner.split()[3].rsplit(":", 1)[1])
        (port,) = ports
        yield Hub(variant, process, f"127.0.0.1:{port}", log)
    finally:
        stop_group(process, signal.SIGTERM, timeout=20)


# ------------------------------------------------------------------------------------------ load


@dataclass(frozen=True)
class Job:
    """One measurement for a load-generator process (picklable)."""

    section: str
    target: str
    auth: str
    customs_id: str
    key_text: str
    pki: Pki
    records: list[str]
    connections: int
    lines: int = 0
    seconds: float = 0.0
    rate: float = 0.0
    clients: int = 16


def _line(i: int, record_id: str) -> customs_pb2.DeclarationLine:
    return customs_pb2.DeclarationLine(
        line_id=f"L{i}", importer_eori=EORI, cn_code="72081000", net_mass=str(1 + i % 7),
        country_of_origin="TR", period="2026-Q1", record_id=record_id,
    )  # fmt: skip


class Load:
    """The generator's side of one job: its channels and how it authenticates."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.signer = CallSigner(job.customs_id, OrganisationKey.from_text(job.key_text))
        # a local subchannel pool: each channel its own TCP connection (else grpcio shares one)
        options = [("grpc.use_local_subchannel_pool", 1)]
        if job.auth == "mtls":
            credentials = grpc.ssl_channel_credentials(
                root_certificates=job.pki.ca.read_bytes(),
                private_key=job.pki.client_key.read_bytes(),
                certificate_chain=job.pki.client_cert.read_bytes(),
            )
            self.channels = [
                grpc.aio.secure_channel(job.target, credentials, options=options)
                for _ in range(job.connections)
            ]
        else:
            self.channels = [
                grpc.aio.insecure_channel(job.target, options=options)
                for _ in range(job.connections)
            ]
        self.stubs = [customs_pb2_grpc.CustomsCheckStub(c) for c in self.channels]

    def metadata(
        self, method: str, request: customs_pb2.DeclarationLine | None
    ) -> tuple[tuple[str, str | bytes], ...] | None:
        return self.signer.metadata(method, request) if self.job.auth == "signed" else None

    async def warm(self) -> None:
        """Every connection up and every record's answer cached by whichever worker serves it."""
        for stub in self.stubs:
            for i, record in enumerate(self.job.records):
                request = _line(i, record)
                await stub.CheckLine(request, metadata=self.metadata(CHECK_LINE, request))

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()


async def _stream(load: Load) -> dict[str, Any]:
    job, n = load.job, load.job.lines

    async def lines() -> AsyncIterator[customs_pb2.DeclarationLine]:
        for i in range(n):
            yield _line(i, job.records[i % len(job.records)])

    started = time.perf_counter()
    call = load.stubs[0].CheckConsignment(
        lines(), metadata=load.metadata(CHECK_CONSIGNMENT, None), timeout=300
    )
    ok = len([a async for a in call if a.code == 0])
    elapsed = time.perf_counter() - started
    return {"rate": n / elapsed, "calls": n, "failed": n - ok, "elapsed": elapsed}


async def _unary(load: Load) -> dict[str, Any]:
    job = load.job
    deadline = time.perf_counter() + job.seconds
    latencies: list[float] = []

    async def client(c: int) -> None:
        stub, i = load.stubs[c % len(load.stubs)], c
        while time.perf_counter() < deadline:
            request = _line(i, job.records[i % len(job.records)])
            t0 = time.perf_counter()
            await stub.CheckLine(request, metadata=load.metadata(CHECK_LINE, request), timeout=10)
            latencies.append(time.perf_counter() - t0)
            i += job.clients

    started = time.perf_counter()
    await asyncio.gather(*(client(c) for c in range(job.clients)))
    elapsed = time.perf_counter() - started
    return {"rate": len(latencies) / elapsed, "calls": len(latencies), "failed": 0,
            "latencies": latencies, "elapsed": elapsed}  # fmt: skip


Prepared = list[tuple[customs_pb2.DeclarationLine, Any]]


def _prepare(load: Load) -> Prepared:
    """The paced section's requests, signed before the clock starts (the signing is the client's)."""
    job = load.job
    n = int(job.rate * job.seconds) if job.section == "paced" else 0
    requests = [_line(i, job.records[i % len(job.records)]) for i in range(n)]
    return [(r, load.metadata(CHECK_LINE, r)) for r in requests]


async def _paced(load: Load, prepared: Prepared) -> dict[str, Any]:
    job = load.job
    n = len(prepared)
    latencies: list[float] = []
    failed = [0]

    async def one(k: int, due: float) -> None:
        request, metadata = prepared[k]
        try:
            await load.stubs[k % len(load.stubs)].CheckLine(request, metadata=metadata, timeout=10)
        except grpc.aio.AioRpcError:
            failed[0] += 1
            return
        latencies.append(time.perf_counter() - due)

    running = []
    start = time.perf_counter() + 0.05
    for k in range(n):
        due = start + k / job.rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        running.append(asyncio.create_task(one(k, due)))
    await asyncio.gather(*running)
    return {"rate": job.rate, "calls": n, "failed": failed[0], "latencies": latencies,
            "elapsed": time.perf_counter() - start}  # fmt: skip


def generate(job: Job, conn: Any) -> None:
    """A load-generator process: runs `job`, sends back its figures and its own CPU share."""

    async def main() -> dict[str, Any]:
        load = Load(job)
        try:
            await load.warm()
            prepared = _prepare(load)
            # The generator's own collector must not pause the clock it measures with: the
            # bench's imports and the prepared calls are ~300,000 objects, and a full collection
            # of them stalled this loop for 100-160 ms (measured) -- the hub's latency is asked.
            gc.collect()
            gc.freeze()
            conn.send("ready")
            conn.recv()  # the parent has read the hub's CPU: go
            cpu = time.process_time()
            if job.section == "paced":
                result = await _paced(load, prepared)
            else:
                result = await (_stream if job.section == "stream" else _unary)(load)
            result["client_cpu"] = (time.process_time() - cpu) / result["elapsed"]
            return result
        finally:
            await load.close()

    conn.send(asyncio.run(main()))


# ------------------------------------------------------------------------------------------ run


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000


def measure(job: Job, server: Hub) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=generate, args=(job, child), daemon=True)
    process.start()
    try:
        if parent.recv() != "ready":
            raise RuntimeError("the load generator did not start")
        cpu, by_process = server.cpu_seconds(), server.cpu_by_process()
        server.new_stalls()
        parent.send("go")
        result: dict[str, Any] = parent.recv()
        result["hub_cpu"] = server.cpu_seconds() - cpu
        spent = [t - by_process.get(pid, 0.0) for pid, t in server.cpu_by_process().items()]
        result["busiest"] = max(spent) / max(1e-9, sum(spent))
        result["stalls"], result["pauses"] = server.new_stalls()
    finally:
        process.join(timeout=30)
    result["load"] = os.getloadavg()[0]
    return result


def describe(section: str, variant: Variant, r: dict[str, Any]) -> str:
    per_call = r["hub_cpu"] / max(1, r["calls"]) * 1e6
    core = r["hub_cpu"] / r["elapsed"]
    figure = {
        "stream": f"{r['rate']:8,.0f} lines/s",
        "unary": f"{r['rate']:8,.0f} calls/s",
        "paced": f"{r['rate']:8,.0f} calls/s",
    }[section]
    latency = ""
    if r.get("latencies"):
        lat = r["latencies"]
        latency = (
            f"p50 {_pct(lat, 0.5):6.2f}  p99 {_pct(lat, 0.99):7.2f}  max {max(lat) * 1000:7.1f} ms"
        )
    if r.get("latencies"):
        over = sum(1 for x in r["latencies"] if x > 0.010) / len(r["latencies"])
        latency += f"  >10ms {over:5.1%}"
    stalls, pauses = r["stalls"], r["pauses"]
    return (
        f"{section:6} {variant!s:18} {figure}  {latency:56} hub {per_call:4.0f} us/call "
        f"{core:4.0%} core (busiest worker {r['busiest']:4.0%})  client {r['client_cpu']:4.0%}  "
        f"stalls>{STALL_MS:.0f}ms {len(stalls):3} (max {max(stalls, default=0):5.1f})  "
        f"gc>{STALL_MS:.0f}ms {len(pauses)} (max {max(pauses, default=0):5.1f})  "
        f"failed {r['failed']}  load {r['load']:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short sections, one round")
    parser.add_argument("--sections", default="stream,unary,paced")
    parser.add_argument(
        "--variants",
        type=lambda text: [Variant.parse(v) for v in text.split(",")],
        help=f"comma-separated AUTH/wN[/nofreeze] (default {DEFAULT_VARIANTS})",
        default=DEFAULT_VARIANTS,
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument(
        "--connections", type=int, default=0, help="channels per generator (default: 2 x workers)"
    )
    args = parser.parse_args()
    lines, seconds, rounds = (
        (10_000, 3.0, 1) if args.quick else (args.lines, args.seconds, args.rounds)
    )
    sections = [s.strip() for s in args.sections.split(",")]
    print(f"load average before: {os.getloadavg()}, cores: {os.cpu_count()}", flush=True)
    with tempfile.TemporaryDirectory() as directory, contextlib.ExitStack() as stack:
        data = Path(directory)
        settings = Settings(
            data_dir=data, create_missing_keys=True, country_regions=COUNTRY_REGIONS
        )
        customs_id, customs_key, records = asyncio.run(seed(settings))
        pki = make_pki(data, customs_id)
        hubs = [stack.enter_context(hub(data, v, pki)) for v in args.variants]
        figures: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for round_ in range(rounds):
            print(f"-- round {round_ + 1} of {rounds}", flush=True)
            for section in sections:
                for server in hubs:
                    v = server.variant
                    job = Job(
                        section, server.target, v.auth, customs_id, customs_key.to_text(), pki,
                        records, args.connections or 2 * v.workers, lines=lines, seconds=seconds,
                        rate=args.rate,
                    )  # fmt: skip
                    result = measure(job, server)
                    figures.setdefault((section, str(v)), []).append(result)
                    print(describe(section, v, result), flush=True)
        if rounds > 1 and "paced" in sections:
            print(f"-- paced at {args.rate:,.0f} calls/s, median over {rounds} rounds:")
            base = None
            for server in hubs:
                runs = figures[("paced", str(server.variant))]
                p99 = statistics.median(_pct(r["latencies"], 0.99) for r in runs)
                base = base or p99
                core = statistics.median(r["hub_cpu"] / r["elapsed"] for r in runs)
                print(
                    f"   {server.variant!s:18} p99 {p99:7.2f} ms ({p99 / base:5.2f} x the "
                    f"first)  hub {core:.0%} of a core  (target p99 <= 10 ms)"
                )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
