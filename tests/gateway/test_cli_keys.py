"""`cbamhub key add|revoke|list` against a running hub: an organisation rotates, adds and revokes its
own keys, signing every document and request on its side; refusals say why with exit 1, bad usage
exits 2 before anything is sent."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cbamhub.vault import identities
from cbamhub.vault.shards import ShardRouter
from cbamhub.vault.signing import OrganisationKey
from gateway_hub import Hub

from cbamhub.cli import main


def _key_file(directory: Path, name: str, key: OrganisationKey | None = None) -> str:
    path = directory / name
    path.write_text((key or OrganisationKey.generate()).to_text() + "\n")
    return str(path)


async def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run `cbamhub ARGS` in this process (the hub serves from its own thread)."""
    code = await asyncio.to_thread(main, list(args))
    out, err = capsys.readouterr()
    return code, out, err


async def _listed(
    capsys: pytest.CaptureFixture[str], hub: Hub, key_file: str
) -> list[dict[str, Any]]:
    code, out, err = await _cli(capsys, "key", "list", *_common(hub, key_file), "--json")
    assert code == 0, err
    listed: list[dict[str, Any]] = json.loads(out)
    return listed


def _common(hub: Hub, key_file: str) -> list[str]:
    return ["--organisation", hub.manufacturer, "--key", key_file, "--url", f"{hub.url}/graphql"]


