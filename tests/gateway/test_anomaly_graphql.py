"""Anomaly scores, the review queue and notifications over GraphQL, on a running hub.

`recordAnomaly` is decided like `record`: a reader sees it, anyone else gets FORBIDDEN. Figures
are TEST INPUTS: 2,000 tCO2e/t direct for BF-BOF steel is a 1000x slip of a figure inside the
reference band 1.6-2.2 (shared/reference/cbam_facts.md §8)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cbamhub.gateway.app import create_app
from cbamhub.vault import identities, lifecycle, publishing
from cbamhub.vault.models import OrganisationIn
from cbamhub.vault.shards import ShardRouter
from cbamhub.vault.signing import OrganisationKey
from gateway_hub import signed_document_input

from cbamhub.client import SignedRequests
from cbamhub.demo import register_sample_site, sample_record
from cbamhub.settings import Settings

ROLES = {
    "M": ("manufacturer", "TR"),
    "V": ("verifier", "DE"),
    "V2": ("verifier", "DE"),
    "R": ("regulator", "DE"),
    "I": ("importer", "US"),
}
ANOMALY = """query($id: ID!) { recordAnomaly(id: $id) {
  recordId status modelVersion probability flagged ruleFlagged ruleText
  reasons { feature quantity contribution text } unscoredReason reviewed
} }"""
QUEUE = """query($all: Boolean!) { anomalyReviewQueue(includeReviewed: $all) {
  status manufacturerId reviewerId score { recordId flagged reasons { quantity } }
} }"""
NOTES = "{ anomalyNotifications { id recordId kind acknowledgedAt } }"
REVIEW = """mutation($input: SignedDocumentInput!) { reviewAnomaly(input: $input) {
  recordId reviewerId leafIndex } }"""
ACK = "mutation($id: ID!) { acknowledgeAnomalyNotification(id: $id) { id acknowledgedAt } }"


class AnomalyWorld:
    def __init__(
        self, url: str, orgs: dict[str, tuple[str, OrganisationKey]], records: dict[str, str]
    ):
        self.url, self.orgs, self.records = url, orgs, records

    async def gql(self, who: str, query: str, **variables: Any) -> dict[str, Any]:
        org, key = self.orgs[who]
        async with httpx.AsyncClient(timeout=30, auth=SignedRequests(org, key)) as client:
            response = await client.post(
                f"{self.url}/graphql", json={"query": query, "variables": variables}
            )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def signed_input(self, who: str, document: Any) -> dict[str, str]:
        signed = self.orgs[who][1].sign_document(document)
        return signed_document_input(signed)


def _code(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["extensions"]["code"])


@pytest.fixture
async def anomaly_world(
    region_urls: dict[str, str], tmp_path: Path, serve_asgi: Callable[..., str]
) -> AnomalyWorld:
    settings = Settings(
        data_dir=tmp_path,
        regions=region_urls,
        country_regions={"DE": "eu", "CN": "cn"},
        default_region="row",
        create_missing_keys=True,
    )
    orgs: dict[str, tuple[str, OrganisationKey]] = {}
    records: dict[str, str] = {}

    async def on_startup(router: ShardRouter) -> None:
        for n, (name, (role, country)) in enumerate(ROLES.items()):
            key = OrganisationKey.generate()
            eori = f"DE{n:012d}" if role == "importer" else None
            org = OrganisationIn(role=role, legal_name=f"{name} Ltd", country=country, eori=eori)
            orgs[name] = (await identities.register_organisation(router, org, key.public_key), key)
        maker, key = orgs["M"]
        installation, line = await register_sample_site(router, maker, key, "CN", ["72081000"])
        for label, direct in (("slip", 2000.0), ("calm", 1.9)):
            document = sample_record(
                maker, installation, "CN", "72081000", "2026", direct,
                product_line_id=line, productionMethod={"methodId": "C"},
            )  # fmt: skip
            signed = key.sign_document(document)
            published = await publishing.publish(
                router, signed.payload, signed.signature, signed.key_id
            )
            records[label] = published.record_id
        request = {
            "action": "record.request_verification",
            "record": records["slip"],
            "verifier": orgs["V"][0],
        }
        await lifecycle.request_verification(router, key.sign_document(request))

    url = serve_asgi(create_app(settings, on_startup=on_startup))
    return AnomalyWorld(url, orgs, records)


async def test_readers_see_the_score_and_others_are_forbidden(anomaly_world: AnomalyWorld) -> None:
    w = anomaly_world
    body = await w.gql("M", ANOMALY, id=w.records["slip"])
    score = body["data"]["recordAnomaly"]
    assert score["status"] == "scored" and score["flagged"] and score["ruleFlagged"]
    assert score["reasons"][0]["quantity"] == "direct"
    assert "standard deviations" in score["ruleText"]
    calm = (await w.gql("M", ANOMALY, id=w.records["calm"]))["data"]["recordAnomaly"]
    assert not calm["flagged"] and calm["reasons"] == []

    assigned = (await w.gql("V", ANOMALY, id=w.records["slip"]))["data"]["recordAnomaly"]
    assert assigned["probability"] == score["probability"]
    for outsider in ("I", "V2"):
        assert _code(await w.gql(outsider, ANOMALY, id=w.records["slip"])) == "FORBIDDEN"
        assert _code(await w.gql(outsider, ANOMALY, id=w.records["calm"])) == "FORBIDDEN"


async def test_queue_review_and_notifications(anomaly_world: AnomalyWorld) -> None:
    w = anomaly_world
    slip = w.records["slip"]
    [item] = (await w.gql("V", QUEUE, all=False))["data"]["anomalyReviewQueue"]
    assert (item["score"]["recordId"], item["status"]) == (slip, "open")
    assert item["manufacturerId"] == w.orgs["M"][0]
    assert (await w.gql("V2", QUEUE, all=False))["data"]["anomalyReviewQueue"] == []
    assert len((await w.gql("R", QUEUE, all=False))["data"]["anomalyReviewQueue"]) == 1
    assert _code(await w.gql("I", QUEUE, all=False)) == "FORBIDDEN"
    assert _code(await w.gql("M", QUEUE, all=False)) == "FORBIDDEN"

    def document(who: str) -> dict[str, str]:
        return {
            "action": "record.anomaly_review",
            "record": slip,
            "reviewer": w.orgs[who][0],
            "note": "kg reported as t; asked the plant to correct",
        }

    # acting in someone else's name, or unassigned, is refused
    forged = await w.gql("V2", REVIEW, input=w.signed_input("V", document("V")))
    assert _code(forged) == "FORBIDDEN"
    assert _code(await w.gql("V2", REVIEW, input=w.signed_input("V2", document("V2")))) == (
        "FORBIDDEN"
    )
    done = (await w.gql("V", REVIEW, input=w.signed_input("V", document("V"))))["data"]
    assert done["reviewAnomaly"]["reviewerId"] == w.orgs["V"][0]
    assert (await w.gql("V", QUEUE, all=False))["data"]["anomalyReviewQueue"] == []
    [closed] = (await w.gql("R", QUEUE, all=True))["data"]["anomalyReviewQueue"]
    assert (closed["status"], closed["reviewerId"]) == ("reviewed", w.orgs["V"][0])

    notes = (await w.gql("M", NOTES))["data"]["anomalyNotifications"]
    assert [(n["recordId"], n["kind"]) for n in notes] == [(slip, "reviewed"), (slip, "flagged")]
    assert _code(await w.gql("I", NOTES)) == "FORBIDDEN"
    assert _code(await w.gql("V", ACK, id=notes[0]["id"])) == "NOT_FOUND"
    acked = (await w.gql("M", ACK, id=notes[0]["id"]))["data"]["acknowledgeAnomalyNotification"]
    assert acked["acknowledgedAt"] is not None
