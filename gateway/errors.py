"""Vault errors as GraphQL errors with a stable `extensions.code`."""

from __future__ import annotations

from cbamhub.ledger.log import LogError
from cbamhub.vault.errors import VaultError
from graphql import GraphQLError


def graphql_error(error: Exception) -> GraphQLError:
    if isinstance(error, VaultError):
        return GraphQLError(error.message, extensions={"code": error.code, **error.details})
    if isinstance(error, LogError):
        return GraphQLError(str(error), extensions={"code": "BAD_USER_INPUT"})
    raise error
