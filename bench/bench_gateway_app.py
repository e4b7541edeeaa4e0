"""The two ASGI apps bench/bench_gateway.py serves with uvicorn (2 workers each), as factories that
uvicorn imports in every worker:

    uvicorn --factory --app-dir bench bench_gateway_app:create_app_from_env   # the hub
    uvicorn --factory --app-dir bench bench_gateway_app:create_floor_app      # the floor

`create_app_from_env` is the real hub, configured only through `cbamhub.settings.Settings` from the
environment (CBAMHUB_*); both workers must share CBAMHUB_AUTH_TOKEN_SECRET so a token issued by one
is accepted by the other. `create_floor_app` is the least a strawberry server can do for the same
answer shape: a query returning 10 constant records with their inclusion proofs, with strawberry's
parser and validation caches, no middleware, no authentication, no database.
"""

from __future__ import annotations

import strawberry
from cbamhub.gateway.app import create_app
from starlette.types import ASGIApp
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache

from cbamhub.settings import Settings


def create_app_from_env() -> ASGIApp:
    """The hub exactly as `cbamhub serve` builds it, settings from CBAMHUB_* variables."""
    return create_app(Settings())


@strawberry.type
class FloorProof:
    leaf_index: int
    tree_size: int
    hashes: list[str]
    entry: str
    salt: str | None
    checkpoint: str
    final: bool


@strawberry.type
class FloorRecord:
    id: strawberry.ID
    region: str
    status: str | None
    cn_code: str
    period_start: str
    period_end: str
    see_direct: float | None
    see_indirect: float | None
    data_quality_tier: str | None
    visible_fields: list[str] | None
    inclusion_proof: FloorProof


@strawberry.type
class FloorEdge:
    cursor: str
    node: FloorRecord


@strawberry.type
class FloorPageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class FloorConnection:
    edges: list[FloorEdge]
    page_info: FloorPageInfo


def _constant_record(i: int) -> FloorRecord:
    """Sizes like the hub's answer: a 20-deep audit path of base64 SHA-256 hashes, a checkpoint."""
    return FloorRecord(
        id=strawberry.ID(f"rec_row_{i:026d}"),
        region="row",
        status="published",
        cn_code="72081000",
        period_start="2026-01-01T00:00:00Z",
        period_end="2026-12-31T23:59:59Z",
        see_direct=1.9 + i / 100,
        see_indirect=0.31,
        data_quality_tier="measured",
        visible_fields=["data_quality_tier", "direct_emissions", "indirect_emissions"],
        inclusion_proof=FloorProof(
            leaf_index=i,
            tree_size=1_000_000,
            hashes=[f"{j:043d}=" for j in range(20)],
            entry="e" * 120,
            salt=None,
            checkpoint="cbam-data-hub.local/log/row\n1000000\n" + "r" * 44 + "\n\n— sig\n",
            final=False,
        ),
    )


@strawberry.type
class FloorQuery:
    @strawberry.field
    def records(self, first: int = 10) -> FloorConnection:
        edges = [FloorEdge(cursor=f"c{i}", node=_constant_record(i)) for i in range(first)]
        return FloorConnection(
            edges=edges, page_info=FloorPageInfo(has_next_page=True, end_cursor=edges[-1].cursor)
        )


def create_floor_app() -> ASGIApp:
    schema = strawberry.Schema(
        query=FloorQuery,
        extensions=[lambda: ParserCache(maxsize=1024), lambda: ValidationCache(maxsize=1024)],
    )
    return GraphQL(schema, graphql_ide=None)


def serve_floor(settings: Settings, debug: bool) -> None:
    """A `gateway.serving.Supervisor` target: the floor on the hub's worker sockets (SO_REUSEPORT,
    TCP_NODELAY), for a like-for-like row beside the floor the issue defines."""

    import uvicorn
    from cbamhub.gateway.serving import listening_socket

    sock = listening_socket(settings.host, settings.port)
    config = uvicorn.Config(create_floor_app(), log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])  # the loop the hub's workers run on


def main() -> int:
    """python bench/bench_gateway_app.py PORT WORKERS DATA_DIR: the floor under the hub's serving."""
    import sys
    from pathlib import Path

    from cbamhub.gateway.serving import serve

    port, workers, data_dir = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    settings = Settings(
        port=port,
        data_dir=data_dir,
        regions={"row": f"sqlite+aiosqlite:///{data_dir / 'row.db'}"},
        country_regions={},
        default_region="row",
        create_missing_keys=True,
    )
    return serve(settings, workers, target=serve_floor)


if __name__ == "__main__":
    raise SystemExit(main())
