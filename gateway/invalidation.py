"""Cross-replica invalidation: every replica drops cached decisions of the organisations whose grants
changed on any replica (Redis pub/sub). Cached decisions are also keyed by the grants version read
from the shards, so a missed message costs at most a stale cache entry that no request can hit."""

from __future__ import annotations

import asyncio
import json
import logging

from cbamhub.policies import Authorizer
from redis.asyncio import Redis

from cbamhub.access import GrantSetCache

LOG = logging.getLogger("cbamhub.gateway.invalidation")
CHANNEL = "cbamhub:grants-changed"


async def follow_grant_changes(
    redis: Redis, authorizer: Authorizer, grant_cache: GrantSetCache, stop: asyncio.Event
) -> None:
    """Until `stop`, apply every grant-change message; reconnect after Redis errors."""
    while not stop.is_set():
        try:
            async with redis.pubsub() as pubsub:
                await pubsub.subscribe(CHANNEL)
                while not stop.is_set():
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
                    if message is None:
                        continue
                    try:
                        organisations = [str(o) for o in json.loads(message["data"])]
                    except (ValueError, TypeError):
                        LOG.warning("ignored a malformed grant-change message")
                        continue
                    grant_cache.invalidate(*organisations)
                    await authorizer.grants_changed(*organisations)
        except Exception as error:  # Redis down: keep trying, the versioned keys stay correct
            LOG.warning("grant-change channel: %s; retrying in 1 s", error)
            await asyncio.sleep(1.0)
