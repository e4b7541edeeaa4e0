"""Both policy engines over the installed bundle: in process, and over REST against the
OPA-compatible server run by real uvicorn."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from cbamhub.policies import OpaRestEngine, PolicyEngine, RegoEngine
from cbamhub.policies.opa_compatible import create_opa_compatible_app


@pytest.fixture
async def rego_engine() -> AsyncIterator[RegoEngine]:
    engine = RegoEngine.from_dir()
    yield engine
    await engine.aclose()


@pytest.fixture
def opa_compatible_url(serve_asgi: Callable[..., str]) -> str:
    return serve_asgi(create_opa_compatible_app())


@pytest.fixture
async def rest_engine(opa_compatible_url: str) -> AsyncIterator[OpaRestEngine]:
    engine = OpaRestEngine(opa_compatible_url, timeout_seconds=5)
    yield engine
    await engine.aclose()


@pytest.fixture(params=["embedded", "rest"])
async def engine(
    request: pytest.FixtureRequest, rego_engine: RegoEngine, serve_asgi: Callable[..., str]
) -> AsyncIterator[PolicyEngine]:
    if request.param == "embedded":
        yield rego_engine
        return
    rest = OpaRestEngine(serve_asgi(create_opa_compatible_app()), timeout_seconds=5)
    yield rest
    await rest.aclose()
