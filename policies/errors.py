"""Typed errors of the policy layer, with stable codes the front doors map (like vault/errors.py).

Only `PolicyUnavailable` reaches callers of the `Authorizer`: whatever went wrong inside an engine, the
answer to the request is "no decision, so deny".
"""

from __future__ import annotations


class PolicyError(Exception):
    code = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PolicyLoadError(PolicyError):
    """The policy bundle cannot be read or does not compile; names the file and line when known."""

    code = "POLICY_LOAD_FAILED"


class PolicyEngineError(PolicyError):
    """An engine failed to evaluate: unreachable, refused, crashed or answered nonsense."""

    code = "POLICY_ENGINE_FAILED"


class PolicyUnavailable(PolicyError):
    """No decision could be made in time: the request is denied (fail closed)."""

    code = "POLICY_UNAVAILABLE"
