"""The hub is an Apollo Federation v2 subgraph: an importer composes it with its own graph behind a
standard router, and the router gets no more than the importer could read itself.

The world: manufacturer M with two TR product lines (one granted to importer I in full, one granted
with directEmissions only), manufacturer M2 whose record I may not read. The importer's ERP (a node
subgraph, tests/federation/erp_subgraph.mjs) holds purchase orders naming those records and product
lines by key; @apollo/gateway (tests/federation/router.mjs) composes both and forwards I's bearer
token to the hub.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from cbamhub.gateway.app import create_app
from cbamhub.gateway.schema import schema
from cbamhub.vault import grants, identities, publishing
from cbamhub.vault.models import OrganisationIn
from cbamhub.vault.shards import ShardRouter
from cbamhub.vault.signing import OrganisationKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cbamhub.client import SignedRequests
from cbamhub.demo import register_sample_site, sample_record
from cbamhub.settings import Settings

NODE_PROJECT = Path(__file__).resolve().parents[1] / "federation"
MAX_ENTITIES = 6

RECORD_FIELDS = "fragment R on Record { id cnCode seeDirect seeIndirect visibleFields document }"
RECORD = "query($id: ID!) { record(id: $id) { ...R } } " + RECORD_FIELDS
ENTITIES = (
    """query($representations: [_Any!]!) { _entities(representations: $representations) {
  __typename
  ...R
  ... on ProductLine { id name cnCodes installationId }
  ... on Installation { id country productLines { id } }
  ... on Organisation { id role legalName keys { keyId } }
} } """
    + RECORD_FIELDS
)


@dataclass
class World:
    url: str
    router: ShardRouter
    orgs: dict[str, tuple[str, OrganisationKey]]
    lines: dict[str, str]
    installations: dict[str, str]
    records: dict[str, str]

    async def gql(self, name: str, query: str, **variables: Any) -> dict[str, Any]:
        org, key = self.orgs[name]
        async with httpx.AsyncClient(timeout=30, auth=SignedRequests(org, key)) as client:
            response = await client.post(
                f"{self.url}/graphql", json={"query": query, "variables": variables}
            )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def token(self, name: str) -> str:
        org, key = self.orgs[name]
        async with httpx.AsyncClient(timeout=30) as client:
            issued = await client.post(f"{self.url}/auth/token", auth=SignedRequests(org, key))
        assert issued.status_code == 200, issued.text
        token: str = issued.json()["token"]
        return token


async def build(router: ShardRouter, world: dict[str, Any]) -> None:
    orgs: dict[str, tuple[str, OrganisationKey]] = {}
    for name, role, country, eori in (
        ("M", "manufacturer", "TR", None),
        ("M2", "manufacturer", "TR", None),
        ("I", "importer", "US", "DE000000000042"),
    ):
        key = OrganisationKey.generate()
        org = OrganisationIn(role=role, legal_name=f"{name} Ltd", country=country, eori=eori)
        orgs[name] = (await identities.register_organisation(router, org, key.public_key), key)
    sites = {
        "full": await register_sample_site(router, *orgs["M"], "TR", ["72081000"], name="Rolling"),
        "masked": await register_sample_site(router, *orgs["M"], "TR", ["72139110"], name="Wire"),
        "other": await register_sample_site(router, *orgs["M2"], "TR", ["72081000"]),
    }
    records = {}
    for label, owner, cn_code in (("full", "M", "72081000"), ("masked", "M", "72139110"),
                                  ("other", "M2", "72081000")):  # fmt: skip
        installation, line = sites[label]
        document = sample_record(
            orgs[owner][0], installation, "TR", cn_code, "2026", 1.9, 0.3, product_line_id=line
        )
        signed = orgs[owner][1].sign_document(document)
        published = await publishing.publish(
            router, signed.payload, signed.signature, signed.key_id
        )
        records[label] = published.record_id
    now = datetime.now(UTC)
    for label, fields in (("full", None), ("masked", ["directEmissions"])):
        document: dict[str, Any] = {
            "action": "grant.create",
            "manufacturer": orgs["M"][0],
            "importer": orgs["I"][0],
            "product_line": sites[label][1],
            "purpose": "CBAM declaration 2026",
            "valid_from": (now - timedelta(days=1)).isoformat(),
            "valid_until": (now + timedelta(days=365)).isoformat(),
        }
        if fields is not None:
            document["fields"] = fields
        await grants.grant_access(router, orgs["M"][1].sign_document(document))
    world.update(
        router=router,
        orgs=orgs,
        records=records,
        lines={label: line for label, (_, line) in sites.items()},
        installations={label: installation for label, (installation, _) in sites.items()},
    )


@pytest.fixture
async def world(tmp_path: Path, serve_asgi: Callable[..., str]) -> World:
    settings = Settings(
        data_dir=tmp_path,
        regions={r: f"sqlite+aiosqlite:///{tmp_path / f'{r}.db'}" for r in ("eu", "cn", "row")},
        country_regions={"DE": "eu", "CN": "cn"},
        default_region="row",
        create_missing_keys=True,
        max_entities_per_request=MAX_ENTITIES,
    )
    built: dict[str, Any] = {}
    url = serve_asgi(create_app(settings, on_startup=lambda router: build(router, built)))
    return World(url=url, **built)


# --- the hub as a subgraph, asked directly (what a router sends) ---------------------------------


async def test_the_sdl_declares_federation_v2_entity_keys_and_needs_a_caller(world: World) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        anonymous = await client.post(
            f"{world.url}/graphql", json={"query": "{ _service { sdl } }"}
        )
    assert anonymous.status_code == 401
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    sdl = (await world.gql("I", "{ _service { sdl } }"))["data"]["_service"]["sdl"]
    assert 'specs.apollo.dev/federation/v2.7", import: ["@key"]' in sdl
    for type_name in ("Organisation", "Installation", "ProductLine", "Record"):
        assert f'type {type_name} @key(fields: "id")' in sdl


def rep(type_name: str, identifier: str) -> dict[str, str]:
    return {"__typename": type_name, "id": identifier}


async def test_entities_decide_each_record_like_the_record_query(world: World) -> None:
    body = await world.gql(
        "I",
        ENTITIES,
        representations=[
            rep("Record", world.records["other"]),
            rep("Record", world.records["full"]),
            rep("Record", world.records["masked"]),
        ],
    )
    other, full, masked = body["data"]["_entities"]
    assert other is None
    (error,) = body["errors"]
    assert error["path"] == ["_entities", 0]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert world.records["other"] in error["message"]
    assert full["id"] == world.records["full"] and full["visibleFields"] is None
    assert full["seeDirect"] == 1.9 and full["seeIndirect"] == 0.3 and full["document"]
    # The grant shares directEmissions only: the rest stays masked, as in `record`.
    assert "direct_emissions" in masked["visibleFields"]
    assert "indirect_emissions" not in masked["visibleFields"]
    assert masked["seeDirect"] == 1.9
    assert masked["seeIndirect"] is None and masked["document"] is None
    for entity in (full, masked):
        direct = await world.gql("I", RECORD, id=entity["id"])
        assert {"__typename": "Record", **direct["data"]["record"]} == entity
    # M2 reads its own record, not M's.
    body = await world.gql(
        "M2", ENTITIES, representations=[rep("Record", world.records["full"]),
                                         rep("Record", world.records["other"])]
    )  # fmt: skip
    assert body["data"]["_entities"][0] is None
    assert body["data"]["_entities"][1]["seeIndirect"] == 0.3
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]


async def test_entities_resolve_identities_and_report_bad_representations_alone(
    world: World,
) -> None:
    m_id = world.orgs["M"][0]
    unknown_line = world.lines["full"][:-4] + "0000"
    body = await world.gql(
        "I",
        ENTITIES,
        representations=[
            rep("ProductLine", world.lines["masked"]),
            rep("Organisation", m_id),
            rep("Installation", world.installations["full"]),
            rep("ProductLine", "rec_row_" + "0" * 32),  # a record id named as a product line
            rep("ProductLine", unknown_line),
            {"__typename": "Grant", "id": "x"},
        ],
    )
    line, org, installation, wrong_kind, unknown, not_entity = body["data"]["_entities"]
    assert line == {
        "__typename": "ProductLine",
        "id": world.lines["masked"],
        "name": "Wire: products",
        "cnCodes": ["72139110"],
        "installationId": world.installations["masked"],
    }
    assert org["id"] == m_id and org["role"] == "manufacturer" and len(org["keys"]) == 1
    assert installation["productLines"] == [{"id": world.lines["full"]}]
    assert installation["country"] == "TR"
    assert wrong_kind is None and unknown is None and not_entity is None
    codes = {tuple(e["path"]): e["extensions"]["code"] for e in body["errors"]}
    assert codes == {
        ("_entities", 3): "BAD_USER_INPUT",
        ("_entities", 4): "NOT_FOUND",
        ("_entities", 5): "BAD_USER_INPUT",
    }


async def test_entities_are_capped_per_request(world: World) -> None:
    many = [rep("Record", world.records["full"])] * (MAX_ENTITIES + 1)
    body = await world.gql("I", ENTITIES, representations=many)
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert f"at most {MAX_ENTITIES}" in error["message"]
    exactly = await world.gql("I", ENTITIES, representations=many[:MAX_ENTITIES])
    assert "errors" not in exactly and len(exactly["data"]["_entities"]) == MAX_ENTITIES
    # Aliases do not multiply the cap: it counts the whole request.
    aliased = await world.gql(
        "I",
        """query($a: [_Any!]!, $b: [_Any!]!) {
          a: _entities(representations: $a) { __typename }
          b: _entities(representations: $b) { __typename }
        }""",
        a=many[:4],
        b=many[:4],
    )
    assert aliased["data"] is None
    assert [e["extensions"]["code"] for e in aliased["errors"]] == ["BAD_USER_INPUT"]


@pytest.fixture
def record_reads(world: World) -> Iterator[list[str]]:
    """SELECTs against the records table of the row shard (all of the world's records live
    there), as the server runs them."""
    seen: list[str] = []
    engine = world.router.shard("row").engine.sync_engine

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM records" in statement:
            seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    yield seen
    sa.event.remove(engine, "before_cursor_execute", count)


async def test_entity_lookups_are_batched_per_type(world: World, record_reads: list[str]) -> None:
    one = [rep("Record", world.records["full"])]
    await world.gql("I", ENTITIES, representations=one)
    for_one = len(record_reads)
    record_reads.clear()
    three = [rep("Record", world.records[r]) for r in ("full", "masked", "other")]
    body = await world.gql("I", ENTITIES, representations=three + three[:2])
    assert len(body["data"]["_entities"]) == 5
    assert for_one > 0 and len(record_reads) == for_one, record_reads


# --- through @apollo/gateway -------------------------------------------------------------------


def ensure_node_project() -> None:
    """npm ci into tests/federation when node_modules is missing; fail loudly without npm."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail(
            "node and npm are needed for the federation test (the router is @apollo/gateway): "
            "install Node.js >= 20 with npm"
        )
    if (NODE_PROJECT / "node_modules" / "@apollo" / "gateway").is_dir():
        return
    done = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund"],
        cwd=NODE_PROJECT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"npm ci in {NODE_PROJECT} failed:\n{done.stdout}\n{done.stderr}")


