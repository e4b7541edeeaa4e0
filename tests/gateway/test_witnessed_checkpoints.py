"""Records become provable against witness-cosigned (final) checkpoints, with witnesses running as
their own HTTP services on loopback; below the threshold a checkpoint is never final."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cbamhub.gateway.app import create_app
from cbamhub.ledger.cosign import BlsSigner
from cbamhub.ledger.witness.app import WitnessConfig, create_witness_app
from cbamhub.vault import identities
from cbamhub.vault.models import OrganisationIn
from cbamhub.vault.shards import ShardRouter, load_log_signer
from cbamhub.vault.signing import OrganisationKey
from gateway_hub import signed_document_input

from cbamhub.client import SignedRequests
from cbamhub.demo import register_sample_site, sample_record
from cbamhub.settings import Settings, WitnessSettings

PUBLISH = """mutation($input: SignedRecordInput!) { publishRecord(input: $input) { recordId } }"""
RECORD = """query($id: ID!) { record(id: $id) { evidence inclusionProof { final treeSize } } }"""


def witness(name: str, tmp_path: Path, logs: dict[str, str]) -> WitnessConfig:
    return WitnessConfig(
        name=name,
        ed25519_seed=os.urandom(32),
        bls_secret=BlsSigner.generate(name).secret_key,
        logs=logs,
        database_url=f"sqlite+aiosqlite:///{tmp_path / f'{name}.db'}",
    )


def witness_settings(config: WitnessConfig, url: str) -> WitnessSettings:
    public = config.bls_public_key()
    return WitnessSettings(
        name=config.name,
        url=url,
        bls_public_key=public.key.hex(),
        bls_proof_of_possession=public.proof.hex(),
    )


async def start_hub(
    tmp_path: Path, serve_asgi: Callable[..., str], witnesses_up: int
) -> tuple[str, Settings, list[WitnessSettings], Callable[[], dict[str, str]], httpx.Auth]:
    base = Settings(
        data_dir=tmp_path,
        regions={"eu": f"sqlite+aiosqlite:///{tmp_path / 'eu.db'}"},
        country_regions={},
        default_region="eu",
        create_missing_keys=True,
    )
    logs = {base.log_origin("eu"): load_log_signer(base, "eu").vkey()}
    configs = [witness(f"w{i}.test", tmp_path, logs) for i in range(3)]
    urls = [
        serve_asgi(create_witness_app(c)) if i < witnesses_up else "http://127.0.0.1:9"
        for i, c in enumerate(configs)
    ]
    witnesses = [witness_settings(c, u) for c, u in zip(configs, urls, strict=True)]
    settings = base.with_overrides(
        witnesses=witnesses, witness_threshold=2, witness_interval_seconds=0.2
    )
    key = OrganisationKey.generate()
    state: dict[str, str] = {}

    async def on_startup(router: ShardRouter) -> None:
        org = OrganisationIn(role="manufacturer", legal_name="W Steel", country="DE")
        state["org"] = await identities.register_organisation(router, org, key.public_key)
        state["installation"], state["line"] = await register_sample_site(
            router, state["org"], key, "DE", ["76011000"]
        )

    url = serve_asgi(create_app(settings, on_startup=on_startup))

    def signed_input() -> dict[str, str]:
        document = sample_record(
            state["org"],
            state["installation"],
            "DE",
            "76011000",
            "2026",
            1.6,
            8.1,
            product_line_id=state["line"],
        )
        signed = key.sign_document(document)
        return signed_document_input(signed)

    return url, settings, witnesses, signed_input, SignedRequests(state["org"], key)


async def gql(url: str, auth: httpx.Auth, query: str, **variables: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30, auth=auth) as client:
        response = await client.post(
            f"{url}/graphql", json={"query": query, "variables": variables}
        )
    data: dict[str, Any] = response.json()["data"]
    return data


async def record_once_final(
    url: str, auth: httpx.Auth, record_id: str, seconds: float
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        record: dict[str, Any] = (await gql(url, auth, RECORD, id=record_id))["record"]
        if record["inclusionProof"]["final"] or asyncio.get_running_loop().time() > deadline:
            return record
        await asyncio.sleep(0.2)


async def test_record_is_proven_against_a_final_checkpoint_a_customs_officer_can_check(
    tmp_path: Path, serve_asgi: Callable[..., str]
) -> None:
    url, settings, witnesses, signed_input, auth = await start_hub(
        tmp_path, serve_asgi, witnesses_up=3
    )
    record_id = (await gql(url, auth, PUBLISH, input=signed_input()))["publishRecord"]["recordId"]
    record = await record_once_final(url, auth, record_id, seconds=30)
    assert record["inclusionProof"]["final"] is True

    witnesses_file = tmp_path / "witnesses.json"
    witnesses_file.write_text(json.dumps([w.model_dump() for w in witnesses]))
    vkey = load_log_signer(settings, "eu").vkey()
    command = [sys.executable, "-m", "cbamhub.cli", "verify", "-", "--log-key", vkey]
    checked = subprocess.run(
        [*command, "--witnesses", str(witnesses_file), "--threshold", "2"],
        input=record["evidence"], capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert "cosigned by" in checked.stdout

    too_many = subprocess.run(
        [*command, "--witnesses", str(witnesses_file), "--threshold", "4"],
        input=record["evidence"], capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert too_many.returncode != 0


@pytest.mark.parametrize("witnesses_up", [1])
async def test_a_checkpoint_below_the_threshold_is_never_final(
    tmp_path: Path, serve_asgi: Callable[..., str], witnesses_up: int
) -> None:
    url, _, _, signed_input, auth = await start_hub(tmp_path, serve_asgi, witnesses_up=witnesses_up)
    record_id = (await gql(url, auth, PUBLISH, input=signed_input()))["publishRecord"]["recordId"]
    await asyncio.sleep(1.5)  # several witnessing rounds
    record = await record_once_final(url, auth, record_id, seconds=0)
    assert record["inclusionProof"]["final"] is False
