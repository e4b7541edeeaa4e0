"""`cbamhub serve --workers N`: N processes on one port, each with its own listening socket, so that
a burst of keep-alive connections is spread over them instead of landing on one."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from cbamhub.gateway.serving import listening_socket, serve, shared_settings

from cbamhub.settings import Settings
from tests.gateway.gateway_world import world_settings

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def config_file(tmp_path: Path, **extra: str) -> Path:
    regions = "\n".join(f'{r} = "sqlite+aiosqlite:///{tmp_path / r}.db"' for r in ("eu", "row"))
    lines = [f'data_dir = "{tmp_path}"', "create_missing_keys = true", 'default_region = "row"']
    lines += [f"{k} = {v}" for k, v in extra.items()]
    path = tmp_path / "hub.toml"
    path.write_text("\n".join(lines) + f'\n[country_regions]\nDE = "eu"\n[regions]\n{regions}\n')
    return path


def cbamhub_serve(config: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CBAMHUB_CONFIG_FILE": str(config)}
    return subprocess.Popen(
        [sys.executable, "-m", "cbamhub.cli", "serve", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def children(pid: int) -> list[int]:
    """The supervisor's worker processes (not multiprocessing's resource tracker)."""
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    pids = [int(p) for p in text.split()]
    return [p for p in pids if b"resource_tracker" not in Path(f"/proc/{p}/cmdline").read_bytes()]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


async def wait_ready(url: str, process: subprocess.Popen[bytes], workers: int) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                if (await client.get(f"{url}/healthz")).status_code == 200 and len(
                    children(process.pid)
                ) >= workers:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError("the hub did not come up in 60 s")


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


async def test_connections_are_spread_over_the_workers(tmp_path: Path) -> None:
    port = free_port()
    process = cbamhub_serve(config_file(tmp_path), "--workers", "2", "--port", str(port))
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(url, process, workers=2)
        workers = children(process.pid)
        before = {pid: cpu_seconds(pid) for pid in workers}

        async def connection() -> None:
            # One keep-alive connection each, opened together: the burst one shared socket
            # would hand to a single worker.
            async with httpx.AsyncClient(limits=httpx.Limits(max_connections=1)) as client:
                for _ in range(60):
                    assert (await client.get(f"{url}/readyz")).status_code == 200

        await asyncio.gather(*(connection() for _ in range(16)))
        used = {pid: cpu_seconds(pid) - before[pid] for pid in workers}
        total = sum(used.values())
        assert total > 0
        assert all(u / total >= 0.15 for u in used.values()), used
    finally:
        assert stop(process) == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)


async def test_shards_that_cannot_open_stop_the_server_with_an_error(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    (tmp_path / "row.db").mkdir()  # a directory where the shard's file must be: no database
    process = cbamhub_serve(config, "--workers", "2", "--port", str(free_port()))
    try:
        code = process.wait(60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert code == 1
    assert process.stderr is not None and b"cannot open the shards" in process.stderr.read()


def test_workers_share_the_port_and_one_token_secret(tmp_path: Path) -> None:
    first = listening_socket("127.0.0.1", 0)
    port = first.getsockname()[1]
    second = listening_socket("127.0.0.1", port)  # SO_REUSEPORT: a second socket on the port
    first.close()
    second.close()

    settings = world_settings(tmp_path)
    assert settings.auth_token_secret is None
    shared = shared_settings(settings, port)
    assert shared.port == port and shared.auth_token_secret is not None
    assert len(bytes.fromhex(shared.auth_token_secret)) == 32
    kept = shared_settings(settings.with_overrides(auth_token_secret="ab" * 32), port)
    assert kept.auth_token_secret == "ab" * 32


def test_zero_workers_is_a_usage_error(tmp_path: Path) -> None:
    process = cbamhub_serve(config_file(tmp_path), "--workers", "0")
    assert process.wait(60) == 2
    assert process.stderr is not None and b"workers" in process.stderr.read()


@pytest.mark.parametrize("port", [-1, 70000])
def test_a_port_out_of_range_is_a_usage_error(tmp_path: Path, port: int) -> None:
    process = cbamhub_serve(config_file(tmp_path), "--workers", "2", "--port", str(port))
    assert process.wait(60) == 2


def exit_at_once(settings: Settings, debug: bool) -> None:
    sys.exit(3)


def note_and_exit_later(settings: Settings, debug: bool) -> None:
    with (settings.data_dir / "starts").open("a") as starts:
        starts.write(f"{os.getpid()}\n")
    time.sleep(0.5)


def test_a_worker_crashing_at_its_start_stops_the_server(tmp_path: Path) -> None:
    assert serve(world_settings(tmp_path, port=0), 2, target=exit_at_once) == 1


def test_a_worker_that_dies_later_is_restarted(tmp_path: Path) -> None:
    # SIGTERM to this process while `serve` runs: its handler stops the workers, and serve returns
    stopping = threading.Timer(6.0, os.kill, (os.getpid(), signal.SIGTERM))
    stopping.start()
    try:
        code = serve(
            world_settings(tmp_path, port=0), 1, target=note_and_exit_later, crash_window=0.1
        )
    finally:
        stopping.cancel()
    assert code == 0
    starts = (tmp_path / "starts").read_text().split()
    assert len(starts) >= 2 and len(set(starts)) == len(starts)


def test_accepted_connections_send_without_nagle_delays(tmp_path: Path) -> None:
    """asyncio turns Nagle's algorithm off only on sockets that say IPPROTO_TCP, and an accepted
    socket takes the listener's proto: without it a response's second write waited for the
    client's delayed ACK (40 ms on Linux)."""
    listener = listening_socket("127.0.0.1", 0)
    with listener, socket.create_connection(listener.getsockname()) as _client:
        accepted, _ = listener.accept()
        with accepted:
            assert accepted.proto == socket.IPPROTO_TCP
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_a_serving_process_freezes_its_start_up_objects_out_of_the_collector() -> None:
    """A full collection walked ~278,000 start-up objects of a gateway worker (147 ms, a stall of
    every request in flight); frozen, they are never walked again."""
    code = (
        "import gc, cbamhub.gateway.app\n"
        "from cbamhub.supervisor import settle_collector\n"
        "assert settle_collector(False) == 0 and gc.get_freeze_count() == 0\n"
        "frozen = settle_collector()\n"
        "assert frozen == gc.get_freeze_count() > 10_000, frozen\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
