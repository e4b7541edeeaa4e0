"""What a request without credentials may do: register an organisation, nothing else.

`registerOrganisation` proves possession of the new key by its own signature, so it needs no prior
identity; every other root field needs an authenticated caller. Checked once per operation on the
parsed document (fragments followed), before anything is resolved, and answered with 401 and
`extensions.code = UNAUTHENTICATED`. Resolvers still check the caller themselves (`caller_of`).
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import ExecutionResult, GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types import Info

from .authentication import Caller
from .operations import root_fields

PUBLIC_ROOT_FIELDS = frozenset({"registerOrganisation", "__typename"})
INTROSPECTION = frozenset({"__schema", "__type"})


def unauthenticated(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "UNAUTHENTICATED"})


def caller_of(info: Info) -> Caller:
    """The authenticated caller of a resolver; UNAUTHENTICATED if there is none."""
    caller: Caller | None = info.context.get("caller")
    if caller is None:
        raise unauthenticated("sign the request (RFC 9421) or send a bearer token")
    return caller


class AnonymousGuard(SchemaExtension):
    """Refuses an anonymous operation that selects any non-public root field (introspection is
    public only in development mode, where GraphiQL needs it)."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context.context
        document = self.execution_context.graphql_document
        if isinstance(context, dict) and context.get("caller") is None and document is not None:
            public = PUBLIC_ROOT_FIELDS | (INTROSPECTION if context.get("debug") else frozenset())
            fields = set(root_fields(document, self.execution_context.operation_name))
            private = sorted(fields - public)
            if private:
                self.execution_context.result = ExecutionResult(
                    data=None,
                    errors=[
                        unauthenticated(
                            f"{', '.join(private)} need an authenticated organisation: sign the "
                            "request (RFC 9421) or send a bearer token"
                        )
                    ],
                )
                response = context.get("response")
                if response is not None:
                    response.status_code = 401
        yield
