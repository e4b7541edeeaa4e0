"""An open-loop load generator: POSTs one body at a fixed rate and reports latency from each
request's *scheduled* send time, so a slow server cannot slow the load down and hide its queue
(coordinated omission; wrk paces per connection and would). Run in its own process by
bench/bench_gateway.py, which reads the JSON line it prints.

    python bench/bench_gateway_load.py URL --rate 300 --seconds 10 --body-file q.json \
        [--header 'Authorization: Bearer …'] [--warmup 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import time
from pathlib import Path

import aiohttp


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


async def run(
    url: str,
    body: bytes,
    headers: dict[str, str],
    rate: float,
    seconds: float,
    warmup: float,
    timeout_seconds: float,
) -> dict[str, float | int]:
    latencies: list[float] = []
    failures = 0
    interval = 1.0 / rate
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=timeout_seconds)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(scheduled: float, record: bool) -> None:
            nonlocal failures
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    text = await response.read()
                    ok = response.status == 200 and b'"errors"' not in text
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            if record:
                latencies.append(time.perf_counter() - scheduled)
                failures += not ok

        tasks: list[asyncio.Task[None]] = []
        start = time.perf_counter() + 0.05
        total = int((warmup + seconds) * rate)
        warm = int(warmup * rate)
        for i in range(total):
            scheduled = start + i * interval
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(scheduled, i >= warm)))
        sent_by = time.perf_counter()
        await asyncio.gather(*tasks)
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "failures": failures,
        "offered_rate": rate,
        "achieved_send_rate": total / (sent_by - start),
        "p50_ms": percentile(ordered, 50) * 1000,
        "p90_ms": percentile(ordered, 90) * 1000,
        "p99_ms": percentile(ordered, 99) * 1000,
        "max_ms": ordered[-1] * 1000 if ordered else float("nan"),
        "mean_ms": sum(ordered) / len(ordered) * 1000 if ordered else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--rate", type=float, default=300.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured duration")
    parser.add_argument("--warmup", type=float, default=2.0, help="unrecorded lead-in")
    parser.add_argument(
        "--timeout", type=float, default=5.0, help="a slower answer counts as failed, at this time"
    )
    parser.add_argument("--body-file", type=Path, required=True)
    parser.add_argument("--header", action="append", default=[], help="'Name: value'")
    args = parser.parse_args()
    headers = {"Content-Type": "application/json"}
    for header in args.header:
        name, _, value = header.partition(":")
        headers[name.strip()] = value.strip()
    result = asyncio.run(
        run(
            args.url,
            args.body_file.read_bytes(),
            headers,
            args.rate,
            args.seconds,
            args.warmup,
            args.timeout,
        )
    )
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
