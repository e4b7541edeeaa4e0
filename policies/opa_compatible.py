"""A stand-in for the OPA server: the subset of OPA's REST API that opa-python-client uses, backed
by regopy and serving the same policy bundle.

No package on these machines ships the OPA binary, so CI exercises the OPA path against this.
Implemented: GET /health; POST and GET /v1/data/{path} ({"input": ...} -> {"result": ...}, or {}
when undefined); PUT /v1/data/{path} (replace a data document); GET /v1/policies,
GET/PUT/DELETE /v1/policies/{id} (a policy that does not compile is refused with 400 and the old
policies stay, as OPA does). Not implemented: bundles, decision logs, partial evaluation (/v1/compile),
query parameters such as explain or metrics.

    python -m cbamhub.policies.opa_compatible --port 8181 [--host 127.0.0.1] [--bundle-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .bundle import PolicyBundle, PolicyModule, load_bundle
from .errors import PolicyEngineError, PolicyLoadError
from .rego_runtime import RegoRuntime


class _Served:
    """The bundle being served and its compiled runtime; every change recompiles (milliseconds)."""

    def __init__(self, bundle: PolicyBundle) -> None:
        self.root = bundle.root
        self.modules = {m.name: m.source for m in bundle.modules}
        self.data = bundle.merged_data()
        self.runtime = RegoRuntime(bundle)
        self.lock = asyncio.Lock()

    def compiled(self, modules: dict[str, str], data: dict[str, Any]) -> RegoRuntime:
        bundle = PolicyBundle(
            self.root,
            tuple(PolicyModule(n, s) for n, s in sorted(modules.items())),
            (("data", data),),
        )
        return RegoRuntime(bundle)


def _error(status: int, code: str, message: str, errors: Sequence[dict[str, Any]] = ()) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if errors:
        body["errors"] = list(errors)
    return JSONResponse(body, status_code=status)


def _served(request: Request) -> _Served:
    served: _Served = request.app.state.served
    return served


async def health(request: Request) -> Response:
    return JSONResponse({})


async def query_data(request: Request) -> Response:
    path = request.path_params["path"].strip("/")
    input_document: Any = None
    if request.method == "POST":
        raw = await request.body()
        if raw.strip():
            try:
                body = json.loads(raw)
            except json.JSONDecodeError as exc:
                return _error(400, "invalid_parameter", f"body is not JSON: {exc}")
            if not isinstance(body, dict):
                return _error(400, "invalid_parameter", "body must be an object with an input key")
            input_document = body.get("input")
    served = _served(request)
    try:
        result = served.runtime.evaluate(path, input_document)
    except PolicyEngineError as exc:
        return _error(500, "internal_error", exc.message)
    return JSONResponse({} if result is None else {"result": result})


async def put_data(request: Request) -> Response:
    path = [p for p in request.path_params["path"].split("/") if p]
    try:
        value = json.loads(await request.body())
    except json.JSONDecodeError as exc:
        return _error(400, "invalid_parameter", f"body is not JSON: {exc}")
    served = _served(request)
    async with served.lock:
        data = json.loads(json.dumps(served.data))
        if not path:
            if not isinstance(value, dict):
                return _error(400, "invalid_parameter", "the root document must be an object")
            data = value
        else:
            node = data
            for key in path[:-1]:
                node = node.setdefault(key, {})
                if not isinstance(node, dict):
                    return _error(400, "invalid_parameter", f"/{'/'.join(path)} crosses a value")
            node[path[-1]] = value
        try:
            served.runtime = served.compiled(served.modules, data)
        except PolicyLoadError as exc:
            return _error(400, "invalid_parameter", exc.message)
        served.data = data
    return Response(status_code=204)


async def list_policies(request: Request) -> Response:
    modules = _served(request).modules
    return JSONResponse({"result": [{"id": n, "raw": s} for n, s in sorted(modules.items())]})


async def policy(request: Request) -> Response:
    policy_id = request.path_params["policy_id"]
    served = _served(request)
    if request.method == "GET":
        if policy_id not in served.modules:
            return _error(
                404, "resource_not_found", f"storage_not_found_error: policy id {policy_id!r}"
            )
        return JSONResponse({"result": {"id": policy_id, "raw": served.modules[policy_id]}})
    async with served.lock:
        modules = dict(served.modules)
        if request.method == "DELETE":
            if modules.pop(policy_id, None) is None:
                return _error(404, "resource_not_found", f"policy id {policy_id!r}")
        else:
            modules[policy_id] = (await request.body()).decode("utf-8", errors="replace")
        try:
            runtime = served.compiled(modules, served.data)
        except PolicyLoadError as exc:
            return _error(
                400,
                "invalid_parameter",
                "error(s) occurred while compiling module(s)",
                [{"code": "rego_parse_error", "message": exc.message}],
            )
        served.modules, served.runtime = modules, runtime
    return JSONResponse({})


def create_opa_compatible_app(bundle_dir: Path | None = None) -> Starlette:
    """The app serving `bundle_dir` (default: the installed policies). A bundle that does not
    compile raises PolicyLoadError here, as `opa run` refuses to start on one."""
    app = Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/v1/data/{path:path}", query_data, methods=["GET", "POST"]),
            Route("/v1/data/{path:path}", put_data, methods=["PUT"]),
            Route("/v1/policies", list_policies, methods=["GET"]),
            Route("/v1/policies/", list_policies, methods=["GET"]),
            Route("/v1/policies/{policy_id:path}", policy, methods=["GET", "PUT", "DELETE"]),
        ]
    )
    app.state.served = _Served(load_bundle(bundle_dir))
    return app


def main(argv: Sequence[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="OPA-REST-compatible policy server (regopy)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8181)
    parser.add_argument("--bundle-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    uvicorn.run(create_opa_compatible_app(args.bundle_dir), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
