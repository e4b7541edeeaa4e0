"""`cbamhub`: run the hub, manage keys, sign and publish records, verify evidence offline.

Exit codes: 0 success, 1 verification failed or the hub refused, 2 bad usage or unreadable input.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def _read(path: str) -> str:
    try:
        return sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}") from error


def _json(path: str) -> Any:
    try:
        return json.loads(_read(path))
    except json.JSONDecodeError as error:
        raise CliError(f"{path} is not JSON: {error}") from error


def _witness_policy(path: str | None, threshold: int | None) -> Any:
    if path is None:
        return None
    from cbamhub.ledger.cosign import BlsPublicKey, WitnessPolicy
    from cbamhub.ledger.verify import VerificationError

    raw = _json(path)
    try:
        keys = {
            w["name"]: BlsPublicKey(
                bytes.fromhex(w["bls_public_key"]), bytes.fromhex(w["bls_proof_of_possession"])
            )
            for w in raw
        }
        return WitnessPolicy(keys, threshold if threshold is not None else len(keys))
    except (KeyError, TypeError, ValueError, VerificationError) as error:
        raise CliError(f"{path}: not a list of witnesses with BLS keys: {error}") from error


def cmd_verify(args: argparse.Namespace) -> int:
    from cbamhub.ledger.evidence import load_evidence, verify_evidence
    from cbamhub.ledger.verify import VerificationError

    policy = _witness_policy(args.witnesses, args.threshold)
    text = _read(args.evidence)
    try:
        report = verify_evidence(load_evidence(text), args.log_key, policy)
    except VerificationError as error:
        print(f"NOT VERIFIED: {error}", file=sys.stderr)
        return EXIT_FAILED
    witnessed = f", cosigned by {', '.join(report.witnesses)}" if report.witnesses else ""
    print(
        f"OK: {report.statement.kind.value} {dict(report.statement.subject)} is entry "
        f"of {report.origin} at tree size {report.tree_size}{witnessed}"
    )
    return EXIT_OK


def cmd_verify_checkpoint(args: argparse.Namespace) -> int:
    from cbamhub.ledger.checkpoint import verify_checkpoint
    from cbamhub.ledger.evidence import verify_witnessed
    from cbamhub.ledger.verify import VerificationError

    policy = _witness_policy(args.witnesses, args.threshold)
    try:
        signed = verify_checkpoint(_read(args.checkpoint), args.log_key)
        if policy is not None:
            verify_witnessed(signed, policy)
    except VerificationError as error:
        print(f"NOT VERIFIED: {error}", file=sys.stderr)
        return EXIT_FAILED
    cp = signed.checkpoint
    print(
        f"OK: checkpoint of {cp.origin} at size {cp.size}, root {base64.b64encode(cp.root).decode()}"
    )
    return EXIT_OK


def cmd_keygen(args: argparse.Namespace) -> int:
    from cbamhub.vault.signing import OrganisationKey

    key = OrganisationKey.generate()
    out = Path(args.out)
    if out.exists():
        raise CliError(f"{out} exists; refusing to overwrite a private key")
    out.write_text(key.to_text() + "\n")
    out.chmod(0o600)
    print(json.dumps({"key_id": key.key_id, "public_key": key.public_key.hex()}))
    return EXIT_OK


def _load_key(path: str) -> Any:
    from cbamhub.vault.signing import OrganisationKey

    try:
        return OrganisationKey.from_text(_read(path))
    except ValueError as error:
        raise CliError(f"{path} is not an organisation key: {error}") from error


def _signed_input(args: argparse.Namespace, document: Any = None) -> dict[str, str]:
    signed = _load_key(args.key).sign_document(_json(args.record) if document is None else document)
    return {
        "payload": signed.payload.decode(),
        "signature": base64.b64encode(signed.signature).decode(),
        "keyId": signed.key_id,
    }


def cmd_sign(args: argparse.Namespace) -> int:
    print(json.dumps(_signed_input(args)))
    return EXIT_OK


PUBLISH = """mutation($input: SignedRecordInput!) {
  publishRecord(input: $input) { recordId region leafIndex treeSize checkpoint }
}"""


def request_signer(organisation: str | None, key_path: str, fallback: str | None) -> Any:
    """Request signing (RFC 9421) as the organisation, with its key; the organisation defaults to
    the one the records name."""
    from cbamhub.client import SignedRequests

    organisation = organisation or os.environ.get("CBAMHUB_ORGANISATION") or fallback
    if not organisation:
        raise CliError("name the organisation the requests are signed for: --organisation ORG_ID")
    return SignedRequests(organisation, _load_key(key_path))


def hub_answer(response: Any, url: str) -> dict[str, Any]:
    """The JSON body of a hub answer; a clear CliError when it is not one (401, 429, proxy page)."""
    try:
        body: dict[str, Any] = response.json()
    except ValueError:
        raise CliError(f"{url} answered HTTP {response.status_code}, not GraphQL JSON") from None
    return body


def cmd_publish(args: argparse.Namespace) -> int:
    import httpx

    document = _json(args.record)
    variables = {"input": _signed_input(args, document)}
    fallback = document.get("manufacturer_id") if isinstance(document, dict) else None
    auth = request_signer(args.organisation, args.key, fallback)
    try:
        response = httpx.post(
            args.url, json={"query": PUBLISH, "variables": variables}, timeout=30, auth=auth
        )
    except httpx.HTTPError as error:
        raise CliError(f"cannot reach {args.url}: {error}") from error
    body = hub_answer(response, args.url)
    if body.get("errors"):
        for problem in body["errors"]:
            code = problem.get("extensions", {}).get("code", "ERROR")
            print(f"{code}: {problem['message']}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(body["data"]["publishRecord"], indent=2))
    return EXIT_OK


def cmd_token(args: argparse.Namespace) -> int:
    """A bearer token from a hub, obtained with one request signed by the organisation's key."""
    import httpx

    auth = request_signer(args.organisation, args.key, None)
    url = f"{args.url.rstrip('/')}/auth/token"
    try:
        response = httpx.post(url, auth=auth, timeout=30)
    except httpx.HTTPError as error:
        raise CliError(f"cannot reach {url}: {error}") from error
    body = hub_answer(response, url)
    if response.status_code != 200:
        problem = body.get("errors", [{}])[0]
        raise CliError(
            f"{problem.get('extensions', {}).get('code', response.status_code)}: "
            f"{problem.get('message', response.text)}",
            code=EXIT_FAILED,
        )
    print(json.dumps(body, indent=2))
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    if args.demo:
        from cbamhub.demo import run_demo

        asyncio.run(run_demo(Path(args.data_dir), args.host or "127.0.0.1", args.port or 8000))
        return EXIT_OK
    from cbamhub.gateway.serving import serve, serve_worker
    from cbamhub.settings import Settings

    given = {"host": args.host, "port": args.port, "workers": args.workers}
    try:
        settings = Settings().with_overrides(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as error:
        raise CliError(f"invalid settings: {error}", code=EXIT_USAGE) from None
    if settings.workers > 1:
        return serve(settings, settings.workers, debug=args.debug)
    serve_worker(settings, args.debug)  # one process: the same socket and start-up as a worker
    return EXIT_OK


def cmd_keys(args: argparse.Namespace) -> int:
    from cbamhub.settings import Settings
    from cbamhub.vault.shards import load_log_signer

    settings = Settings().with_overrides(create_missing_keys=args.action == "init")
    for region in settings.region_urls():
        signer = load_log_signer(settings, region)
        print(f"{region}\t{signer.vkey()}")
    return EXIT_OK


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="cbamhub", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)

    serve = sub.add_parser(
        "serve", help="run the hub (settings from CBAMHUB_* / CBAMHUB_CONFIG_FILE)"
    )
    serve.add_argument(
        "--demo", action="store_true", help="embedded demo with witnesses and sample data"
    )
    serve.add_argument("--data-dir", default="var/demo", help="demo data directory")
    serve.add_argument("--host", help="listen address (default: settings, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default: settings, 8000)")
    serve.add_argument(
        "--workers",
        type=int,
        help="gateway processes, each with its own SO_REUSEPORT socket (default: settings, 1)",
    )
    serve.add_argument("--debug", action="store_true", help="GraphiQL and tracebacks")
    serve.set_defaults(func=cmd_serve)

    keys = sub.add_parser("keys", help="the regions' log signing keys")
    keys.add_argument("action", choices=["init", "show"])
    keys.set_defaults(func=cmd_keys)

    keygen = sub.add_parser(
        "keygen", help="generate an organisation's Ed25519 signing key (kept by you)"
    )
    keygen.add_argument("--out", required=True)
    keygen.set_defaults(func=cmd_keygen)

    for name, func, text in (
        ("sign", cmd_sign, "sign a record JSON file; prints the publishRecord input"),
        ("publish", cmd_publish, "sign a record and publish it to a hub"),
    ):
        command = sub.add_parser(name, help=text)
        command.add_argument("record", help="record JSON file, or - for stdin")
        command.add_argument("--key", required=True, help="organisation key file")
        if name == "publish":
            command.add_argument("--url", default="http://127.0.0.1:8000/graphql")
            command.add_argument(
                "--organisation",
                help="organisation id the request is signed for (default: the record's "
                "manufacturer_id, or $CBAMHUB_ORGANISATION)",
            )
        command.set_defaults(func=func)

    token = sub.add_parser(
        "token", help="obtain a bearer token from a hub with a request signed by your key"
    )
    token.add_argument("--url", default="http://127.0.0.1:8000", help="the hub's base URL")
    token.add_argument("--organisation", help="your organisation id (or $CBAMHUB_ORGANISATION)")
    token.add_argument("--key", required=True, help="organisation key file")
    token.set_defaults(func=cmd_token)

    verify = sub.add_parser("verify", help="verify a record's evidence offline")
    verify.add_argument("evidence", help="evidence JSON (the `evidence` field of a record), or -")
    verify.add_argument("--log-key", required=True, help="the region log's verifier key (vkey)")
    verify.add_argument(
        "--witnesses", help="JSON list of witnesses (name, bls_public_key, bls_proof_of_possession)"
    )
    verify.add_argument(
        "--threshold", type=int, help="cosignatures required (default: all witnesses)"
    )
    verify.set_defaults(func=cmd_verify)

    checkpoint = sub.add_parser(
        "verify-checkpoint", help="verify a checkpoint's signatures offline"
    )
    checkpoint.add_argument("checkpoint", help="signed checkpoint note file, or -")
    checkpoint.add_argument("--log-key", required=True)
    checkpoint.add_argument("--witnesses")
    checkpoint.add_argument("--threshold", type=int)
    checkpoint.set_defaults(func=cmd_verify_checkpoint)

    from cbamhub import cli_anomaly, cli_db, cli_declare, cli_grpc, cli_import, cli_keys

    cli_anomaly.register(sub)
    cli_db.register(sub)
    cli_declare.register(sub)
    cli_grpc.register(sub)
    cli_import.register(sub)
    cli_keys.register(sub)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except CliError as error:
        print(f"cbamhub: {error}", file=sys.stderr)
        return error.code
    return code


if __name__ == "__main__":
    sys.exit(main())
