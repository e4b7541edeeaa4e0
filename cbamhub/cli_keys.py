"""`cbamhub key add|revoke|list`: an organisation changes its own signing keys at a hub.

Every document is signed on the organisation's machine with its own keys (the hub never sees a
private key) and sent in a request signed per RFC 9421 by the same current key
(`cbamhub.client.SignedRequests`). A key addition is signed twice: by the current key, which carries
the organisation's authority, and by the new key, which proves it is held (decision 90).

Exit codes as for every `cbamhub` command: 0 done, 1 the hub refused (its code and reason are
printed), 2 bad usage, an unreadable key file or an unreachable hub.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from datetime import UTC, datetime
from typing import Any

from cbamhub.cli import EXIT_FAILED, EXIT_OK, CliError, _load_key, hub_answer

ADD_KEY = """mutation($input: SignedDocumentInput!, $pop: String) {
  addKey(input: $input, proofOfPossession: $pop) { keyId validFrom validUntil revokedAt }
}"""
REVOKE_KEY = """mutation($input: SignedDocumentInput!) {
  revokeKey(input: $input) { keyId validFrom validUntil revokedAt }
}"""
LIST_KEYS = """query($id: ID!) {
  organisation(id: $id) { id legalName keys { keyId publicKey validFrom validUntil revokedAt } }
}"""


def _instant(text: str | None, option: str) -> str | None:
    """An RFC 3339 instant with its offset, normalised to UTC; a naive time is ambiguous."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise CliError(f"{option} {text!r} is not an ISO 8601 time") from None
    if value.tzinfo is None:
        raise CliError(f"{option} {text!r} needs a UTC offset, e.g. 2026-01-31T12:00:00Z")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _signed_input(key: Any, document: dict[str, Any]) -> dict[str, str]:
    signed = key.sign_document(document)
    return {
        "payload": signed.payload.decode(),
        "signature": base64.b64encode(signed.signature).decode(),
        "keyId": signed.key_id,
    }


def _call(args: argparse.Namespace, key: Any, query: str, variables: dict[str, Any]) -> Any:
    """POST one GraphQL operation signed as the organisation with `key`; the `data`, or None after
    printing the hub's refusal."""
    import httpx

    from cbamhub.client import SignedRequests

    auth = SignedRequests(args.organisation, key)
    try:
        response = httpx.post(
            args.url, json={"query": query, "variables": variables}, timeout=30, auth=auth
        )
    except httpx.HTTPError as error:
        raise CliError(f"cannot reach {args.url}: {error}") from error
    body = hub_answer(response, args.url)
    if body.get("errors"):
        for problem in body["errors"]:
            extensions = problem.get("extensions") or {}
            print(f"{extensions.get('code', 'ERROR')}: {problem['message']}", file=sys.stderr)
            for item in extensions.get("problems") or []:
                print(f"  {item.get('field')}: {item.get('reason')}", file=sys.stderr)
        return None
    return body.get("data")


def cmd_key_add(args: argparse.Namespace) -> int:
    current, new = _load_key(args.key), _load_key(args.new)
    if new.key_id == current.key_id:
        raise CliError("--new is the same key as --key: generate one with `cbamhub keygen`")
    document: dict[str, Any] = {
        "action": "key.add",
        "organisation": args.organisation,
        "public_key": new.public_key.hex(),
    }
    valid_from = _instant(args.valid_from, "--valid-from")
    if valid_from is not None:
        document["valid_from"] = valid_from
    if args.ends_current:
        document["ends_key"] = current.key_id
    proof = base64.b64encode(new.sign_document(document).signature).decode()
    data = _call(args, current, ADD_KEY, {"input": _signed_input(current, document), "pop": proof})
    if data is None:
        return EXIT_FAILED
    added = data["addKey"]
    print(f"added key {added['keyId']} to {args.organisation}, valid from {added['validFrom']}")
    if args.ends_current:
        print(
            f"key {current.key_id} signs nothing dated from {added['validFrom']} on; "
            f"sign with {args.new} from then"
        )
    return EXIT_OK