@dataclass
class NodeProcess:
    process: asyncio.subprocess.Process
    url: str


async def start_node(script: str, **env: str) -> NodeProcess:
    """Run tests/federation/<script>; it prints `ready <url>` once it listens."""
    process = await asyncio.create_subprocess_exec(
        "node",
        script,
        cwd=NODE_PROJECT,
        env={**os.environ, "NODE_ENV": "production", **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    stdout = process.stdout

    async def ready() -> str:
        seen = []
        while line := (await stdout.readline()).decode():
            if line.startswith("ready "):
                return line.strip()
            seen.append(line)
        return "".join(seen)

    try:
        line = await asyncio.wait_for(ready(), 30)
    except TimeoutError:
        line = "(no answer in 30 s)"
    if not line.startswith("ready "):
        process.kill()
        error = (await process.stderr.read()).decode()
        await process.wait()
        pytest.fail(f"{script} did not start: {line}\n{error}")
    return NodeProcess(process, line.removeprefix("ready "))


@pytest.fixture
async def node() -> AsyncIterator[Callable[..., Any]]:
    ensure_node_project()
    started: list[NodeProcess] = []

    async def start(script: str, **env: str) -> NodeProcess:
        started.append(await start_node(script, **env))
        return started[-1]

    yield start
    for running in reversed(started):
        if running.process.returncode is None:
            running.process.kill()
        await running.process.wait()


JOIN = """{ purchaseOrders {
  number supplier tonnes
  record { id cnCode seeDirect seeIndirect visibleFields }
  productLine { id name cnCodes }
} }"""


async def test_a_router_joins_erp_orders_to_hub_records_under_the_importers_grants(
    world: World, node: Callable[..., Any]
) -> None:
    orders = [
        {"number": "PO-1", "supplier": "M Ltd", "tonnes": 120.0,
         "recordId": world.records["full"], "productLineId": world.lines["full"]},
        {"number": "PO-2", "supplier": "M Ltd", "tonnes": 40.5,
         "recordId": world.records["masked"], "productLineId": world.lines["masked"]},
        {"number": "PO-3", "supplier": "M2 Ltd", "tonnes": 7.0,
         "recordId": world.records["other"]},
    ]  # fmt: skip
    erp = await node("erp_subgraph.mjs", ERP_ORDERS=json.dumps(orders))
    router = await node(
        "router.mjs",
        HUB_URL=f"{world.url}/graphql",
        ERP_URL=erp.url,
        ROUTER_HUB_TOKEN=await world.token("I"),
    )
    token = await world.token("I")
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            router.url, json={"query": JOIN}, headers={"Authorization": f"Bearer {token}"}
        )
        anonymous = await client.post(router.url, json={"query": JOIN})
    assert response.status_code == 200, response.text
    body = response.json()
    po1, po2, po3 = body["data"]["purchaseOrders"]
    assert po1 == {
        "number": "PO-1",
        "supplier": "M Ltd",
        "tonnes": 120.0,
        "record": {
            "id": world.records["full"],
            "cnCode": "72081000",
            "seeDirect": 1.9,
            "seeIndirect": 0.3,
            "visibleFields": None,
        },
        "productLine": {
            "id": world.lines["full"],
            "name": "Rolling: products",
            "cnCodes": ["72081000"],
        },
    }
    masked = po2["record"]
    assert masked["id"] == world.records["masked"] and masked["cnCode"] == "72139110"
    assert masked["seeDirect"] == 1.9 and masked["seeIndirect"] is None
    assert "indirect_emissions" not in masked["visibleFields"]
    # The record the importer may not read comes back as an error at its place, never as data.
    assert po3["number"] == "PO-3" and po3["record"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["path"] == ["purchaseOrders", 2, "record"]
    assert "1.9" not in json.dumps(po3)
    # Without the importer's token the hub answers nothing: the router holds no rights of its own.
    assert anonymous.status_code == 200, anonymous.text
    unauthenticated = anonymous.json()
    assert [o["record"] for o in unauthenticated["data"]["purchaseOrders"]] == [None] * 3
    assert {e["extensions"]["code"] for e in unauthenticated["errors"]} == {"UNAUTHENTICATED"}


def compose(tmp_path: Path, **sdls: str) -> dict[str, Any]:
    """tests/federation/compose.mjs: the router's composition, offline."""
    ensure_node_project()
    arguments = []
    for name, sdl in sdls.items():
        path = tmp_path / f"{name}.graphql"
        path.write_text(sdl)
        arguments.append(f"{name}={path}")
    done = subprocess.run(
        ["node", "compose.mjs", *arguments],
        cwd=NODE_PROJECT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def test_federation_does_not_fan_out_over_regions(tmp_path: Path) -> None:
    """Two regional hubs serve the same schema; composition refuses them (every field would be
    resolvable from both), so regions are fanned out inside the gateway, not by a router."""
    sdl = schema.as_str()
    alone = compose(tmp_path, hub=sdl)
    assert "errors" not in alone and "join__type(graph: HUB" in alone["supergraph"]
    twice = compose(tmp_path, eu=sdl, cn=sdl)
    codes = {e["code"] for e in twice["errors"]}
    assert codes == {"INVALID_FIELD_SHARING"}
    assert any('"Record.seeDirect"' in e["message"] for e in twice["errors"])


SECRET_FIELDS = ("seeIndirect", "document", "signature", "evidence", "inclusionProof { salt }")
ALWAYS_FIELDS = ("id", "cnCode", "seeDirect")


@st.composite
def entity_operations(draw: st.DrawFn) -> tuple[str, list[str]]:
    """An `_entities` operation of some shape over some record labels, in some order."""
    labels = draw(
        st.lists(st.sampled_from(["full", "masked", "other"]), min_size=1, max_size=MAX_ENTITIES)
    )
    chosen = draw(
        st.lists(
            st.sampled_from(SECRET_FIELDS + ALWAYS_FIELDS), min_size=1, max_size=5, unique=True
        )
    )
    fields = " ".join(chosen)
    shape = draw(st.sampled_from(["inline", "named", "nested", "aliased", "typename"]))
    selection = {
        "inline": f"... on Record {{ {fields} }}",
        "named": "...E",
        "nested": "... on _Entity { ... on Record { ...E } }",
        "aliased": f"... on Record {{ x: id y: seeDirect {fields} }}",
        "typename": f"__typename ... on Record {{ {fields} }} ... on ProductLine {{ name }}",
    }[shape]
    query = (
        f"query($r: [_Any!]!) {{ e: _entities(representations: $r) {{ {selection} }} }}"
        f" fragment E on Record {{ {fields} }}"
        if shape in ("named", "nested")
        else f"query($r: [_Any!]!) {{ e: _entities(representations: $r) {{ {selection} }} }}"
    )
    return query, labels


async def test_no_entities_shape_reaches_an_ungranted_record_or_a_masked_field(
    world: World,
) -> None:
    org, key = world.orgs["I"]

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(operation=entity_operations())
    def property(operation: tuple[str, list[str]]) -> None:
        query, labels = operation
        representations = [rep("Record", world.records[label]) for label in labels]
        with httpx.Client(timeout=30, auth=SignedRequests(org, key)) as client:
            response = client.post(
                f"{world.url}/graphql", json={"query": query, "variables": {"r": representations}}
            )
        assert response.status_code == 200, response.text
        body = response.json()
        entities = body["data"]["e"]
        errors = {tuple(e["path"]): e["extensions"]["code"] for e in body.get("errors", [])}
        assert errors == {
            ("e", i): "FORBIDDEN" for i, label in enumerate(labels) if label == "other"
        }, body
        for label, entity in zip(labels, entities, strict=True):
            if label == "other":
                assert entity is None, body
            elif label == "masked":
                hidden = [entity.get(f) for f in ("seeIndirect", "document", "signature")]
                proof = entity.get("inclusionProof") or {}
                assert hidden == [None] * 3 and proof.get("salt") is None, body
            elif "seeIndirect" in query:
                assert entity["seeIndirect"] == 0.3, body

    await asyncio.to_thread(property)
