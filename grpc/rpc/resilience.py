"""How the hub calls an external system: a deadline on every call, retries with exponential backoff
for idempotent calls only, and a circuit breaker per adapter.

WHY: a registry or customs system that is down must not hold the hub's own callers (its threads of
work are their deadlines), and a storm of retries must not keep a struggling system down. A call
that is not idempotent (a submission) is tried once: a timeout does not say it was not received.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import grpc

from cbamhub.settings import Settings

from .status import RpcError

_T = TypeVar("_T")

RETRYABLE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
    }
)
"""Statuses that say "try again later"; anything else is the answer."""

BREAKING = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)
"""Statuses that count against the system's health (a refusal of a bad request does not)."""


@dataclass(frozen=True)
class CallPolicy:
    deadline_seconds: float
    attempts: int
    backoff_base_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> CallPolicy:
        return cls(
            settings.external_deadline_seconds,
            settings.external_retry_attempts,
            settings.external_retry_base_seconds,
        )

    def backoff(self, retry: int, rand: Callable[[], float] = random.random) -> float:
        """Full jitter: uniform in [0, base * 2**retry)."""
        return float(rand() * self.backoff_base_seconds * (2**retry))


class CircuitBreaker:
    """Closed -> open after `failures` consecutive failures; after `reset_seconds` one trial call
    is let through (half-open): its success closes the circuit, its failure opens it again."""

    def __init__(
        self,
        name: str,
        failures: int,
        reset_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._threshold = failures
        self._reset = reset_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self._reset:
            return "half-open"
        return "open"

    def before_call(self) -> None:
        state = self.state
        if state == "open" or (state == "half-open" and self._trial_running):
            raise RpcError(
                grpc.StatusCode.UNAVAILABLE,
                f"{self.name} is unavailable (circuit open after {self._failures} failures); "
                "not called",
            )
        if state == "half-open":
            self._trial_running = True

    def succeeded(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_running = False

    def failed(self) -> None:
        self._failures += 1
        self._trial_running = False
        if self._opened_at is not None or self._failures >= self._threshold:
            self._opened_at = self._clock()


async def call_external(
    breaker: CircuitBreaker,
    policy: CallPolicy,
    call: Callable[[float], Awaitable[_T]],
    *,
    idempotent: bool,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> _T:
    """Run `call(timeout)` under the breaker; retry retryable failures only if `idempotent`.

    Failures leave as RpcError naming the system: UNAVAILABLE and DEADLINE_EXCEEDED as such, any
    other status of the system as it came."""
    attempts = policy.attempts if idempotent else 1
    for attempt in range(attempts):
        breaker.before_call()
        try:
            result = await call(policy.deadline_seconds)
        except grpc.aio.AioRpcError as error:
            status = error.code()
            if status in BREAKING:
                breaker.failed()
            else:
                breaker.succeeded()  # the system answered: it is up
            if status in RETRYABLE and attempt + 1 < attempts:
                await sleep(policy.backoff(attempt))
                continue
            raise RpcError(status, f"{breaker.name}: {error.details() or status.name}") from error
        breaker.succeeded()
        return result
    raise AssertionError("unreachable")  # pragma: no cover
