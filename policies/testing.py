"""The Rego test suite (`test_*` rules of *_test.rego), run on both engines.

    python -m cbamhub.policies.testing [--bundle-dir DIR] [--opa-url URL]

Runs every test on the embedded engine and on the REST path: against --opa-url if given (the test
modules are uploaded with PUT /v1/policies), else against an OPA-compatible server started here on
a free port. Prints PASS/FAIL per test and engine; exits 1 if any test fails on either engine.
(`opa test` would do this on a real OPA binary, which no package here ships.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .bundle import PolicyBundle, load_bundle
from .engine import PolicyEngine
from .opa_rest_engine import OpaRestEngine
from .rego_engine import RegoEngine

_PACKAGE = re.compile(r"^package\s+([A-Za-z_][\w.]*)", re.MULTILINE)
_TEST_RULE = re.compile(r"^(test_\w+)\b", re.MULTILINE)


@dataclass(frozen=True)
class PolicyTest:
    module: str
    package: str
    rule: str

    @property
    def path(self) -> str:
        return f"{self.package.replace('.', '/')}/{self.rule}"


@dataclass(frozen=True)
class TestOutcome:
    test: PolicyTest
    passed: bool
    detail: str


def discover(bundle: PolicyBundle) -> tuple[PolicyTest, ...]:
    """Each distinct `test_*` rule at the start of a line of a *_test.rego module."""
    found = []
    for module in bundle.modules:
        if not module.is_test:
            continue
        package = _PACKAGE.search(module.source)
        if package is None:
            continue
        for rule in dict.fromkeys(_TEST_RULE.findall(module.source)):
            found.append(PolicyTest(module.name, package.group(1), rule))
    return tuple(found)


async def run_tests(engine: PolicyEngine, tests: Sequence[PolicyTest]) -> list[TestOutcome]:
    """A test passes when its rule is true; undefined, false or an error is a failure."""
    outcomes = []
    for test in tests:
        try:
            value = await engine.evaluate(test.path, {})
        except Exception as exc:
            outcomes.append(TestOutcome(test, False, f"error: {exc}"))
            continue
        detail = "" if value is True else ("undefined" if value is None else f"= {value!r}")
        outcomes.append(TestOutcome(test, value is True, detail))
    return outcomes


@contextlib.asynccontextmanager
async def opa_compatible_server(bundle_dir: Path | None) -> AsyncIterator[str]:
    """An OPA-compatible server on a free loopback port, for as long as the context lasts."""
    import uvicorn

    from .opa_compatible import create_opa_compatible_app

    config = uvicorn.Config(
        create_opa_compatible_app(bundle_dir), host="127.0.0.1", port=0, log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the OPA-compatible server stopped before it started")
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def run_both(bundle_dir: Path | None, opa_url: str | None) -> dict[str, list[TestOutcome]]:
    bundle = load_bundle(bundle_dir, include_tests=True)
    tests = discover(bundle)
    results = {}
    embedded = RegoEngine(bundle)
    results["embedded"] = await run_tests(embedded, tests)
    await embedded.aclose()
    async with contextlib.AsyncExitStack() as stack:
        url: str = (
            opa_url
            if opa_url is not None
            else await stack.enter_async_context(opa_compatible_server(bundle_dir))
        )
        rest = OpaRestEngine(url, timeout_seconds=10)
        stack.push_async_callback(rest.aclose)
        await rest.push_bundle(bundle)
        results[f"rest {url}"] = await run_tests(rest, tests)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="run the Rego policy tests on both engines")
    parser.add_argument("--bundle-dir", type=Path, default=None)
    parser.add_argument("--opa-url", default=None, help="a running OPA (default: start one here)")
    args = parser.parse_args(argv)
    results = asyncio.run(run_both(args.bundle_dir, args.opa_url))
    failed = 0
    for engine, outcomes in results.items():
        for outcome in outcomes:
            status = "PASS" if outcome.passed else "FAIL"
            failed += not outcome.passed
            detail = f"  ({outcome.detail})" if outcome.detail else ""
            print(f"{status} [{engine}] {outcome.test.module} {outcome.test.rule}{detail}")
    total = sum(len(o) for o in results.values())
    print(f"{total - failed} passed, {failed} failed ({len(results)} engines)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
