"""Helpers of the gateway tests: a client for a running hub: real uvicorn on loopback, one database per region (SQLite and
PostgreSQL), and a registered manufacturer whose key signs on the test's side."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import sqlalchemy as sa
from cbamhub.vault.shards import load_log_signer
from cbamhub.vault.signing import OrganisationKey, SignedDocument
from sqlalchemy.ext.asyncio import create_async_engine

from cbamhub.client import SignedRequests
from cbamhub.demo import sample_record
from cbamhub.settings import Settings

SITE_COUNTRIES = ("TR", "DE", "CN", "FR")
"""The manufacturer has one registered installation in each, with one product line of SITE_CN_CODES
(Annex I codes, shared/reference/cbam_facts.md §1)."""
SITE_CN_CODES = ("72081000", "72139110", "76011000")


def signed_document_input(signed: SignedDocument) -> dict[str, str]:
    """A signed document as the GraphQL inputs take it (SignedRecordInput, SignedDocumentInput)."""
    return {
        "payload": signed.payload.decode(),
        "signature": base64.b64encode(signed.signature).decode(),
        "keyId": signed.key_id,
    }


class Hub:
    def __init__(
        self,
        url: str,
        settings: Settings,
        manufacturer: str,
        key: OrganisationKey,
        sites: dict[str, tuple[str, str]],
    ) -> None:
        self.url = url
        self.settings = settings
        self.manufacturer = manufacturer
        self.key = key
        self.sites = sites
        """country -> (installation id, product line id)"""

    def record(self, **changes: Any) -> dict[str, Any]:
        """A record document (KIT shape) from the few figures the tests vary, naming the registered
        installation and product line of its country."""
        country = changes.pop("installation_country", "TR")
        installation_id, line_id = self.sites[country]
        figures: dict[str, Any] = {
            "manufacturer_id": self.manufacturer,
            "installation_id": installation_id,
            "country": country,
            "product_line_id": line_id,
            "cn_code": "72081000",
            "period": "2026-Q1",
            "see_direct": 1.92,
            "see_indirect": 0.31,
        }
        figures.update(changes)
        return sample_record(**figures)

    def signed_input(self, document: Any, key: OrganisationKey | None = None) -> dict[str, str]:
        signed = (key or self.key).sign_document(document)
        return signed_document_input(signed)

    def auth(
        self, organisation: str | None = None, key: OrganisationKey | None = None
    ) -> httpx.Auth:
        """Request signing as an organisation (the hub's manufacturer by default)."""
        return SignedRequests(organisation or self.manufacturer, key or self.key)

    async def gql(
        self,
        query: str,
        *,
        as_: httpx.Auth | None = None,
        anonymous: bool = False,
        **variables: Any,
    ) -> dict[str, Any]:
        """POST a GraphQL operation, signed as the manufacturer unless `as_` or `anonymous` says
        otherwise; the answer must be HTTP 200."""
        response = await self.post_graphql(query, as_=as_, anonymous=anonymous, **variables)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def post_graphql(
        self,
        query: str,
        *,
        as_: httpx.Auth | None = None,
        anonymous: bool = False,
        **variables: Any,
    ) -> httpx.Response:
        auth = None if anonymous else (as_ or self.auth())
        async with httpx.AsyncClient(timeout=30, auth=auth) as client:
            return await client.post(
                f"{self.url}/graphql", json={"query": query, "variables": variables}
            )

    def vkey(self, region: str) -> str:
        return load_log_signer(self.settings, region).vkey()


async def count_rows(url: str, table: str) -> int:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(sa.text(f"SELECT count(*) FROM {table}"))).scalar_one())
    finally:
        await engine.dispose()
