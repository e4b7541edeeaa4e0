"""Prometheus metrics of one gateway, in a registry of its own (no process-global state).

Request latency by operation (the sorted root fields of the GraphQL operation, a set bounded by the
schema, never the client-chosen operation name), policy decisions and denials, ingest counts, and, read
from the logs at scrape time, each region's ledger size and the age of its latest final checkpoint.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "cbamhub_request_seconds",
            "Time to answer a request, by path, GraphQL operation and status",
            ["path", "operation", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.policy_decisions = Counter(
            "cbamhub_policy_decisions_total",
            "Authorization decisions, by action and outcome (allow, deny, error)",
            ["action", "outcome"],
            registry=self.registry,
        )
        self.ingested = Counter(
            "cbamhub_records_ingested_total",
            "Records accepted (new or replayed), by region",
            ["region", "replayed"],
            registry=self.registry,
        )
        self.ledger_size = Gauge(
            "cbamhub_ledger_size", "Entries in the region's log", ["region"], registry=self.registry
        )
        self.checkpoint_age = Gauge(
            "cbamhub_final_checkpoint_age_seconds",
            "Seconds since the region's latest witnessed (final) checkpoint; absent if none yet",
            ["region"],
            registry=self.registry,
        )


def operation_label(root_fields: list[str], operation_type: str) -> str:
    fields = sorted(set(root_fields))
    shown = ",".join(fields[:3]) + (",…" if len(fields) > 3 else "")
    return f"{operation_type}:{shown}"


async def metrics_endpoint(request: Request) -> Response:
    state = request.app.state
    metrics: Metrics = state.metrics
    router = state.router

    async def refresh(region: str) -> None:
        log = router.shard(region).log
        head, final = await asyncio.gather(log.head(), log.finalised())
        metrics.ledger_size.labels(region).set(head.size)
        if final is not None:
            age = (datetime.now(UTC) - final[1]).total_seconds()
            metrics.checkpoint_age.labels(region).set(max(0.0, age))

    await asyncio.gather(*(refresh(r) for r in router.regions))
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
