"""Serve the gateway from several worker processes on one port, each with its own listening socket.

Why not `uvicorn --workers N`: its workers share one listening socket, and asyncio accepts every
connection pending at a wake-up in one go, so the first worker to wake takes a whole burst of
keep-alive connections and keeps them. Measured with bench/bench_gateway.py: one worker served
100 % of wrk's 16 connections while the other idled, halving the hub's throughput. Here every worker
binds the port with SO_REUSEPORT and the kernel spreads new connections over the workers by a hash of
their addresses (docs/decisions/0073).

The supervisor (this process) owns no connection. It binds the port once first, so a port of 0
becomes one free port shared by the workers, opens the shards once (keys, migrations), gives the workers one token secret when the settings
have none (a token issued by one worker must be accepted by the others), restarts a worker that
dies, and stops them all on SIGINT/SIGTERM. A worker that dies within `CRASH_WINDOW_SECONDS` of its
start means a broken configuration, not bad luck: the supervisor then stops and exits non-zero.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import secrets
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from types import FrameType

from cbamhub.settings import Settings

log = logging.getLogger(__name__)

CRASH_WINDOW_SECONDS = 10.0
STOP_GRACE_SECONDS = 10.0
LISTEN_BACKLOG = 2048


def listening_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket that other sockets of this user may bind to the same port.

    Made with proto IPPROTO_TCP and TCP_NODELAY on purpose: asyncio disables Nagle's algorithm only
    on transports whose socket says IPPROTO_TCP, and an accepted socket inherits the listener's
    proto (0 for a plain `socket(AF_INET, SOCK_STREAM)`, as uvicorn's --workers makes it). With Nagle
    on, a response's second write waits for the client's delayed ACK: measured here, 40 ms added to
    the median answer at some request rates (p50 50 ms at 120 requests/s, 7 ms at 80 and 13 at 150)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(LISTEN_BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def serve_worker(settings: Settings, debug: bool) -> None:
    """One worker: its own socket on the shared port, one uvicorn server, one event loop."""
    import uvicorn

    from .app import create_app

    sock = listening_socket(settings.host, settings.port)
    # access_log off: the gateway writes its own JSON access line (middleware/request_id.py)
    config = uvicorn.Config(create_app(settings, debug=debug), log_level="info", access_log=False)
    server = uvicorn.Server(config)
    asyncio.run(server.serve(sockets=[sock]))


async def prepare_shards(settings: Settings) -> None:
    """Open every shard once before the workers start: missing keys are created and migrations
    applied by one process, not raced by N (a key file is created exclusively, so the loser of
    that race would die at its start)."""
    from cbamhub.vault.shards import ShardRouter

    await (await ShardRouter.open(settings)).close()


def shared_settings(settings: Settings, port: int) -> Settings:
    """The settings every worker gets: the bound port, and one token secret for all of them."""
    changes: dict[str, object] = {"port": port}
    if settings.auth_token_secret is None:
        changes["auth_token_secret"] = secrets.token_hex(32)
    return settings.with_overrides(**changes)


@dataclass
class Supervisor:
    """Runs `workers` processes of `target(settings, debug)` and keeps them running."""

    settings: Settings
    workers: int
    debug: bool = False
    target: Callable[[Settings, bool], None] = serve_worker
    crash_window: float = CRASH_WINDOW_SECONDS
    _stopping: threading.Event = field(default_factory=threading.Event)
    _processes: dict[int, tuple[BaseProcess, float]] = field(default_factory=dict)

    def run(self) -> int:
        """Serve until SIGINT/SIGTERM (exit 0) or a worker crash loop (exit 1)."""
        if self.workers < 1:
            raise ValueError(f"workers is at least 1, not {self.workers}")
        # Held, never listened on: it reserves the port (and resolves port 0) for the workers.
        reservation = socket.socket(
            socket.AF_INET6 if ":" in self.settings.host else socket.AF_INET, socket.SOCK_STREAM
        )
        reservation.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        reservation.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        reservation.bind((self.settings.host, self.settings.port))
        settings = shared_settings(self.settings, reservation.getsockname()[1])
        try:
            asyncio.run(prepare_shards(settings))
        except Exception as error:  # reported, not raised: the CLI's exit code says it
            print(f"cbamhub serve: cannot open the shards: {error}", file=sys.stderr)
            reservation.close()
            return 1
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        context = multiprocessing.get_context("spawn")
        try:
            log.info(
                "serving on http://%s:%d with %d workers",
                settings.host,
                settings.port,
                self.workers,
            )
            for slot in range(self.workers):
                self._start(context, slot, settings)
            while not self._stopping.wait(0.2):
                for slot, (process, started) in list(self._processes.items()):
                    if process.is_alive() or self._stopping.is_set():
                        continue
                    if time.monotonic() - started < self.crash_window:
                        log.error(
                            "worker %d exited with %s %.1f s after its start: stopping",
                            slot,
                            process.exitcode,
                            time.monotonic() - started,
                        )
                        return 1
                    log.warning("worker %d exited with %s: restarting", slot, process.exitcode)
                    self._start(context, slot, settings)
            return 0
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            reservation.close()

    def _start(self, context: multiprocessing.context.SpawnContext, slot: int, s: Settings) -> None:
        process = context.Process(
            target=self.target, args=(s, self.debug), name=f"cbamhub-gateway-{slot}", daemon=False
        )
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
                process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.warning("worker %s did not stop in time: killed", process.name)
                process.kill()
                process.join()
