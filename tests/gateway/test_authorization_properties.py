"""Property: whatever shape an operation takes — aliases, named and inline fragments, several root
fields, repeated selections, lists with filters — an organisation without a grant gets no data of a
record it may not read. Hypothesis builds the operations; the hub answers over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from cbamhub.gateway.app import create_app
from gateway_world import World, build, world_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

RECORD_FIELDS = [
    "id", "seeDirect", "seeIndirect", "methodology", "document", "evidence", "signature",
    "productionMethod", "countryCode", "visibleFields", "inclusionProof { salt hashes }",
]  # fmt: skip

ROOTS = {
    "record": 'record(id: "{id}") {{ {fields} }}',
    "recordAsOf": 'record(id: "{id}", asOf: "2030-01-01T00:00:00Z") {{ {fields} }}',
    "records": "records(first: 50) {{ edges {{ node {{ {fields} }} }} }}",
    "recordsFiltered": 'records(filter: {{manufacturerId: "{manufacturer}", cnCode: "72081000"}}) '
    "{{ edges {{ node {{ {fields} }} }} }}",
    "history": 'recordHistory(id: "{id}") {{ kind actor details }}',
}


@st.composite
def operations(draw: st.DrawFn, record_id: str, manufacturer: str) -> str:
    selections, used = [], set()
    for n in range(draw(st.integers(1, 4))):
        root = draw(st.sampled_from(sorted(ROOTS)))
        fields = " ".join(
            draw(st.lists(st.sampled_from(RECORD_FIELDS), min_size=1, max_size=4, unique=True))
        )
        text = ROOTS[root].format(id=record_id, manufacturer=manufacturer, fields=fields)
        # a second selection of one root field needs an alias (else the operation is invalid)
        field = text.split("(")[0]
        alias = field in used or draw(st.booleans())
        used.add(field)
        selections.append(f"a{n}: {text}" if alias else text)
    body = " ".join(selections)
    wrap = draw(st.sampled_from(["plain", "inline", "named", "nested"]))
    if wrap == "inline":
        return f"{{ ... on Query {{ {body} }} }}"
    if wrap == "named":
        return f"query Q {{ ...F }} fragment F on Query {{ {body} }}"
    if wrap == "nested":
        return f"query {{ ...F }} fragment F on Query {{ ...G }} fragment G on Query {{ {body} }}"
    return f"{{ {body} }}"


def leaves(value: Any) -> list[Any]:
    """Every non-null leaf of a GraphQL `data` tree."""
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in leaves(v)]
    return [] if value is None else [value]


def single_record_roots(data: dict[str, Any] | None) -> list[Any]:
    """The answers of root fields about one record (record, recordHistory), whatever their alias:
    lists are the other roots, and may hold the caller's own records."""
    if not data:
        return []
    return [v for v in data.values() if not (isinstance(v, dict) and "edges" in v)]


async def test_no_operation_shape_leaks_an_ungranted_record(
    tmp_path: Path, serve_asgi: Callable[..., str]
) -> None:
    built: dict[str, Any] = {}
    url = serve_asgi(create_app(world_settings(tmp_path), on_startup=lambda r: build(r, built)))
    world = World(url, built["orgs"], built["records"])
    target, manufacturer = world.records["rTR"], built["orgs"]["M"][0]

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(
        query=operations(target, manufacturer),
        who=st.sampled_from(["I_none", "I_revoked", "V2", "C", "M2"]),
    )
    def property(query: str, who: str) -> None:
        with httpx.Client(timeout=30, auth=world.auth(who)) as client:
            response = client.post(f"{url}/graphql", json={"query": query})
        assert response.status_code == 200, response.text
        body = response.json()
        assert target not in leaves(body.get("data")), (who, query, body)
        assert all(v is None for v in single_record_roots(body.get("data"))), (who, query, body)
        codes = {e.get("extensions", {}).get("code") for e in body.get("errors", [])}
        assert codes <= {"FORBIDDEN", "GRAPHQL_VALIDATION_FAILED"}, (who, query, body)

    await asyncio.to_thread(property)
