"""A policy engine that cannot answer means deny: PolicyUnavailable with a clear message."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cbamhub.policies import (
    Authorizer,
    OpaRestEngine,
    PolicyLoadError,
    PolicyUnavailable,
    RegoEngine,
)
from cbamhub.policies.bundle import installed_bundle_dir, load_bundle
from cbamhub.policies.opa_compatible import create_opa_compatible_app
from policy_cases import BASE_GRANT, IMPORTER_EU, NOW, RECORD_CN, grant_set
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route


def _answering(answer: Callable[[Request], Any]) -> Starlette:
    """An HTTP server that answers every data query with `answer(request)` (fault injection)."""

    async def data(request: Request) -> Response:
        result = answer(request)
        if asyncio.iscoroutine(result):
            result = await result
        if isinstance(result, Response):
            return result
        return JSONResponse(result)

    async def health(request: Request) -> Response:
        return JSONResponse({})

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/v1/data/{path:path}", data, methods=["GET", "POST"]),
        ]
    )


async def _read(authorizer: Authorizer) -> Any:
    return await authorizer.read_record(IMPORTER_EU, RECORD_CN, grant_set(BASE_GRANT), now=NOW)


async def test_engine_down_denies_with_a_clear_error(free_port: int) -> None:
    authorizer = Authorizer(OpaRestEngine(f"http://127.0.0.1:{free_port}", timeout_seconds=1))
    with pytest.raises(PolicyUnavailable, match=r"policy engine failed on cbamhub/authz/read"):
        await _read(authorizer)
    assert await authorizer.ready() is False
    await authorizer.aclose()


async def test_a_slow_engine_is_cut_off_at_the_timeout(serve_asgi: Callable[..., str]) -> None:
    async def slow(request: Request) -> Any:
        await asyncio.sleep(5)
        return {"result": {"allow": True, "fields": None, "reason": "too late"}}

    url = serve_asgi(_answering(slow))
    authorizer = Authorizer(OpaRestEngine(url, timeout_seconds=30), timeout_seconds=0.3)
    started = time.perf_counter()
    with pytest.raises(PolicyUnavailable, match=r"no answer on cbamhub/authz/read within 0.3 s"):
        await _read(authorizer)
    assert time.perf_counter() - started < 2
    await authorizer.aclose()


@pytest.mark.parametrize(
    "answer",
    [
        {"result": {"allow": "yes", "fields": None, "reason": "string, not a boolean"}},
        {"result": {"allow": True, "fields": None}},
        {"result": {"allow": True, "fields": None, "reason": "x", "extra": 1}},
        {"result": {"allow": True, "fields": "everything", "reason": "x"}},
        {"result": True},
        {"result": [1, 2]},
        {},
        [],
    ],
    ids=[
        "non-bool",
        "no-reason",
        "extra-key",
        "fields-str",
        "bare-true",
        "list",
        "undefined",
        "top-list",
    ],
)
async def test_a_malformed_answer_denies(serve_asgi: Callable[..., str], answer: Any) -> None:
    url = serve_asgi(_answering(lambda request: answer))
    authorizer = Authorizer(OpaRestEngine(url, timeout_seconds=5))
    with pytest.raises(PolicyUnavailable, match="denied"):
        await _read(authorizer)
    await authorizer.aclose()


async def test_a_non_json_answer_or_server_error_denies(serve_asgi: Callable[..., str]) -> None:
    for response in (
        PlainTextResponse("allow: true"),
        JSONResponse({"code": "internal_error", "message": "boom"}, status_code=500),
    ):
        url = serve_asgi(_answering(lambda request, r=response: r))
        authorizer = Authorizer(OpaRestEngine(url, timeout_seconds=5))
        with pytest.raises(PolicyUnavailable, match="denied"):
            await _read(authorizer)
        await authorizer.aclose()


async def test_a_malformed_scope_list_denies(serve_asgi: Callable[..., str]) -> None:
    url = serve_asgi(_answering(lambda request: {"result": [{"region": "eu"}]}))
    authorizer = Authorizer(OpaRestEngine(url, timeout_seconds=5))
    with pytest.raises(PolicyUnavailable, match="malformed scope"):
        await authorizer.scopes(IMPORTER_EU, grant_set(BASE_GRANT), now=NOW)
    await authorizer.aclose()


async def test_a_closed_embedded_engine_denies() -> None:
    engine = RegoEngine.from_dir()
    authorizer = Authorizer(engine)
    assert await authorizer.ready() is True
    await authorizer.aclose()
    with pytest.raises(PolicyUnavailable, match="closed"):
        await _read(authorizer)
    assert await authorizer.ready() is False


def _bundle_copy(tmp_path: Path) -> Path:
    target = tmp_path / "bundle"
    shutil.copytree(
        installed_bundle_dir(), target, ignore=shutil.ignore_patterns("*.py", "__pycache__")
    )
    return target


def test_a_syntax_error_fails_the_load_naming_file_and_line(tmp_path: Path) -> None:
    bundle = _bundle_copy(tmp_path)
    source = (bundle / "grants.rego").read_text()
    (bundle / "grants.rego").write_text(source + "\nbroken_rule if {\n\tinput.x ==\n")
    line = source.count("\n") + 2
    with pytest.raises(PolicyLoadError, match=rf"grants\.rego:{line}: .*unclosed"):
        RegoEngine.from_dir(bundle)
    with pytest.raises(PolicyLoadError, match=r"grants\.rego"):
        create_opa_compatible_app(bundle)


def test_unreadable_data_or_an_empty_folder_fails_the_load(tmp_path: Path) -> None:
    bundle = _bundle_copy(tmp_path)
    (bundle / "data" / "regions.json").write_text("{not json")
    with pytest.raises(PolicyLoadError, match=r"regions\.json: unreadable policy data"):
        load_bundle(bundle)
    with pytest.raises(PolicyLoadError, match="has no .rego policy"):
        load_bundle(tmp_path)


async def test_the_rest_path_refuses_a_broken_policy_and_keeps_deciding(
    opa_compatible_url: str,
) -> None:
    engine = OpaRestEngine(opa_compatible_url, timeout_seconds=5)
    broken = load_bundle()
    module = broken.modules[0]
    bad = type(broken)(
        broken.root, (type(module)(module.name, module.source + "\nx if {\n"),), broken.data
    )
    with pytest.raises(PolicyLoadError, match=rf"refused {module.name}"):
        await engine.push_bundle(bad)
    decision = await Authorizer(engine).read_record(
        IMPORTER_EU, RECORD_CN, grant_set(BASE_GRANT), now=NOW
    )
    assert decision.allow is True
    await engine.aclose()


async def test_an_undefined_decision_is_not_an_allow(tmp_path: Path) -> None:
    """A bundle whose read rule is missing gives no decision: denied, saying so."""
    bundle = _bundle_copy(tmp_path)
    source = (bundle / "authz.rego").read_text()
    start = source.index("read := d if {")
    end = source.index("customs_check := d if {")
    (bundle / "authz.rego").write_text(source[:start] + source[end:])
    authorizer = Authorizer(RegoEngine.from_dir(bundle))
    with pytest.raises(PolicyUnavailable, match="gave no decision"):
        await _read(authorizer)
    # the other entry points of the same bundle still answer
    assert await authorizer.scopes(IMPORTER_EU, grant_set(BASE_GRANT), now=NOW) != ()
