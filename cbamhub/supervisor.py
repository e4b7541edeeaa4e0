"""Several serving processes on one port, for either front door (gateway/serving.py over HTTP,
grpc/rpc/serving.py over gRPC).

Each worker binds the port itself with SO_REUSEPORT, so the kernel spreads connections over them.
The supervisor (the process the operator started) owns no connection. Before the workers start it
holds the port with a bound socket that never listens (`reserve_port`: a port of 0 becomes one free
port for all of them, and the port stays ours while a worker restarts) and opens every shard once
(`prepare_shards`: keys are created and migrations applied by one process, not raced by N — a key
file is created exclusively, so the loser of that race would die at its start). Then `Supervisor`
restarts a worker that dies, stops with exit 1 when one dies within `crash_window` seconds of its
start (a broken configuration, not bad luck), and stops them all on SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

from cbamhub.settings import Settings

log = logging.getLogger(__name__)

CRASH_WINDOW_SECONDS = 10.0
STOP_GRACE_SECONDS = 10.0


def reserve_port(host: str, port: int) -> socket.socket:
    """A bound, never listening socket on (host, port) that SO_REUSEPORT servers may share."""
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


async def prepare_shards(settings: Settings) -> None:
    """Open every shard once (keys, migrations) and close it again."""
    from cbamhub.vault.shards import ShardRouter

    await (await ShardRouter.open(settings)).close()


def supervise(
    host: str,
    port: int,
    settings_on: Callable[[int], Settings],
    workers: int,
    target: Callable[..., None],
    *extra: Any,
    name: str,
    crash_window: float = CRASH_WINDOW_SECONDS,
) -> int:
    """Reserve (host, port), open the shards once with `settings_on(bound port)`, then run
    `workers` processes of `target(settings, *extra)` until SIGINT/SIGTERM (0), a worker crash loop
    or shards that cannot be opened (1, said on stderr)."""
    with reserve_port(host, port) as reservation:
        settings = settings_on(reservation.getsockname()[1])
        try:
            asyncio.run(prepare_shards(settings))
        except Exception as error:  # reported, not raised: the exit code says it
            print(f"{name}: cannot open the shards: {error}", file=sys.stderr)
            return 1
        log.info("%s: %d workers on %s:%d", name, workers, host, reservation.getsockname()[1])
        supervisor = Supervisor(
            workers, target, (settings, *extra), name=name, crash_window=crash_window
        )
        return supervisor.run()


def settle_collector(freeze: bool = True) -> int:
    """In a serving process, once it serves: collect once, then (with `freeze`) move every
    surviving object out of the collector's view, and return how many were frozen.

    Start-up leaves a few hundred thousand long-lived objects (modules, schemas, the Rego bundle,
    SQLAlchemy metadata, pydantic models) that every full collection would walk again: 147 ms
    measured in a gateway worker (278,000 objects), 74 ms in a gRPC worker — a stall of every
    request in flight. Frozen, they are never walked again. Process-wide, so only a serving
    process calls it, never library code (tests run several servers in one process)."""
    gc.collect()
    if not freeze:
        return 0
    gc.freeze()
    return gc.get_freeze_count()


@dataclass
class Supervisor:
    """Runs `workers` spawned processes of `target(*args)` and keeps them running."""

    workers: int
    target: Callable[..., None]
    args: tuple[Any, ...]
    name: str = "cbamhub-worker"
    crash_window: float = CRASH_WINDOW_SECONDS
    _stopping: threading.Event = field(default_factory=threading.Event)
    _processes: dict[int, tuple[BaseProcess, float]] = field(default_factory=dict)

    def run(self) -> int:
        """Serve until SIGINT/SIGTERM or `stop` (exit 0), or a worker crash loop (exit 1)."""
        if self.workers < 1:
            raise ValueError(f"workers is at least 1, not {self.workers}")
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        context = multiprocessing.get_context("spawn")
        try:
            for slot in range(self.workers):
                self._start(context, slot)
            while not self._stopping.wait(0.2):
                for slot, (process, started) in list(self._processes.items()):
                    if process.is_alive() or self._stopping.is_set():
                        continue
                    if time.monotonic() - started < self.crash_window:
                        log.error(
                            "%s-%d exited with %s %.1f s after its start: stopping",
                            self.name,
                            slot,
                            process.exitcode,
                            time.monotonic() - started,
                        )
                        return 1
                    log.warning(
                        "%s-%d exited with %s: restarting", self.name, slot, process.exitcode
                    )
                    self._start(context, slot)
            return 0
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def stop(self) -> None:
        """Ask `run` to stop the workers and return (what SIGINT and SIGTERM do)."""
        self._stopping.set()

    def _start(self, context: multiprocessing.context.SpawnContext, slot: int) -> None:
        process = context.Process(target=self.target, args=self.args, name=f"{self.name}-{slot}")
        process.start()
        self._processes[slot] = (process, time.monotonic())

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop()

    def _stop_all(self) -> None:
        self._stopping.set()
        processes = [p for p, _ in self._processes.values()]
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: the worker finishes what is in flight
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.warning("%s did not stop in time: killed", process.name)
                process.kill()
                process.join()
