"""`cbamhub grpc-serve`: the gRPC front door (customs checks, registry) over the configured shards.

Registered in cli.py with `cli_grpc.register(sub)`. Listens on grpc_host:grpc_port, with TLS and
client certificates when configured; the external systems come from the external_* settings.
`--workers N` (grpc_workers) runs N server processes on the port (cbamhub.rpc.serving).
"""

from __future__ import annotations

import argparse

from cbamhub.rpc.serving import serve
from cbamhub.settings import Settings


def cmd_grpc_serve(args: argparse.Namespace) -> int:
    given = {"grpc_port": args.port, "grpc_workers": getattr(args, "workers", None)}
    return serve(Settings(**{k: v for k, v in given.items() if v is not None}))


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = subparsers.add_parser("grpc-serve", help="run the gRPC front door")
    serve.add_argument("--port", type=int, help="override grpc_port (0 = any free port)")
    serve.add_argument(
        "--workers", type=int, help="override grpc_workers: server processes on the port"
    )
    serve.set_defaults(func=cmd_grpc_serve)
