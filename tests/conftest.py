"""Shared fixtures of the CBAM Data Hub test suite.

PostgreSQL
    ``postgres_url``           session: the server URL from CBAMHUB_TEST_POSTGRES_URL
                               (``postgresql+asyncpg://user:pass@host:port/db``).
                               Missing -> the test FAILS, unless CBAMHUB_SKIP_POSTGRES=1,
                               which skips it loudly. ``bash scripts/test`` sets it up.
    ``postgres_database_url``  per test: a fresh, empty database ``test_<random>`` on that
                               server (CREATE DATABASE with asyncpg), dropped afterwards.
    ``database_url``           parametrised ["sqlite", "postgres"]: an SQLAlchemy async URL
                               of a fresh empty database, so a test using it runs on both
                               backends (``sqlite+aiosqlite:///<tmp_path>/shard.db`` or the
                               fresh PostgreSQL database above).
    Any test that uses a PostgreSQL fixture gets the ``postgres`` marker automatically, so
    ``-m "not postgres"`` deselects them.

Redis
    ``redis_url``   per test: CBAMHUB_TEST_REDIS_URL (``redis://127.0.0.1:PORT/0``), flushed before
                    the test. Missing -> the test FAILS, unless CBAMHUB_SKIP_REDIS=1, which skips it.
                    ``bash scripts/test`` starts a throwaway redis-server.

Servers
    ``free_port``   an unused TCP port on 127.0.0.1.
    ``serve_asgi``  ``serve_asgi(app) -> "http://127.0.0.1:PORT"``: runs the ASGI app under
                    real uvicorn in a background thread until the end of the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

POSTGRES_URL_ENV = "CBAMHUB_TEST_POSTGRES_URL"
SKIP_POSTGRES_ENV = "CBAMHUB_SKIP_POSTGRES"

# Fixtures that need the PostgreSQL server: tests using them get the `postgres` marker.
_POSTGRES_FIXTURES = {"postgres_url", "postgres_database_url"}


def _skip_postgres_requested() -> bool:
    return os.environ.get(SKIP_POSTGRES_ENV, "").strip().lower() in {
        "1",
        "true",
        "yes",
        "on",
    }


def _masked(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# ---------------------------------------------------------------------------
# pytest hooks
# ---------------------------------------------------------------------------


def pytest_report_header(config: pytest.Config) -> list[str]:
    url = os.environ.get(POSTGRES_URL_ENV)
    if url:
        return [f"postgres: {_masked(url)}"]
    if _skip_postgres_requested():
        return [
            "postgres: NONE -- CBAMHUB_SKIP_POSTGRES=1: ALL POSTGRESQL TESTS WILL BE SKIPPED",
        ]
    return [
        (
            f"postgres: NONE -- {POSTGRES_URL_ENV} is not set: PostgreSQL tests will FAIL "
            "(run the suite with `bash scripts/test`)"
        ),
    ]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        uses_postgres = _POSTGRES_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if uses_postgres and item.get_closest_marker("postgres") is None:
            item.add_marker(pytest.mark.postgres)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not os.environ.get(POSTGRES_URL_ENV) and _skip_postgres_requested():
        terminalreporter.write_sep(
            "!",
            "CBAMHUB_SKIP_POSTGRES=1: PostgreSQL tests were SKIPPED",
            red=True,
            bold=True,
        )


# ---------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------

REDIS_URL_ENV = "CBAMHUB_TEST_REDIS_URL"
SKIP_REDIS_ENV = "CBAMHUB_SKIP_REDIS"


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A real Redis server, emptied before the test (tests never share state through it)."""
    url = os.environ.get(REDIS_URL_ENV, "").strip()
    if not url:
        if os.environ.get(SKIP_REDIS_ENV, "").strip().lower() in {"1", "true", "yes", "on"}:
            pytest.skip(
                f"!!! REDIS TEST SKIPPED: {SKIP_REDIS_ENV}=1 and {REDIS_URL_ENV} is not set"
            )
        pytest.fail(
            f"{REDIS_URL_ENV} is not set: the tests need a real Redis server. Run the suite with "
            f"`bash scripts/test` (it starts one), or set {REDIS_URL_ENV}=redis://HOST:PORT/0.",
            pytrace=False,
        )
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    yield url


# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of the PostgreSQL server the tests may use (a role with CREATEDB)."""
    url = os.environ.get(POSTGRES_URL_ENV, "").strip()
    if url:
        return url
    if _skip_postgres_requested():
        pytest.skip(
            f"!!! POSTGRESQL TEST SKIPPED: {SKIP_POSTGRES_ENV}=1 and {POSTGRES_URL_ENV} "
            "is not set -- this run says NOTHING about PostgreSQL !!!"
        )
    pytest.fail(
        f"{POSTGRES_URL_ENV} is not set: the tests need a real PostgreSQL server. "
        "Run the suite with `bash scripts/test` (it starts one), or set "
        f"{POSTGRES_URL_ENV}=postgresql+asyncpg://USER:PASS@HOST:PORT/DB, or set "
        f"{SKIP_POSTGRES_ENV}=1 to skip the PostgreSQL tests locally.",
        pytrace=False,
    )


