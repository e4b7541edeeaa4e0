"""`cbamhub grpc-serve`: the gRPC front door (customs checks, registry) over the configured shards.

Registered in cli.py with `cli_grpc.register(sub)`. Listens on grpc_host:grpc_port, with TLS and
client certificates when configured; the external systems come from the external_* settings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from cbamhub.policies.engines import authorizer_from_settings
from cbamhub.rpc.record_policy import AuthorizerPolicy
from cbamhub.rpc.server import start_rpc_server
from cbamhub.settings import Settings
from cbamhub.vault.shards import ShardRouter


async def _serve(settings: Settings) -> None:
    router = await ShardRouter.open(settings)
    try:
        policy = AuthorizerPolicy(authorizer_from_settings(settings), router)
        running = await start_rpc_server(settings, router, policy)
        print(
            f"cbamhub gRPC on {settings.grpc_host}:{running.port} (tls={running.tls})", flush=True
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await running.stop()
    finally:
        await router.close()


def cmd_grpc_serve(args: argparse.Namespace) -> int:
    changes = {} if args.port is None else {"grpc_port": args.port}
    settings = Settings(**changes)
    asyncio.run(_serve(settings))
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = subparsers.add_parser("grpc-serve", help="run the gRPC front door")
    serve.add_argument("--port", type=int, help="override grpc_port (0 = any free port)")
    serve.set_defaults(func=cmd_grpc_serve)
