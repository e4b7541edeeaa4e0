"""`cbamhub anomaly-serve`: the AnomalyScoring gRPC service on its own (issue 7, decision 0082).

Registered in cli.py with `cli_anomaly.register(sub)`. Stateless: it needs the model (anomaly_model_dir,
anomaly_model_version, anomaly_threshold) and no shard. Listens on anomaly_grpc_host:anomaly_grpc_port
with the main server's TLS settings (grpc_tls_cert/key, client certificates with grpc_tls_client_ca and
grpc_require_client_cert), health checking and reflection; stops on SIGINT/SIGTERM, NOT_SERVING first.
Hubs use it with anomaly_scorer_url=<host:port>.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from cbamhub.anomaly.service import start_scoring_server_from_settings
from cbamhub.settings import Settings


async def _serve(settings: Settings, port: int | None) -> None:
    running = await start_scoring_server_from_settings(settings, port)
    print(
        f"cbamhub anomaly scoring on {settings.anomaly_grpc_host}:{running.port} "
        f"(tls={running.tls}, model {running.model_version})",
        flush=True,
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


def cmd_anomaly_serve(args: argparse.Namespace) -> int:
    asyncio.run(_serve(Settings(), args.port))
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = subparsers.add_parser(
        "anomaly-serve", help="run the anomaly scoring gRPC service on its own"
    )
    serve.add_argument("--port", type=int, help="override anomaly_grpc_port (0 = any free port)")
    serve.set_defaults(func=cmd_anomaly_serve)
