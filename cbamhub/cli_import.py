"""`cbamhub import`: a manufacturer's bulk upload, signed on its own machine.

The file (CSV, JSON Lines or a Catena-X CBAM KIT response message) is parsed whole first: one bad row
rejects the file with every problem listed and nothing is sent. Then each record is signed locally and
the batch is sent to the hub's `publishRecords` mutation, which is atomic per call; a file larger than
one batch goes in several, and re-running the same import is harmless because replays are idempotent.
`--signed-out` writes the signed records as JSON Lines instead (for the `uploadSignedRecords` mutation
or an air-gapped hand-over).
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path
from typing import Any

from cbamhub.cli import EXIT_FAILED, EXIT_OK, CliError, _load_key, hub_answer, request_signer

PUBLISH_MANY = """mutation($input: [SignedRecordInput!]!) {
  publishRecords(input: $input) { recordId region leafIndex replayed }
}"""


def _parse(path: Path, fmt: str, manufacturer: str | None) -> list[Any]:
    from cbamhub.vault.formats.catenax import parse_response
    from cbamhub.vault.formats.csvfile import parse_csv
    from cbamhub.vault.formats.jsonl import parse_jsonl

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CliError(f"cannot read {path}: {error}") from error
    if fmt == "auto":
        fmt = {".csv": "csv", ".jsonl": "jsonl", ".json": "catenax"}.get(path.suffix.lower(), "")
        if not fmt:
            raise CliError(f"cannot tell the format of {path}: use --format csv|jsonl|catenax")
    if fmt == "csv":
        batch = parse_csv(text.splitlines())
    elif fmt == "jsonl":
        batch = parse_jsonl(text.splitlines())
    else:
        batch = parse_response(text)
    if batch.problems:
        for problem in batch.problems:
            print(f"{problem.location}: {problem.field}: {problem.reason}", file=sys.stderr)
        raise CliError(
            f"{path}: {len(batch.problems)} problem(s); nothing was sent", code=EXIT_FAILED
        )
    records = list(batch.records)
    if manufacturer is not None:
        records = [r.model_copy(update={"manufacturer_id": manufacturer}) for r in records]
    missing = [i for i, r in enumerate(records) if r.manufacturer_id is None]
    if missing:
        raise CliError(f"{len(missing)} record(s) name no manufacturer: pass --manufacturer ORG_ID")
    return records


def _progress(done: int, total: int) -> None:
    width = 30
    filled = width * done // max(total, 1)
    print(
        f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} records",
        end="",
        file=sys.stderr,
    )
    if done == total:
        print(file=sys.stderr)


def cmd_import(args: argparse.Namespace) -> int:
    import httpx

    from cbamhub.vault.formats.signed import sign_batch, write_signed_jsonl

    records = _parse(Path(args.file), args.format, args.manufacturer)
    signed = sign_batch(records, _load_key(args.key))
    if args.signed_out:
        Path(args.signed_out).write_text("".join(write_signed_jsonl(signed)))
        print(f"{len(signed)} signed records written to {args.signed_out}")
        return EXIT_OK
    manufacturers = {r.manufacturer_id for r in records}
    auth = request_signer(
        args.organisation, args.key, manufacturers.pop() if len(manufacturers) == 1 else None
    )
    summary: dict[str, Any] = {"published": 0, "replayed": 0, "regions": {}}
    _progress(0, len(signed))
    with httpx.Client(timeout=300, auth=auth) as client:
        for start in range(0, len(signed), args.batch_size):
            chunk = signed[start : start + args.batch_size]
            variables = {
                "input": [
                    {
                        "payload": s.payload.decode(),
                        "signature": base64.b64encode(s.signature).decode(),
                        "keyId": s.key_id,
                    }
                    for s in chunk
                ]
            }
            try:
                response = client.post(
                    args.url, json={"query": PUBLISH_MANY, "variables": variables}
                )
            except httpx.HTTPError as error:
                raise CliError(f"cannot reach {args.url}: {error}") from error
            body = hub_answer(response, args.url)
            if body.get("errors"):
                print(file=sys.stderr)
                for problem in body["errors"]:
                    code = problem.get("extensions", {}).get("code", "ERROR")
                    print(f"{code}: {problem['message']}", file=sys.stderr)
                    for p in problem.get("extensions", {}).get("problems", []):
                        row = start + int(p.get("row", 0)) + 1
                        print(
                            f"  record {row}: {p.get('field')}: {p.get('reason')}", file=sys.stderr
                        )
                print(f"records 1..{start} were published; re-run to complete", file=sys.stderr)
                return EXIT_FAILED
            for item in body["data"]["publishRecords"]:
                summary["replayed" if item["replayed"] else "published"] += 1
                summary["regions"][item["region"]] = summary["regions"].get(item["region"], 0) + 1
            _progress(start + len(chunk), len(signed))
    print(json.dumps(summary))
    return EXIT_OK


def register(subparsers: Any) -> None:
    command = subparsers.add_parser(
        "import", help="sign a CSV / JSON Lines / Catena-X file of records and publish it"
    )
    command.add_argument("file")
    command.add_argument("--key", required=True, help="organisation key file (kept by you)")
    command.add_argument("--format", choices=["auto", "csv", "jsonl", "catenax"], default="auto")
    command.add_argument("--manufacturer", help="the organisation id to set on every record")
    command.add_argument("--url", default="http://127.0.0.1:8000/graphql")
    command.add_argument(
        "--organisation",
        help="organisation id the requests are signed for (default: the records' manufacturer)",
    )
    command.add_argument("--batch-size", type=int, default=10_000, help="records per atomic call")
    command.add_argument("--signed-out", help="write signed JSON Lines here instead of publishing")
    command.set_defaults(func=cmd_import)
