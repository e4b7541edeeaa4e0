"""The OPA-compatible server speaks the subset of OPA's REST API the client uses."""

from __future__ import annotations

import httpx
from cbamhub.policies.opa_compatible import create_opa_compatible_app
from policy_cases import MANUFACTURER_CN, NOW, RECORD_CN

INPUT = {
    "now": NOW.isoformat(),
    "principal": MANUFACTURER_CN.to_input(),
    "record": RECORD_CN.to_input(),
}


async def _client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_opa_compatible_app()), base_url="http://opa"
    )


async def test_data_queries_answer_result_or_nothing_when_undefined() -> None:
    async with await _client() as client:
        assert (await client.get("/health")).json() == {}
        read = await client.post("/v1/data/cbamhub/authz/read", json={"input": INPUT})
        assert read.status_code == 200
        assert read.json()["result"]["allow"] is True
        assert (
            await client.post("/v1/data/cbamhub/authz/nothing", json={"input": {}})
        ).json() == {}
        regions = await client.get("/v1/data/cbamhub/regions/cn/exportable_fields")
        assert "direct_emissions" in regions.json()["result"]


async def test_bad_requests_get_opa_shaped_errors() -> None:
    async with await _client() as client:
        bad = await client.post("/v1/data/cbamhub/authz/read", content=b"{not json")
        assert bad.status_code == 400 and bad.json()["code"] == "invalid_parameter"
        path = await client.post("/v1/data/cbamhub/authz/re-ad", json={"input": {}})
        assert path.status_code == 500 and "not a policy path" in path.json()["message"]


async def test_policies_and_data_can_be_replaced() -> None:
    async with await _client() as client:
        listed = (await client.get("/v1/policies")).json()["result"]
        assert "authz.rego" in {p["id"] for p in listed}
        put = await client.put(
            "/v1/policies/extra.rego", content=b"package extra\n\nanswer := 42\n"
        )
        assert put.status_code == 200
        assert (await client.get("/v1/data/extra/answer")).json() == {"result": 42}
        refused = await client.put("/v1/policies/extra.rego", content=b"package extra\nx if {\n")
        assert refused.status_code == 400 and refused.json()["errors"]
        assert (await client.get("/v1/data/extra/answer")).json() == {"result": 42}
        rules = {"exportable_fields": [], "regulator_fields": []}
        assert (await client.put("/v1/data/cbamhub/regions/cn", json=rules)).status_code == 204
        masked = await client.post(
            "/v1/data/cbamhub/authz/audit",
            json={
                "input": {
                    **INPUT,
                    "principal": {"organisation_id": "o", "role": "regulator", "region": "eu"},
                }
            },
        )
        assert "direct_emissions" not in masked.json()["result"]["fields"]
        assert (await client.delete("/v1/policies/extra.rego")).status_code == 200
        assert (await client.get("/v1/policies/extra.rego")).status_code == 404
