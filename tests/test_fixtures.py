"""Tests of the shared fixtures in tests/conftest.py."""

from __future__ import annotations

import socket
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

# Names of the fresh PostgreSQL databases handed out, to check they are dropped afterwards.
_POSTGRES_DATABASES_SEEN: list[str] = []
# Base URLs served by serve_asgi, to check the servers are stopped after their test.
_SERVED_URLS: list[str] = []


async def test_database_url_answers_select_1(
    database_url: str, request: pytest.FixtureRequest
) -> None:
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        assert url.drivername == "postgresql+asyncpg"
        assert url.database and url.database.startswith("test_")
        assert url.host
        assert request.node.get_closest_marker("postgres") is not None
    else:
        assert url.drivername == "sqlite+aiosqlite"
        assert url.database and url.database.endswith("shard.db")
        assert request.node.get_closest_marker("postgres") is None

    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("select 1"))).scalar_one() == 1
    finally:
        await engine.dispose()


@pytest.mark.parametrize("round_", [1, 2])
async def test_each_test_gets_an_empty_database(database_url: str, round_: int) -> None:
    """Both rounds find no table, then create one: the second round proves isolation."""
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                _POSTGRES_DATABASES_SEEN.append(make_url(database_url).database or "")
                tables = (
                    (
                        await conn.execute(
                            text("select tablename from pg_tables where schemaname = 'public'")
                        )
                    )
                    .scalars()
                    .all()
                )
            else:
                tables = (
                    (
                        await conn.execute(
                            text("select name from sqlite_master where type = 'table'")
                        )
                    )
                    .scalars()
                    .all()
                )
            assert tables == [], f"round {round_}: database not empty: {tables}"

            await conn.execute(
                text("create table isolation_probe (id integer primary key, note text)")
            )
            await conn.execute(
                text("insert into isolation_probe (id, note) values (:id, :note)"),
                {"id": round_, "note": f"round {round_}"},
            )
        async with engine.connect() as conn:
            rows = (await conn.execute(text("select id, note from isolation_probe"))).all()
            assert rows == [(round_, f"round {round_}")]
    finally:
        # An engine left open on purpose would be fine too: the database is dropped WITH (FORCE).
        await engine.dispose()


async def test_postgres_databases_are_dropped_after_each_test(
    postgres_url: str,
) -> None:
    import asyncpg  # type: ignore[import-untyped]

    seen = [name for name in _POSTGRES_DATABASES_SEEN if name]
    if not seen:
        pytest.skip("no PostgreSQL database was handed out earlier in this run")
    assert len(set(seen)) == len(seen), "two tests got the same database"
    dsn = make_url(postgres_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        left = await conn.fetch(
            "select datname from pg_database where datname = any($1::text[])", seen
        )
    finally:
        await conn.close()
    assert [r["datname"] for r in left] == []


async def test_postgres_database_url_is_a_fresh_database(
    postgres_database_url: str, request: pytest.FixtureRequest
) -> None:
    assert request.node.get_closest_marker("postgres") is not None  # added by conftest
    engine = create_async_engine(postgres_database_url)
    try:
        async with engine.connect() as conn:
            name = (await conn.execute(text("select current_database()"))).scalar_one()
            assert name == make_url(postgres_database_url).database
            assert name.startswith("test_")
    finally:
        await engine.dispose()


def test_free_port_is_bindable_on_loopback(free_port: int) -> None:
    assert 0 < free_port < 65536
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", free_port))


def _starlette_app(name: str) -> Starlette:
    async def ping(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"pong from {name}")

    async def echo(request: Request) -> JSONResponse:
        return JSONResponse({"name": name, "body": (await request.body()).decode()})

    return Starlette(routes=[Route("/ping", ping), Route("/echo", echo, methods=["POST"])])


async def test_serve_asgi_serves_a_starlette_app(
    serve_asgi: Callable[..., str],
) -> None:
    base_url = serve_asgi(_starlette_app("a"))
    assert base_url.startswith("http://127.0.0.1:")
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        r = await client.get("/ping")
        assert r.status_code == 200
        assert r.text == "pong from a"
        r = await client.post("/echo", content=b"hello")
        assert r.json() == {"name": "a", "body": "hello"}
        assert (await client.get("/missing")).status_code == 404


def test_serve_asgi_runs_several_servers_and_stops_them(
    serve_asgi: Callable[..., str],
) -> None:
    url_a = serve_asgi(_starlette_app("a"))
    url_b = serve_asgi(_starlette_app("b"))
    assert url_a != url_b
    assert httpx.get(f"{url_a}/ping", timeout=10).text == "pong from a"
    assert httpx.get(f"{url_b}/ping", timeout=10).text == "pong from b"
    _SERVED_URLS.extend([url_a, url_b])


def test_serve_asgi_servers_are_gone_after_their_test() -> None:
    if not _SERVED_URLS:
        pytest.skip("the previous test did not run")
    for url in _SERVED_URLS:
        port = int(url.rsplit(":", 1)[1])
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
