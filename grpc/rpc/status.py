"""One mapping from the hub's typed errors to gRPC status codes, so both RPC services answer alike.

The vault's errors carry stable codes (vault/errors.py) that each front door maps to its own
vocabulary; this is the gRPC one. Codes are matched by name, not class, so an error added to the
vault later maps as soon as its code is listed here, and an unknown code is INTERNAL, never OK.
"""

from __future__ import annotations

from typing import NoReturn

import grpc

_BY_CODE: dict[str, grpc.StatusCode] = {
    "BAD_USER_INPUT": grpc.StatusCode.INVALID_ARGUMENT,
    "UNKNOWN_REGION": grpc.StatusCode.INVALID_ARGUMENT,
    "NOT_FOUND": grpc.StatusCode.NOT_FOUND,
    "FORBIDDEN": grpc.StatusCode.PERMISSION_DENIED,
    "PERMISSION_DENIED": grpc.StatusCode.PERMISSION_DENIED,
    "INVALID_SIGNATURE": grpc.StatusCode.UNAUTHENTICATED,
    "UNKNOWN_KEY": grpc.StatusCode.UNAUTHENTICATED,
    "UNAUTHENTICATED": grpc.StatusCode.UNAUTHENTICATED,
    "NOT_VERIFIED": grpc.StatusCode.FAILED_PRECONDITION,
    "INVALID_TRANSITION": grpc.StatusCode.FAILED_PRECONDITION,
    "FAILED_PRECONDITION": grpc.StatusCode.FAILED_PRECONDITION,
    "DUPLICATE_SUBMISSION": grpc.StatusCode.ALREADY_EXISTS,
    "POLICY_UNAVAILABLE": grpc.StatusCode.UNAVAILABLE,  # fail closed: denied, retry later
    "POLICY_ENGINE_FAILED": grpc.StatusCode.UNAVAILABLE,
    "POLICY_LOAD_FAILED": grpc.StatusCode.UNAVAILABLE,
    "UNAVAILABLE": grpc.StatusCode.UNAVAILABLE,
    "DEADLINE_EXCEEDED": grpc.StatusCode.DEADLINE_EXCEEDED,
}


class RpcError(Exception):
    """An error the RPC layer raises itself, with the status it must end the call with."""

    def __init__(self, status: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def status_of(error: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status and message a failed call ends with; anything unrecognised is INTERNAL."""
    if isinstance(error, RpcError):
        return error.status, error.message
    if isinstance(error, TimeoutError):
        return grpc.StatusCode.DEADLINE_EXCEEDED, "the call ran past its deadline"
    code = getattr(error, "code", None)
    if isinstance(code, str) and code in _BY_CODE:
        message = getattr(error, "message", None)
        return _BY_CODE[code], str(message) if message else str(error)
    if type(error).__name__ == "PolicyUnavailable":  # cbamhub.policies: fail closed, retryable
        return grpc.StatusCode.UNAVAILABLE, f"the policy engine is unavailable: {error}"
    return grpc.StatusCode.INTERNAL, f"internal error ({type(error).__name__})"


def line_code(error: BaseException) -> tuple[int, str]:
    """A streamed line's own failure as (google.rpc.Code number, message)."""
    status, message = status_of(error)
    number: int = status.value[0]
    return number, message


async def abort(
    context: grpc.aio.ServicerContext[object, object], error: BaseException
) -> NoReturn:
    status, message = status_of(error)
    await context.abort(status, message)
    raise AssertionError("unreachable: ServicerContext.abort raises")  # pragma: no cover
