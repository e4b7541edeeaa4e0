"""Bulk ingest as a manufacturer does it: a CSV file signed locally by `cbamhub import` and published
atomically; a file with a bad row sends nothing; signed JSON Lines upload through a mutation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cbamhub.vault.formats.csvfile import write_csv
from cbamhub.vault.record_model import parse_record
from gateway_hub import Hub, count_rows

UPLOAD = """mutation($content: String!) { uploadSignedRecords(content: $content) { recordId region replayed } }"""


def csv_file(hub: Hub, tmp_path: Path, n: int) -> Path:
    records = [
        parse_record(
            hub.record(installation_country="DE" if i % 2 else "CN", see_direct=1 + i / 100)
        )
        for i in range(n)
    ]
    path = tmp_path / "records.csv"
    path.write_text("".join(write_csv(records)))
    return path


def cbamhub(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cbamhub.cli", *args], capture_output=True, text=True, timeout=120
    )


def key_file(hub: Hub, tmp_path: Path) -> Path:
    path = tmp_path / "org.key"
    path.write_text(hub.key.to_text())
    return path


async def test_a_csv_file_is_signed_locally_and_published_to_the_home_regions(
    hub: Hub, tmp_path: Path, region_urls: dict[str, str]
) -> None:
    path = csv_file(hub, tmp_path, 40)
    args = [
        "import",
        str(path),
        "--key",
        str(key_file(hub, tmp_path)),
        "--url",
        f"{hub.url}/graphql",
    ]
    done = cbamhub(*args, "--batch-size", "15")
    assert done.returncode == 0, done.stderr
    assert '"published": 40' in done.stdout
    assert "40/40 records" in done.stderr  # the progress bar reached the end
    assert await count_rows(region_urls["eu"], "records") == 20
    assert await count_rows(region_urls["cn"], "records") == 20

    again = cbamhub(*args)
    assert again.returncode == 0 and '"replayed": 40' in again.stdout
    assert await count_rows(region_urls["eu"], "records") == 20


async def test_a_file_with_a_bad_row_sends_nothing_and_lists_the_problems(
    hub: Hub, tmp_path: Path, region_urls: dict[str, str]
) -> None:
    path = csv_file(hub, tmp_path, 5)
    lines = path.read_text().splitlines()
    lines[3] = lines[3].replace("7208", "9999", 1)  # a CN code outside Annex I
    path.write_text("\n".join(lines) + "\n")
    result = cbamhub(
        "import", str(path), "--key", str(key_file(hub, tmp_path)), "--url", f"{hub.url}/graphql"
    )
    assert result.returncode == 1
    assert "row 4" in result.stderr and "nothing was sent" in result.stderr
    for url in region_urls.values():
        assert await count_rows(url, "records") == 0


async def test_signed_json_lines_upload_through_the_mutation(
    hub: Hub, tmp_path: Path, region_urls: dict[str, str]
) -> None:
    path = csv_file(hub, tmp_path, 6)
    out = tmp_path / "signed.jsonl"
    made = cbamhub(
        "import", str(path), "--key", str(key_file(hub, tmp_path)), "--signed-out", str(out)
    )
    assert made.returncode == 0, made.stderr
    body = await hub.gql(UPLOAD, content=out.read_text())
    assert "errors" not in body, body
    assert (
        sorted(p["region"] for p in body["data"]["uploadSignedRecords"]) == ["cn"] * 3 + ["eu"] * 3
    )

    broken = out.read_text().splitlines()
    broken[1] = broken[1][:-5]
    rejected = await hub.gql(UPLOAD, content="\n".join(broken))
    assert rejected["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert any(p["location"] == "line 2" for p in rejected["errors"][0]["extensions"]["problems"])
