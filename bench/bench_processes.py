"""Process-group helpers the benches share: a server started in its own session is stopped with
every process it spawned (its workers), never left running into the next measurement."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess


def stop_group(process: subprocess.Popen[bytes], first: signal.Signals, timeout: float) -> None:
    """`first` to the process's group (started with start_new_session=True), then SIGKILL if it
    has not exited within `timeout`, and SIGKILL again for workers that outlived their parent."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, first)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