def _asyncpg_dsn(sqlalchemy_url: Any) -> str:
    """asyncpg wants a plain postgresql:// DSN, not SQLAlchemy's dialect+driver form."""
    dsn = sqlalchemy_url.set(drivername="postgresql").render_as_string(hide_password=False)
    return str(dsn)


@contextlib.asynccontextmanager
async def _fresh_database(server_url: str) -> AsyncIterator[str]:
    """Create an empty database on the server, yield its SQLAlchemy URL, drop it after."""
    import asyncpg  # type: ignore[import-untyped]
    from sqlalchemy.engine import make_url

    base = make_url(server_url)
    if base.get_backend_name() != "postgresql":
        raise ValueError(f"{POSTGRES_URL_ENV} must be a postgresql URL, got {_masked(server_url)}")
    name = f"test_{secrets.token_hex(8)}"
    admin_dsn = _asyncpg_dsn(base)

    conn = await asyncpg.connect(admin_dsn, timeout=30)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()

    try:
        yield base.set(drivername="postgresql+asyncpg", database=name).render_as_string(
            hide_password=False
        )
    finally:
        conn = await asyncpg.connect(admin_dsn, timeout=30)
        try:
            # WITH (FORCE) (PostgreSQL 13+) closes connections a test left open. It may not end an
            # autovacuum worker that is busy in the database (a non-superuser cannot signal it):
            # that worker finishes in moments, so try again rather than fail the test.
            for attempt in range(40):
                try:
                    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    break
                except asyncpg.exceptions.InsufficientPrivilegeError:
                    if attempt == 39:
                        raise
                    await asyncio.sleep(0.25)
        finally:
            await conn.close()


@pytest.fixture
async def postgres_database_url(postgres_url: str) -> AsyncIterator[str]:
    """A fresh empty PostgreSQL database for this test only (SQLAlchemy asyncpg URL)."""
    async with _fresh_database(postgres_url) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[str]:
    """SQLAlchemy async URL of a fresh empty database, once per backend."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'shard.db'}"
        return
    server_url = request.getfixturevalue("postgres_url")  # fails or skips when absent
    async with _fresh_database(server_url) as url:
        yield url


HUB_REGIONS = ("eu", "cn", "row")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def region_urls(
    request: pytest.FixtureRequest, tmp_path: Any
) -> AsyncIterator[dict[str, str]]:
    """One fresh database per hub region (eu, cn, row), once per backend."""
    if request.param == "sqlite":
        yield {r: f"sqlite+aiosqlite:///{tmp_path / f'shard-{r}.db'}" for r in HUB_REGIONS}
        return
    server_url = request.getfixturevalue("postgres_url")
    async with contextlib.AsyncExitStack() as stack:
        yield {r: await stack.enter_async_context(_fresh_database(server_url)) for r in HUB_REGIONS}


# ---------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------


def _unused_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the time of the call)."""
    return _unused_port()


class _ThreadedUvicorn:
    """One uvicorn server on an already bound loopback socket, in a daemon thread."""

    def __init__(self, app: Any, **config: Any) -> None:
        import uvicorn

        # IPPROTO_TCP so that asyncio sets TCP_NODELAY on accepted connections (else ~42 ms delayed ACKs)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.base_url = f"http://127.0.0.1:{self.port}"
        options: dict[str, Any] = {"log_level": "warning", "lifespan": "auto"}
        options.update(config)
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, **options)
        )
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=f"uvicorn-{self.port}", daemon=True)

    def _run(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        except BaseException as exc:
            self.error = exc

    def start(self, timeout: float = 15.0) -> str:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError(f"uvicorn exited during startup ({self.error!r})")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"uvicorn did not start within {timeout}s")
            time.sleep(0.01)
        # Started means listening; check that a TCP connection is really accepted.
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise TimeoutError(f"uvicorn on {self.base_url} accepts no connection")
                time.sleep(0.01)
        return self.base_url

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(timeout)
        self.sock.close()
        if self.thread.is_alive():
            raise RuntimeError(f"uvicorn on {self.base_url} did not shut down")


@pytest.fixture
def serve_asgi() -> Iterator[Callable[..., str]]:
    """``serve_asgi(app, **uvicorn_config) -> "http://127.0.0.1:PORT"``.

    Runs ``app`` under real uvicorn on 127.0.0.1 in a background thread, returns once it
    accepts connections, and shuts every server started this way down after the test.
    """
    servers: list[_ThreadedUvicorn] = []

    def serve(app: Any, **config: Any) -> str:
        server = _ThreadedUvicorn(app, **config)
        servers.append(server)
        return server.start()

    try:
        yield serve
    finally:
        errors = []
        for server in reversed(servers):
            try:
                server.stop()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]
