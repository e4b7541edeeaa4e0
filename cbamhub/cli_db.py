"""`cbamhub db`: the shards' schema migrations, for operators (the hub also upgrades at start).

    cbamhub db upgrade [--region R] [--revision REV]   migrate every shard (or one) to head
    cbamhub db current [--region R]                    each shard's revision; exit 1 if one is behind
    cbamhub db check [--region R]                      exit 1 if a shard's schema differs from the code

Regions and their URLs come from `Settings().region_urls()` (CBAMHUB_REGIONS__<R>=URL or the config
file). Output is one `region<TAB>revision` line per shard, for scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _shards(region: str | None) -> dict[str, str] | None:
    from cbamhub.settings import Settings

    urls = Settings().region_urls()
    if region is None:
        return urls
    if region not in urls:
        print(
            f"cbamhub: no shard for region {region!r} (configured: {', '.join(urls)})",
            file=sys.stderr,
        )
        return None
    return {region: urls[region]}


def cmd_upgrade(args: argparse.Namespace) -> int:
    from cbamhub.vault.migrate import upgrade_shard

    shards = _shards(args.region)
    if shards is None:
        return EXIT_USAGE

    async def run() -> None:
        # One shard after the other: a failure names its region and leaves the others as they were.
        for region, url in shards.items():
            revision = await upgrade_shard(url, args.revision)
            print(f"{region}\t{revision or 'base'}", flush=True)

    asyncio.run(run())
    return EXIT_OK


def cmd_current(args: argparse.Namespace) -> int:
    from cbamhub.vault.migrate import current_revision, head_revision

    shards = _shards(args.region)
    if shards is None:
        return EXIT_USAGE
    head = head_revision()

    async def run() -> dict[str, str | None]:
        return {region: await current_revision(url) for region, url in shards.items()}

    revisions = asyncio.run(run())
    for region, revision in revisions.items():
        print(f"{region}\t{revision or 'none'}")
    behind = [region for region, revision in revisions.items() if revision != head]
    if behind:
        print(f"cbamhub: not at head {head}: {', '.join(behind)}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from cbamhub.vault.migrate import schema_drift

    shards = _shards(args.region)
    if shards is None:
        return EXIT_USAGE

    async def run() -> dict[str, list[Any]]:
        return {region: await schema_drift(url) for region, url in shards.items()}

    code = EXIT_OK
    for region, diff in asyncio.run(run()).items():
        print(f"{region}\t{'ok' if not diff else f'{len(diff)} difference(s)'}")
        for change in diff:
            print(f"  {change}", file=sys.stderr)
        if diff:
            code = EXIT_FAILED
    return code


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `db` to the `cbamhub` command's subparsers (`top.add_subparsers(...)` in cli.py)."""
    db = subparsers.add_parser("db", help="the region shards' schema migrations")
    actions = db.add_subparsers(dest="db_command", required=True)

    upgrade = actions.add_parser("upgrade", help="migrate every shard (or --region) to head")
    upgrade.add_argument("--region", help="only this region's shard")
    upgrade.add_argument("--revision", default="head", help="target revision (default: head)")
    upgrade.set_defaults(func=cmd_upgrade)

    current = actions.add_parser("current", help="each shard's schema revision")
    current.add_argument("--region", help="only this region's shard")
    current.set_defaults(func=cmd_current)

    check = actions.add_parser("check", help="compare each shard's schema with the code")
    check.add_argument("--region", help="only this region's shard")
    check.set_defaults(func=cmd_check)
