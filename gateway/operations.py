"""What a GraphQL operation asks for at its root, read from the parsed document (fragments and
inline fragments followed), and the label it gets in metrics and access logs."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from strawberry.extensions import SchemaExtension

from .metrics import operation_label


def _operations(
    document: DocumentNode, operation_name: str | None
) -> list[OperationDefinitionNode]:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return [
        o
        for o in operations
        if operation_name is None or (o.name and o.name.value == operation_name)
    ]


def root_fields(document: DocumentNode, operation_name: str | None) -> Iterator[str]:
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }

    def walk(selection_set: SelectionSetNode, seen: frozenset[str]) -> Iterator[str]:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                yield selection.name.value
            elif isinstance(selection, InlineFragmentNode):
                yield from walk(selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in fragments and name not in seen:
                    yield from walk(fragments[name].selection_set, seen | {name})

    for operation in _operations(document, operation_name):
        yield from walk(operation.selection_set, frozenset())


class OperationLabel(SchemaExtension):
    """Puts the operation's label into the request state for the access log and metrics."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context.context
        document = self.execution_context.graphql_document
        if isinstance(context, dict) and document is not None and "request" in context:
            name = self.execution_context.operation_name
            chosen = _operations(document, name)
            kind = chosen[0].operation.value if chosen else "unknown"
            label = operation_label(list(root_fields(document, name)), kind)
            context["request"].scope.setdefault("state", {})["operation"] = label
        yield
