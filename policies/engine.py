"""The one interface both policy engines implement."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class PolicyEngine(Protocol):
    """Evaluates a rule of the loaded bundle. `path` is OPA's REST form ("cbamhub/authz/read");
    the answer is the rule's JSON value, None when undefined. Failures raise (PolicyEngineError or
    anything else): the Authorizer above treats every failure as a denial."""

    async def evaluate(self, path: str, input: Mapping[str, Any]) -> Any: ...

    async def ready(self) -> bool: ...

    async def aclose(self) -> None: ...
