"""Fan-out of "a record was verified" to the subscriptions of this replica — and, through Redis
pub/sub, of every replica — so an importer's subscription hears of an attestation made anywhere.

Each subscriber has a bounded queue; a subscriber that falls behind by more than its queue loses the
oldest events rather than slowing the publisher (it can always re-read with the `records` query).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from redis.asyncio import Redis

LOG = logging.getLogger("cbamhub.gateway.record_events")
CHANNEL = "cbamhub:records-verified"
QUEUE_SIZE = 1000


class RecordBus:
    def __init__(self, redis: Redis | None) -> None:
        self._redis = redis
        self._queues: set[asyncio.Queue[str]] = set()

    async def verified(self, record_id: str) -> None:
        """Announce a verified record: through Redis to every replica, else to this one."""
        if self._redis is not None:
            await self._redis.publish(CHANNEL, record_id)
        else:
            self.deliver(record_id)

    def deliver(self, record_id: str) -> None:
        for queue in self._queues:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(record_id)

    @contextlib.asynccontextmanager
    async def listen(self) -> AsyncIterator[asyncio.Queue[str]]:
        queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_SIZE)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)

    async def follow(self, stop: asyncio.Event) -> None:
        """Deliver the records other replicas (and this one) announce through Redis, until `stop`."""
        if self._redis is None:
            return
        while not stop.is_set():
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    while not stop.is_set():
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=0.5
                        )
                        if message is not None:
                            data = message["data"]
                            self.deliver(data.decode() if isinstance(data, bytes) else str(data))
            except Exception as error:  # Redis down: subscriptions pause, then resume
                LOG.warning("record channel: %s; retrying in 1 s", error)
                await asyncio.sleep(1.0)
