"""Running the gRPC door as a process: one server, or `grpc_workers` of them on one port.

Why several processes: grpcio's asyncio server spends ~0.4 ms of CPU in its own machinery per unary
call (measured with a servicer that returns a prebuilt answer, docs/PERFORMANCE.md), all of it on
the one event loop's thread, so one process saturates near 2,000 calls/s and any pause of that
thread (a busy neighbour on the core, a garbage collection) queues every call behind it. Each
worker binds the port itself (grpcio sets SO_REUSEPORT on Linux, `grpc.so_reuseport`), and the
kernel spreads *connections*, not calls, over the workers: a client with one channel reaches one
worker (docs/decisions/0056).

Why `gc.freeze()` once the server is up: start-up leaves ~220,000 long-lived objects (modules, the
Rego bundle, SQLAlchemy's metadata, pydantic models), and a full collection walks them all —
74 ms on this machine, a stall of every call in flight. Frozen, they are never walked again; a full
collection then costs what the server allocated since (`grpc_gc_freeze`).

The supervisor (for `grpc_workers` > 1) holds the port (a bound socket that never listens, which
also turns port 0 into one free port for all), opens the shards once before the workers start (keys
and migrations by one process, not raced), restarts a worker that dies, stops when one dies within
`CRASH_WINDOW_SECONDS` of its start (a broken configuration), and stops them all on SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from types import FrameType

from cbamhub.policies.engines import authorizer_from_settings
from cbamhub.vault.shards import ShardRouter

from cbamhub.settings import Settings

from .record_policy import AuthorizerPolicy
from .server import start_rpc_server
from .stall_watch import StallWatch

log = logging.getLogger(__name__)

CRASH_WINDOW_SECONDS = 10.0
STOP_GRACE_SECONDS = 10.0


def settle_collector(freeze: bool) -> int:
    """After start-up: collect once, then (with `freeze`) move every surviving object out of the
    collector's view. Returns the objects frozen (0 without `freeze`). Process-wide, so only a
    serving process calls it, never the library (tests run several servers in one process)."""
    gc.collect()
    if not freeze:
        return 0
    gc.freeze()
    return gc.get_freeze_count()


async def run_server(settings: Settings, stop: asyncio.Event) -> None:
    """One server over the configured shards until `stop` is set; prints one line once it serves."""
    router = await ShardRouter.open(settings)
    try:
        authorizer = authorizer_from_settings(settings)
        policy = AuthorizerPolicy.from_settings(authorizer, router, settings)
        running = await start_rpc_server(settings, router, policy)
        watch = None
        if settings.grpc_stall_log_ms > 0:
            watch = asyncio.create_task(StallWatch(settings.grpc_stall_log_ms / 1000).run())
        try:
            settle_collector(settings.grpc_gc_freeze)
            print(
                f"cbamhub gRPC on {settings.grpc_host}:{running.port} (tls={running.tls}, "
                f"pid={os.getpid()})",
                flush=True,
            )
            await stop.wait()
        finally:
            if watch is not None:
                watch.cancel()
            await running.stop()
            await authorizer.engine.aclose()
    finally:
        await router.close()


def serve_worker(settings: Settings) -> None:
    """One serving process: runs until SIGINT/SIGTERM, then drains its calls."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await run_server(settings, stop)

    asyncio.run(main())


def reserve_port(host: str, port: int) -> socket.socket:
    """A bound, never listening socket on (host, port) that SO_REUSEPORT servers may share: it
    resolves port 0 once for every worker and keeps the port ours between worker restarts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


async def _prepare_shards(settings: Settings) -> None:
    await (await ShardRouter.open(settings)).close()


@dataclass
class Supervisor:
    """Runs `workers` processes of `target(settings)` on one port and keeps them running."""

    settings: Settings
    workers: int
    target: Callable[[Settings], None] = serve_worker
    crash_window: float = CRASH_WINDOW_SECONDS
    _stopping: threading.Event = field(default_factory=threading.Event)
    _processes: dict[int, tuple[BaseProcess, float]] = field(default_factory=dict)

    def run(self) -> int:
        """Serve until SIGINT/SIGTERM (exit 0) or a worker crash loop (exit 1)."""
        if self.workers < 1:
            raise ValueError(f"workers is at least 1, not {self.workers}")
        reservation = reserve_port(self.settings.grpc_host, self.settings.grpc_port)
        settings = self.settings.with_overrides(grpc_port=reservation.getsockname()[1])
        try:
            asyncio.run(_prepare_shards(settings))
        except Exception as error:  # reported, not raised: the CLI's exit code says it
            print(f"cbamhub grpc-serve: cannot open the shards: {error}", file=sys.stderr)
            reservation.close()
            return 1
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        context = multiprocessing.get_context("spawn")
        try:
            for slot in range(self.workers):
                self._start(context, slot, settings)
            while not self._stopping.wait(0.2):
                for slot, (process, started) in list(self._processes.items()):
                    if process.is_alive() or self._stopping.is_set():
                        continue
                    if time.monotonic() - started < self.crash_window:
                        log.error("gRPC worker %d exited with %s at start", slot, process.exitcode)
                        return 1
                    log.warning("gRPC worker %d exited with %s: restarting", slot, process.exitcode)
                    self._start(context, slot, settings)
            return 0
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            reservation.close()

    def _start(self, context: multiprocessing.context.SpawnContext, slot: int, s: Settings) -> None:
        process = context.Process(target=self.target, args=(s,), name=f"cbamhub-grpc-{slot}")
        process.start()
        self._processes[slot] = (process, time.monotonic())

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop()

    def stop(self) -> None:
        """Ask `run` to stop the workers and return (what SIGINT and SIGTERM do)."""
        self._stopping.set()

    def _stop_all(self) -> None:
        self._stopping.set()
        processes = [p for p, _ in self._processes.values()]
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: the worker drains its calls
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.warning("%s did not stop in time: killed", process.name)
                process.kill()
                process.join()