async def test_rotation_ends_the_current_key_and_the_new_one_signs(
    hub: Hub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    current = _key_file(tmp_path, "current.key", hub.key)
    new_key = OrganisationKey.generate()
    new = _key_file(tmp_path, "new.key", new_key)

    code, out, err = await _cli(
        capsys, "key", "add", *_common(hub, current), "--new", new, "--ends-current"
    )
    assert code == 0, err
    assert f"added key {new_key.key_id}" in out and f"key {hub.key.key_id} signs nothing" in out

    listed = {k["keyId"]: k for k in await _listed(capsys, hub, new)}
    assert listed[new_key.key_id]["state"] == "valid" and listed[new_key.key_id]["signing"]
    assert listed[hub.key.key_id]["state"] == "ended"
    assert listed[hub.key.key_id]["validUntil"] == listed[new_key.key_id]["validFrom"]
    code, out, err = await _cli(capsys, "key", "list", *_common(hub, new))
    table = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert table[new_key.key_id][1] == "valid" and out.count("(this key)") == 1
    assert table[hub.key.key_id][1] == "ended" and "(this key)" in " ".join(table[new_key.key_id])

    # the ended key authorises nothing more: its requests are refused (checked keys are cached 1 s)
    for _ in range(30):
        code, out, err = await _cli(capsys, "key", "list", *_common(hub, current))
        if code != 0:
            break
        await asyncio.sleep(0.2)
    assert code == 1 and "UNAUTHENTICATED" in err


async def test_add_then_revoke_an_older_key_from_a_past_instant(
    hub: Hub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _key_file(tmp_path, "first.key", hub.key)
    second_key = OrganisationKey.generate()
    second = _key_file(tmp_path, "second.key", second_key)
    code, out, err = await _cli(capsys, "key", "add", *_common(hub, first), "--new", second)
    assert code == 0, err
    assert "signs nothing" not in out  # no rotation: both keys stay valid

    leaked_at = datetime.now(UTC) - timedelta(seconds=1)
    code, out, err = await _cli(
        capsys,
        "key",
        "revoke",
        *_common(hub, second),
        "--key-id",
        hub.key.key_id,
        "--at",
        leaked_at.isoformat(),
        "--reason",
        "laptop lost",
    )
    assert code == 0, err
    assert f"revoked key {hub.key.key_id}" in out

    listed = {k["keyId"]: k for k in await _listed(capsys, hub, second)}
    assert listed[hub.key.key_id]["state"] == "revoked"
    revoked_at = datetime.fromisoformat(listed[hub.key.key_id]["revokedAt"])
    assert abs(revoked_at - leaked_at) < timedelta(milliseconds=1)
    assert listed[second_key.key_id]["state"] == "valid"

    # revoking it again is refused by the hub, with its code
    code, out, err = await _cli(
        capsys, "key", "revoke", *_common(hub, second), "--key-id", hub.key.key_id
    )
    assert code == 1 and "DUPLICATE_SUBMISSION" in err and "already revoked" in err


async def test_another_organisations_key_is_refused_and_adds_nothing(
    hub: Hub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stranger = _key_file(tmp_path, "stranger.key")
    new = _key_file(tmp_path, "new.key")
    code, out, err = await _cli(capsys, "key", "add", *_common(hub, stranger), "--new", new)
    assert code == 1 and "UNAUTHENTICATED" in err and out == ""
    own = _key_file(tmp_path, "own.key", hub.key)
    assert [k["keyId"] for k in await _listed(capsys, hub, own)] == [hub.key.key_id]


async def test_usage_errors_exit_2_before_anything_is_sent(
    hub: Hub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    own = _key_file(tmp_path, "own.key", hub.key)
    new = _key_file(tmp_path, "new.key")
    cases = [
        (["revoke", *_common(hub, own), "--key-id", hub.key.key_id], "cannot revoke itself"),
        (["add", *_common(hub, own), "--new", own], "same key"),
        (["add", *_common(hub, own), "--new", str(tmp_path / "missing.key")], "cannot read"),
        (["add", *_common(hub, own), "--new", new, "--valid-from", "tomorrow"], "not an ISO"),
        (
            ["revoke", *_common(hub, new), "--key-id", hub.key.key_id, "--at", "2026-01-01T10:00"],
            "needs a UTC offset",
        ),
        (
            [
                "list",
                "--organisation",
                hub.manufacturer,
                "--key",
                own,
                "--url",
                "http://127.0.0.1:9",
            ],
            "cannot reach",
        ),
    ]
    for args, message in cases:
        code, _, err = await _cli(capsys, "key", *args)
        assert code == 2 and message in err, (args, err)
    assert [k["keyId"] for k in await _listed(capsys, hub, own)] == [hub.key.key_id]


async def test_the_installed_command_adds_a_key_with_its_proof_of_possession(
    hub: Hub, tmp_path: Path
) -> None:
    """The `cbamhub` entry point end to end, and the key the hub registered is the one whose
    private half the command was given."""
    new_key = OrganisationKey.generate()
    own, new = _key_file(tmp_path, "own.key", hub.key), _key_file(tmp_path, "new.key", new_key)
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cbamhub.cli", "key", "add", *_common(hub, own), "--new", new],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    router = await ShardRouter.open(hub.settings)
    try:
        found = await identities.get_organisation(router, hub.manufacturer)
    finally:
        await router.close()
    added = next(k for k in found.keys if k.key_id == new_key.key_id)
    assert added.public_key == new_key.public_key


async def test_a_key_that_starts_later_is_listed_pending_and_cannot_sign_yet(
    hub: Hub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    own = _key_file(tmp_path, "own.key", hub.key)
    later_key = OrganisationKey.generate()
    later = _key_file(tmp_path, "later.key", later_key)
    starts = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    code, out, err = await _cli(
        capsys,
        "key",
        "add",
        *_common(hub, own),
        "--new",
        later,
        "--ends-current",
        "--valid-from",
        starts.isoformat(),
    )
    assert code == 0, err
    assert f"key {hub.key.key_id} signs nothing dated from" in out
    listed = {k["keyId"]: k for k in await _listed(capsys, hub, own)}
    assert listed[later_key.key_id]["state"] == "pending"
    assert listed[hub.key.key_id]["state"] == "valid"  # until the new key starts
    assert datetime.fromisoformat(listed[hub.key.key_id]["validUntil"]) == starts
    code, _, err = await _cli(capsys, "key", "list", *_common(hub, later))
    assert code == 1 and "UNAUTHENTICATED" in err
