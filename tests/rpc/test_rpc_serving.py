"""`cbamhub grpc-serve` as a process: N workers on one port, replaced when they die later, the
whole server stopped when one dies at its start, and the loop's stalls and the collector's pauses
logged (settling the collector is cbamhub.supervisor's, tested with the gateway)."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
import time
from pathlib import Path

import grpc
import pytest
from cbamhub.rpc.stall_watch import StallWatch
from grpc_health.v1 import health_pb2, health_pb2_grpc

CUSTOMS = "cbamhub.customs.v1.CustomsCheck"


async def _supervisor(tmp_path: Path, crash_window: float) -> asyncio.subprocess.Process:
    env = dict(os.environ, CBAMHUB_DATA_DIR=str(tmp_path), CBAMHUB_CREATE_MISSING_KEYS="true")
    code = (
        "import sys; from cbamhub.rpc.serving import serve; from cbamhub.settings import "
        f"Settings; sys.exit(serve(Settings(grpc_port=0, grpc_workers=2), crash_window={crash_window}))"
    )
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def _banner(process: asyncio.subprocess.Process) -> tuple[int, int]:
    """(port, pid) from the next 'cbamhub gRPC on host:port (tls=..., pid=N)' line."""
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
    assert line.startswith("cbamhub gRPC on 127.0.0.1:"), line
    port = int(line.split()[3].rsplit(":", 1)[1])
    return port, int(line.rsplit("pid=", 1)[1].rstrip(")\n"))


async def _serving(port: int) -> bool:
    # a channel of its own: each a new connection, which the kernel may give to either worker
    options = [("grpc.use_local_subchannel_pool", 1)]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=options) as channel:
        answer = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=CUSTOMS), timeout=10
        )
    return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def _stop(process: asyncio.subprocess.Process) -> int:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(process.wait(), 30)


async def test_workers_share_one_port_and_a_dead_one_is_replaced(tmp_path: Path) -> None:
    process = await _supervisor(tmp_path, crash_window=0.0)
    try:
        (port, first), (same_port, second) = await _banner(process), await _banner(process)
        assert port == same_port != 0  # port 0 became one free port for both
        assert len({first, second, process.pid}) == 3
        assert all([await _serving(port) for _ in range(6)])
        os.kill(first, signal.SIGKILL)
        replaced_port, third = await _banner(process)
        assert replaced_port == port and third not in (first, second)
        assert await _serving(port)
        assert await _stop(process) == 0
        await asyncio.sleep(0.5)
        assert not _alive(second) and not _alive(third)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_a_worker_dying_at_its_start_stops_the_server(tmp_path: Path) -> None:
    process = await _supervisor(tmp_path, crash_window=600.0)
    try:
        (_, first), (_, second) = await _banner(process), await _banner(process)
        os.kill(first, signal.SIGKILL)
        assert await asyncio.wait_for(process.wait(), 30) == 1  # a crash loop, not bad luck
        await asyncio.sleep(0.5)
        assert not _alive(second)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_the_stall_watch_logs_a_blocked_loop_and_a_long_collection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    watch = asyncio.create_task(StallWatch(threshold=0.02, interval=0.002).run())
    await asyncio.sleep(0.05)
    with caplog.at_level(logging.WARNING, logger="cbamhub.rpc.stalls"):
        time.sleep(0.06)  # a callback that holds the loop: every call waits behind it
        await asyncio.sleep(0.01)
        garbage = [[i] for i in range(300_000)]  # enough objects for a full collection to take time
        started = time.perf_counter()
        gc.collect()
        took = time.perf_counter() - started
        await asyncio.sleep(0.01)
    watch.cancel()
    await asyncio.gather(watch, return_exceptions=True)
    del garbage
    stalls = [r.getMessage() for r in caplog.records if "event loop stall" in r.getMessage()]
    assert stalls and all(float(m.split()[3]) >= 20 for m in stalls)
    assert any(float(m.split()[3]) >= 55 for m in stalls)  # the 60 ms sleep, as one stall
    pauses = [r.getMessage() for r in caplog.records if r.getMessage().startswith("gc pause")]
    assert (took > 0.02) == any("generation 2" in m for m in pauses)
    # stopped, it no longer listens to the collector
    assert not any(getattr(c, "__self__", None).__class__ is StallWatch for c in gc.callbacks)
