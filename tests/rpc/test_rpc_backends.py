"""The customs door on both shard backends (SQLite and PostgreSQL): a verified, granted record is
checked line by line and over a stream, and the entry's proof verifies with the log key alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

from cbamhub.policies.engines import authorizer_from_settings
from cbamhub.rpc.customs_service import CHECK_CONSIGNMENT
from cbamhub.rpc.evidence_message import verify_entry_inclusion
from cbamhub.rpc.generated import customs_pb2
from cbamhub.rpc.record_policy import AuthorizerPolicy
from cbamhub.rpc.server import start_rpc_server
from cbamhub.vault.shards import ShardRouter, load_log_signer
from rpc_supply import supply_chain
from rpc_world import IMPORTER_EORI, World, register

from cbamhub.settings import Settings


async def test_customs_checks_on_each_backend(region_urls: dict[str, str], tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        regions=region_urls,
        country_regions={"DE": "eu", "FR": "eu", "CN": "cn"},
        default_region="row",  # TR: the installation's records live in the "row" shard
        create_missing_keys=True,
        grpc_port=0,
    )
    router = await ShardRouter.open(settings)
    customs = await register(router, "customs", "DE", "DE000000000000001")
    importer = await register(router, "importer", "DE", IMPORTER_EORI)
    maker = await register(router, "manufacturer", "TR")
    supply = await supply_chain(router, maker)
    record_id = await supply.publish(supply.record(see_direct=2.05))
    await supply.grant(importer)
    authorizer = authorizer_from_settings(settings)
    server = await start_rpc_server(settings, router, AuthorizerPolicy(authorizer, router))
    world = World(settings, router, server, customs, importer, maker)
    try:
        line = customs_pb2.DeclarationLine(
            line_id="L", importer_eori=IMPORTER_EORI, cn_code="72081000", net_mass="3",
            country_of_origin="TR", period="2026-01-01/2026-03-31",
            installation_id=supply.installation.id,
        )  # fmt: skip
        answer = await world.customs_stub(customs).CheckLine(line, timeout=15)
        assert answer.record_id == record_id and answer.evidence.region == "row"
        assert Decimal(answer.embedded_total) == Decimal("6.15")
        vkey = load_log_signer(settings, "row").vkey()
        assert verify_entry_inclusion(answer.evidence, vkey).subject["record"] == record_id

        async def lines() -> AsyncIterator[customs_pb2.DeclarationLine]:
            for i in range(2_000):
                yield customs_pb2.DeclarationLine(
                    line_id=f"S{i}", importer_eori=IMPORTER_EORI, cn_code="72081000",
                    net_mass="1", country_of_origin="TR", period="2026-Q1", record_id=record_id,
                )  # fmt: skip

        call = world.customs_stub(None).CheckConsignment(
            lines(), metadata=customs.signer.metadata(CHECK_CONSIGNMENT, None), timeout=120
        )
        answers = [a async for a in call]
        assert len(answers) == 2_000 and {a.code for a in answers} == {0}
    finally:
        await world.close()
        await authorizer.engine.aclose()
