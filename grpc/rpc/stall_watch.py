"""Log what stops a serving process's event loop: stalls of the loop and the collector's pauses.

Why: at 1,000 calls/s every millisecond the loop does not turn delays a call, so a p99 of tens of
milliseconds is made of a few such moments, and neither grpcio nor asyncio says when they happen
(asyncio's slow-callback log needs debug mode, which costs more than the calls). A task that sleeps
`interval` and measures how late it woke sees every stall of the loop, whatever caused it (a long
callback, the GIL held by another thread, the process not scheduled); gc.callbacks time the
collector's pauses, which are the process's own doing. Each longer than `threshold` is one WARNING
line, for operators and for bench/bench_grpc.py, which counts them per variant.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import Any

log = logging.getLogger("cbamhub.rpc.stalls")


class StallWatch:
    """Watches the running loop and the collector while `run` runs (one per serving process)."""

    def __init__(self, threshold: float, interval: float = 0.005) -> None:
        if threshold <= 0 or interval <= 0:
            raise ValueError("threshold and interval are positive seconds")
        self.threshold = threshold
        self.interval = interval
        self._collecting_since: float | None = None

    def _on_collection(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._collecting_since = time.perf_counter()
        elif self._collecting_since is not None:
            paused = time.perf_counter() - self._collecting_since
            self._collecting_since = None
            if paused > self.threshold:
                log.warning(
                    "gc pause %.1f ms (generation %d, %d objects freed)",
                    paused * 1000,
                    info["generation"],
                    info["collected"],
                )

    async def run(self) -> None:
        """Until cancelled."""
        gc.callbacks.append(self._on_collection)
        try:
            while True:
                started = time.perf_counter()
                await asyncio.sleep(self.interval)
                late = time.perf_counter() - started - self.interval
                if late > self.threshold:
                    log.warning("event loop stall %.1f ms", late * 1000)
        finally:
            gc.callbacks.remove(self._on_collection)
