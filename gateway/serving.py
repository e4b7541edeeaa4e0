"""Serve the gateway from several worker processes on one port, each with its own listening socket.

Why not `uvicorn --workers N`: its workers share one listening socket, and asyncio accepts every
connection pending at a wake-up in one go, so the first worker to wake takes a whole burst of
keep-alive connections and keeps them. Measured with bench/bench_gateway.py: one worker served
100 % of wrk's 16 connections while the other idled, halving the hub's throughput. Here every worker
binds the port with SO_REUSEPORT and the kernel spreads new connections over the workers by a hash of
their addresses (docs/decisions/0073).

The supervisor (`cbamhub.supervisor`, shared with the gRPC door) reserves the port, opens the
shards once, restarts dead workers and stops them all on SIGINT/SIGTERM; this module adds the
workers' sockets and one token secret for all workers when the settings have none (a token issued
by one worker must be accepted by the others).
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable

from cbamhub.settings import Settings
from cbamhub.supervisor import CRASH_WINDOW_SECONDS, settle_collector, supervise

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
    """One worker: its own socket on the shared port, one uvicorn server, one event loop; the
    start-up objects frozen out of the garbage collector's view once the app has started."""
    import uvicorn

    from .app import create_app

    class _Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            settle_collector()
            host, port = sock.getsockname()[:2]
            print(f"cbamhub gateway on http://{host}:{port} (pid {os.getpid()})", flush=True)

    sock = listening_socket(settings.host, settings.port)
    # access_log off: the gateway writes its own JSON access line (middleware/request_id.py)
    config = uvicorn.Config(create_app(settings, debug=debug), log_level="info", access_log=False)
    _Server(config).run(sockets=[sock])  # on the loop uvicorn picks (uvloop when installed)


def shared_settings(settings: Settings, port: int) -> Settings:
    """The settings every worker gets: the bound port, and one token secret for all of them."""
    changes: dict[str, object] = {"port": port}
    if settings.auth_token_secret is None:
        changes["auth_token_secret"] = secrets.token_hex(32)
    return settings.with_overrides(**changes)


def serve(
    settings: Settings,
    workers: int,
    *,
    debug: bool = False,
    target: Callable[[Settings, bool], None] = serve_worker,
    crash_window: float = CRASH_WINDOW_SECONDS,
) -> int:
    """Run `workers` gateway processes on the settings' port until SIGINT/SIGTERM (0), a worker
    crash loop or shards that cannot be opened (1)."""
    return supervise(
        settings.host,
        settings.port,
        lambda port: shared_settings(settings, port),
        workers,
        target,
        debug,
        name="cbamhub-gateway",
        crash_window=crash_window,
    )
