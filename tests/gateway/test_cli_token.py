"""`cbamhub token`: a bearer token for the organisation whose key signs the request."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
from gateway_hub import Hub


def cbamhub(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cbamhub.cli", *args], capture_output=True, text=True, timeout=60
    )


async def test_a_token_from_the_command_line_opens_the_graphql_door(
    hub: Hub, tmp_path: Path
) -> None:
    key = tmp_path / "org.key"
    key.write_text(hub.key.to_text())
    done = cbamhub("token", "--url", hub.url, "--organisation", hub.manufacturer, "--key", str(key))
    assert done.returncode == 0, done.stderr
    token = json.loads(done.stdout)["token"]
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            f"{hub.url}/graphql",
            json={"query": "{ regions }"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.json()["data"]["regions"] == ["eu", "cn", "row"]


async def test_a_key_of_another_organisation_gets_exit_1_with_the_reason(
    hub: Hub, tmp_path: Path
) -> None:
    stranger = tmp_path / "stranger.key"
    assert cbamhub("keygen", "--out", str(stranger)).returncode == 0
    done = cbamhub(
        "token", "--url", hub.url, "--organisation", hub.manufacturer, "--key", str(stranger)
    )
    assert done.returncode == 1
    assert "UNAUTHENTICATED" in done.stderr and "is not registered" in done.stderr


def test_no_organisation_is_a_usage_error(tmp_path: Path) -> None:
    key = tmp_path / "k.key"
    assert cbamhub("keygen", "--out", str(key)).returncode == 0
    done = cbamhub("token", "--url", "http://127.0.0.1:9", "--key", str(key))
    assert done.returncode != 0 and "--organisation" in done.stderr