def cmd_key_revoke(args: argparse.Namespace) -> int:
    key = _load_key(args.key)
    if args.key_id == key.key_id:
        raise CliError(
            "a key cannot revoke itself: sign with another valid key of the organisation (--key)"
        )
    document: dict[str, Any] = {
        "action": "key.revoke",
        "organisation": args.organisation,
        "key_id": args.key_id,
    }
    revoked_at = _instant(args.at, "--at")
    if revoked_at is not None:
        document["revoked_at"] = revoked_at
    if args.reason:
        document["reason"] = args.reason
    data = _call(args, key, REVOKE_KEY, {"input": _signed_input(key, document)})
    if data is None:
        return EXIT_FAILED
    revoked = data["revokeKey"]
    print(
        f"revoked key {revoked['keyId']} of {args.organisation} from {revoked['revokedAt']}: "
        "signatures dated from then on are refused, earlier ones stay valid"
    )
    return EXIT_OK


def _state(key: dict[str, Any], now: datetime) -> str:
    def at(name: str) -> datetime | None:
        text = key.get(name)
        return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None

    revoked, until, start = at("revokedAt"), at("validUntil"), at("validFrom")
    if revoked is not None and revoked <= now:
        return "revoked"
    if until is not None and until <= now:
        return "ended"
    if start is not None and start > now:
        return "pending"
    return "valid"


def cmd_key_list(args: argparse.Namespace) -> int:
    key = _load_key(args.key)
    data = _call(args, key, LIST_KEYS, {"id": args.organisation})
    if data is None:
        return EXIT_FAILED
    keys: list[dict[str, Any]] = data["organisation"]["keys"]
    now = datetime.now(UTC)
    listed = [{**k, "state": _state(k, now), "signing": k["keyId"] == key.key_id} for k in keys]
    if args.json:
        print(json.dumps(listed, indent=2))
        return EXIT_OK
    print(f"{'key id':<32}  {'state':<8}  {'valid from':<27}  {'until':<27}  revoked")
    for k in listed:
        mark = "  (this key)" if k["signing"] else ""
        print(
            f"{k['keyId']:<32}  {k['state']:<8}  {k['validFrom'] or '-':<27}  "
            f"{k['validUntil'] or '-':<27}  {k['revokedAt'] or '-'}{mark}"
        )
    return EXIT_OK


def register(subparsers: Any) -> None:
    key = subparsers.add_parser(
        "key", help="add (rotate), revoke or list your organisation's signing keys at a hub"
    )
    actions = key.add_subparsers(dest="key_action", required=True)

    def command(name: str, text: str, key_help: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = actions.add_parser(name, help=text, description=text)
        parser.add_argument("--organisation", required=True, help="your organisation id")
        parser.add_argument("--key", required=True, help=key_help)
        parser.add_argument("--url", default="http://127.0.0.1:8000/graphql")
        return parser

    add = command(
        "add",
        "add a key, signed by a current key and by the new key (proof of possession)",
        "a current key file of the organisation (authorises the change)",
    )
    add.add_argument("--new", required=True, help="the new key file (from `cbamhub keygen`)")
    add.add_argument(
        "--ends-current",
        action="store_true",
        help="rotation: the current key stops signing when the new key starts",
    )
    add.add_argument("--valid-from", help="when the new key starts (RFC 3339; default: now)")
    add.set_defaults(func=cmd_key_add)

    revoke = command(
        "revoke",
        "revoke a key, signed by another valid key of the organisation",
        "another valid key file of the organisation (a key cannot revoke itself)",
    )
    revoke.add_argument("--key-id", required=True, help="id of the key to revoke")
    revoke.add_argument(
        "--at", help="revoked from (RFC 3339; may be in the past, e.g. when it leaked; default now)"
    )
    revoke.add_argument("--reason", help="recorded with the revocation")
    revoke.set_defaults(func=cmd_key_revoke)

    listing = command("list", "list the organisation's keys and their validity", "a valid key file")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(func=cmd_key_list)
