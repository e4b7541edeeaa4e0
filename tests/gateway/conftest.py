"""The `hub` fixture: a running hub on loopback, one database per region, a registered manufacturer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cbamhub.gateway.app import create_app
from cbamhub.vault import identities
from cbamhub.vault.models import OrganisationIn
from cbamhub.vault.shards import ShardRouter
from cbamhub.vault.signing import OrganisationKey
from gateway_hub import SITE_CN_CODES, SITE_COUNTRIES, Hub

from cbamhub.demo import register_sample_site
from cbamhub.settings import Settings


@pytest.fixture
async def hub(region_urls: dict[str, str], tmp_path: Path, serve_asgi: Callable[..., str]) -> Hub:
    settings = Settings(
        data_dir=tmp_path,
        regions=region_urls,
        country_regions={"DE": "eu", "FR": "eu", "CN": "cn"},
        default_region="row",
        create_missing_keys=True,
    )
    key = OrganisationKey.generate()
    registered: dict[str, str] = {}
    sites: dict[str, tuple[str, str]] = {}

    async def on_startup(router: ShardRouter) -> None:
        organisation = OrganisationIn(role="manufacturer", legal_name="Test Steel", country="TR")
        registered["id"] = await identities.register_organisation(
            router, organisation, key.public_key
        )
        for country in SITE_COUNTRIES:
            sites[country] = await register_sample_site(
                router, registered["id"], key, country, list(SITE_CN_CODES), name=f"{country} works"
            )

    url = serve_asgi(create_app(settings, on_startup=on_startup))
    return Hub(url, settings, registered["id"], key, sites)
