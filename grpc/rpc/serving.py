"""Running the gRPC door as a process: one server, or `grpc_workers` of them on one port.

Why several processes: grpcio's asyncio server spends ~0.4 ms of CPU in its own machinery per unary
call (measured with a servicer that returns a prebuilt answer, docs/PERFORMANCE.md), all of it on
the one event loop's thread, so one process saturates near 2,000 calls/s and any pause of that
thread (a busy neighbour on the core, a garbage collection) queues every call behind it. Each
worker binds the port itself (grpcio sets SO_REUSEPORT on Linux, `grpc.so_reuseport`), and the
kernel spreads *connections*, not calls, over the workers: a client with one channel reaches one
worker (docs/decisions/0056).

Why `gc.freeze()` once the server is up (`cbamhub.supervisor.settle_collector`): start-up leaves
~224,000 long-lived objects (modules, the Rego bundle, SQLAlchemy's metadata, pydantic models), and
a full collection walks them all -- 74 ms on this machine, 137 ms under load, a stall of every call
in flight. Frozen, they are never walked again (`grpc_gc_freeze`).

With `grpc_workers` > 1 the core's supervisor (cbamhub.supervisor, as for the gateway) holds the
port (port 0 becomes one free port for all), opens the shards once before the workers start,
restarts a worker that dies, stops when one dies at its start, and stops them all on SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

from cbamhub.policies.engines import authorizer_from_settings
from cbamhub.vault.shards import ShardRouter

from cbamhub.settings import Settings
from cbamhub.supervisor import CRASH_WINDOW_SECONDS, settle_collector, supervise

from .record_policy import AuthorizerPolicy
from .server import start_rpc_server
from .stall_watch import StallWatch


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


def serve(settings: Settings, *, crash_window: float = CRASH_WINDOW_SECONDS) -> int:
    """`cbamhub grpc-serve`: one server in this process, or grpc_workers processes on the port
    under the core's supervisor (cbamhub.supervisor, shared with the gateway). Returns the exit
    code."""
    if settings.grpc_workers == 1:
        serve_worker(settings)
        return 0
    return supervise(
        settings.grpc_host,
        settings.grpc_port,
        lambda port: settings.with_overrides(grpc_port=port),
        settings.grpc_workers,
        serve_worker,
        name="cbamhub-grpc",
        crash_window=crash_window,
    )
