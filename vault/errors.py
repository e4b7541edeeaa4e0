"""Typed errors of the vault. Each carries a stable code that both front doors map to their own
error vocabulary (GraphQL `extensions.code`, gRPC status, CLI exit code)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class VaultError(Exception):
    code = "INTERNAL"

    def __init__(self, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = dict(details or {})


class BadInput(VaultError):
    """The input does not meet the schema; `details["problems"]` lists each (field, reason)."""

    code = "BAD_USER_INPUT"


class InvalidSignature(VaultError):
    code = "INVALID_SIGNATURE"


class UnknownKey(VaultError):
    code = "UNKNOWN_KEY"


class DuplicateSubmission(VaultError):
    """The same signed payload was already published: nothing new is written."""

    code = "DUPLICATE_SUBMISSION"


class Forbidden(VaultError):
    """The organisation may not do this (its role, or the object is another organisation's)."""

    code = "FORBIDDEN"


class NotFound(VaultError):
    code = "NOT_FOUND"


class UnknownRegion(VaultError):
    code = "UNKNOWN_REGION"


class InvalidTransition(VaultError):
    """The record's lifecycle does not allow this change from its current status (e.g. attesting a
    verified record, editing one instead of superseding it): nothing is written."""

    code = "INVALID_TRANSITION"
