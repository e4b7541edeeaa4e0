"""The embedded engine: the policy bundle compiled in process by regopy (rego-cpp).

Decisions run on the event loop: a decision takes ~0.2-0.5 ms and handing it to a thread costs
more than it frees (measured in bench/bench_policy.py, docs/decisions/0041).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .bundle import PolicyBundle, load_bundle
from .errors import PolicyEngineError
from .rego_runtime import RegoRuntime


class RegoEngine:
    def __init__(self, bundle: PolicyBundle) -> None:
        self._runtime: RegoRuntime | None = RegoRuntime(bundle)

    @classmethod
    def from_dir(cls, bundle_dir: Path | None = None) -> RegoEngine:
        """Loads and compiles the bundle now: a broken policy fails here, before serving."""
        return cls(load_bundle(bundle_dir))

    async def evaluate(self, path: str, input: Mapping[str, Any]) -> Any:
        if self._runtime is None:
            raise PolicyEngineError("the embedded policy engine is closed")
        return self._runtime.evaluate(path, input)

    async def ready(self) -> bool:
        try:
            return await self.evaluate("cbamhub/authz/ready", {}) is True
        except PolicyEngineError:
            return False

    async def aclose(self) -> None:
        self._runtime = None
