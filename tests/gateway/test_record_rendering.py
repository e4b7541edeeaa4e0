"""A listed record is rendered for a reader once per view while it stays the cached record.

`StoredRecordCache.render` keeps `Record.from_stored`'s answer beside the cached record it was made
from: the same record, reader's fields and status give the same (immutable) object; any of the
three changing, or a fresher load of the record, gives a new one."""

from __future__ import annotations

from cbamhub.gateway.graphql_types import POLICY_FIELD, Record
from cbamhub.gateway.record_queries import StoredRecordCache
from cbamhub.vault import reading
from cbamhub.vault.shards import ShardRouter
from gateway_hub import Hub

PUBLISH = """mutation($input: SignedRecordInput!) { publishRecord(input: $input) { recordId } }"""


async def test_a_view_is_rendered_once_per_record_fields_and_status(hub: Hub) -> None:
    body = await hub.gql(PUBLISH, input=hub.signed_input(hub.record()))
    record_id = body["data"]["publishRecord"]["recordId"]
    router = await ShardRouter.open(hub.settings)
    try:
        cache = StoredRecordCache(ttl=60)
        (stored,) = await cache.load(router, [record_id])
        assert stored is not None
        full = cache.render(stored, None, "submitted")
        assert full == Record.from_stored(stored, None, "submitted")
        assert cache.render(stored, None, "submitted") is full

        emissions_only = frozenset({POLICY_FIELD["see_direct"]})
        masked = cache.render(stored, emissions_only, "submitted")
        assert masked.see_direct == full.see_direct and masked.country_code is None
        assert full.country_code == "TR" and masked.signature is None
        assert cache.render(stored, emissions_only, "submitted") is masked
        assert cache.render(stored, None, "verified").status == "verified"
        assert cache.render(stored, None, "submitted") is full  # the other views did not evict it

        reloaded = await reading.record_with_proof(router, record_id)
        assert reloaded is not stored
        assert cache.render(reloaded, None, "submitted") is not full  # rendered from the new load

        uncached = StoredRecordCache(ttl=0)
        assert uncached.render(stored, None, "submitted") is not uncached.render(
            stored, None, "submitted"
        )
    finally:
        await router.close()
