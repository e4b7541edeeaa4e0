"""Size and alias limits refuse a costly operation before anything runs, with a clear error.

The schema has no cycles, so no valid selection is deeper than five levels (records → edges → node
→ inclusionProof → hashes) and the depth limit (8) only guards types added later; it is not tested
here because no operation on today's schema can reach it (introspection is exempt from it)."""

from __future__ import annotations

from cbamhub.gateway.schema import LIMITS
from gateway_hub import Hub


async def test_too_many_aliases_are_refused(hub: Hub) -> None:
    query = "{ " + " ".join(f"a{i}: regions" for i in range(LIMITS["aliases"] + 1)) + " }"
    body = await hub.gql(query)
    assert body.get("data") is None
    assert "aliases" in body["errors"][0]["message"].lower()


async def test_an_oversized_document_is_refused(hub: Hub) -> None:
    query = "{ regions " + "__typename " * LIMITS["tokens"] + "}"
    body = await hub.gql(query)
    assert body.get("data") is None
    assert "token" in body["errors"][0]["message"].lower()


async def test_an_ordinary_query_is_within_every_limit(hub: Hub) -> None:
    body = await hub.gql(
        "{ records(first: 5) { edges { node { id inclusionProof { hashes } } } } }"
    )
    assert "errors" not in body, body
