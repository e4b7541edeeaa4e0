"""Apollo Federation v2: the hub as a subgraph an importer composes with its own graph.

A router resolves the hub's entities (Organisation, Installation, ProductLine, Record, keyed by
`id`) through `_entities(representations)`. Strawberry's own resolver calls `resolve_reference`
once per representation; here the representations of a request are capped
(`Settings.max_entities_per_request`, counted over aliased `_entities` fields too),
grouped by type and loaded through one DataLoader per type and request (records: the same
`stored_loader` the `record` query uses), so a router's batch of 500 references is one query per
shard and type, not 500. Records then pass the same decision as the `record` query: a record the
caller may not read is a FORBIDDEN error at its position, never data, and masked fields stay
masked. Organisations, installations and product lines answer as their root queries do (any
authenticated caller). Each problem is an error of its own representation; the others resolve.
"""

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final, TypeVar

import strawberry
from cbamhub.vault import installations as vault_installations
from cbamhub.vault import lookups, querying
from cbamhub.vault.errors import BadInput, NotFound, VaultError
from cbamhub.vault.identities import Organisation as VaultOrganisation
from cbamhub.vault.ids import region_of
from cbamhub.vault.querying import MAX_LIMIT, RecordSummary
from cbamhub.vault.reading import StoredRecord
from graphql import GraphQLError
from strawberry.dataloader import DataLoader
from strawberry.federation.schema import FederationAny
from strawberry.types import Info

from cbamhub.access import ref_of_stored

from .anonymous import caller_of
from .errors import graphql_error
from .identities import Installation, Organisation, ProductLine
from .record_queries import rendered, stored_loader
from .record_reads import access_of, decide, note_read, typed

_V = TypeVar("_V")

FEDERATION_VERSION: Final = "2.7"
"""The federation spec the SDL links (`@link(url: ".../federation/v2.7")`): v2 entities and keys
need no more; a pinned version keeps the SDL stable when strawberry raises its default."""

ENTITY_KINDS = {"Organisation": "org", "Installation": "ins", "ProductLine": "pl", "Record": "rec"}
"""Entity type -> the kind its ids carry (vault/ids.py)."""


def _loader(
    info: Info, name: str, load: Callable[[Any, list[str]], Awaitable[list[_V | None]]]
) -> DataLoader[str, _V | None]:
    """The request's DataLoader `name`, made on first use (one per request, like stored_loader)."""
    context: dict[str, Any] = info.context
    loader: DataLoader[str, _V | None] | None = context.get(name)
    if loader is None:
        router = context["router"]

        async def batch(ids: list[str]) -> list[_V | None]:
            return await load(router, ids)

        loader = DataLoader(load_fn=batch, max_batch_size=MAX_LIMIT)
        context[name] = loader
    return loader


def organisation_loader(info: Info) -> DataLoader[str, VaultOrganisation | None]:
    return _loader(info, "organisation_loader", lookups.organisations_by_ids)


def installation_loader(info: Info) -> DataLoader[str, vault_installations.Installation | None]:
    return _loader(info, "installation_loader", lookups.installations_by_ids)


def product_line_loader(info: Info) -> DataLoader[str, vault_installations.ProductLine | None]:
    return _loader(info, "product_line_loader", lookups.product_lines_by_ids)


def summary_loader(info: Info) -> DataLoader[str, RecordSummary | None]:
    """Records' lifecycle status (what the `record` query shows), batched like their proofs."""

    async def load(router: Any, ids: list[str]) -> list[RecordSummary | None]:
        return await querying.records_by_ids(router, ids, documents=False)

    return _loader(info, "summary_loader", load)


Resolved = Any | GraphQLError
"""An entity, or the error of its representation."""


def _not_found(type_name: str, identifier: str) -> GraphQLError:
    return graphql_error(NotFound(f"no {type_name} {identifier}"))


def _present(
    type_name: str, ids: Sequence[str], found: Sequence[_V | None], make: Callable[[_V], Any]
) -> list[Resolved]:
    return [
        make(item) if item is not None else _not_found(type_name, identifier)
        for item, identifier in zip(found, ids, strict=True)
    ]


async def _identities(info: Info, type_name: str, ids: Sequence[str]) -> list[Resolved]:
    if type_name == "Organisation":
        orgs = await organisation_loader(info).load_many(ids)
        return _present(type_name, ids, orgs, Organisation.of)
    if type_name == "Installation":
        found = await installation_loader(info).load_many(ids)
        return _present(type_name, ids, found, Installation.of)
    lines = await product_line_loader(info).load_many(ids)
    return _present(type_name, ids, lines, ProductLine.of)


async def _records(info: Info, ids: Sequence[str]) -> list[Resolved]:
    """Each record through the `record` query's decision (grants loaded once per request)."""
    try:
        stored, summaries = await asyncio.gather(
            stored_loader(info).load_many(ids), summary_loader(info).load_many(ids)
        )
        access = access_of(info)
    except Exception as error:
        raise typed(error) from error
    resolved: list[Resolved] = []
    for identifier, record, summary in zip(ids, stored, summaries, strict=True):
        resolved.append(await _record(info, identifier, record, summary, access))
    return resolved


async def _record(
    info: Info,
    identifier: str,
    stored: StoredRecord | None,
    summary: RecordSummary | None,
    access: Any,
) -> Resolved:
    if stored is None or summary is None:
        return _not_found("record", identifier)
    ref = ref_of_stored(stored)
    try:
        decision = await decide(info, ref, access)
    except GraphQLError as error:
        return error
    note_read(info, ref, decision.fields)
    return rendered(info, stored, decision.fields, summary.status.value)


def _id_of(representation: Mapping[str, Any]) -> tuple[str, str]:
    """(type name, id) of a representation, or BadInput saying what is wrong with it."""
    type_name = representation.get("__typename")
    if type_name not in ENTITY_KINDS:
        raise BadInput(f"{type_name!r} is not an entity of this subgraph")
    identifier = representation.get("id")
    if not isinstance(identifier, str):
        raise BadInput(f"a {type_name} representation needs its key field id")
    region_of(identifier, ENTITY_KINDS[type_name])
    return type_name, identifier


async def resolve_entities(
    info: Info, representations: Sequence[Mapping[str, Any]]
) -> list[Resolved]:
    """The entities in the order asked; one batched load per type."""
    context: dict[str, Any] = info.context
    limit: int = context["request"].app.state.settings.max_entities_per_request
    # Counted over the whole request: aliased `_entities` fields do not each get the cap.
    asked = context.get("entities_asked", 0) + len(representations)
    context["entities_asked"] = asked
    if asked > limit:
        raise GraphQLError(
            f"{asked} entity representations in one request; at most {limit} "
            "(max_entities_per_request): split the batch",
            extensions={"code": "BAD_USER_INPUT", "limit": limit},
        )
    caller_of(info)
    results: list[Resolved] = [None] * len(representations)
    wanted: dict[str, list[tuple[int, str]]] = {}
    for position, representation in enumerate(representations):
        try:
            type_name, identifier = _id_of(representation)
        except VaultError as error:
            results[position] = graphql_error(error)
            continue
        wanted.setdefault(type_name, []).append((position, identifier))

    async def of_type(type_name: str, ids: list[str]) -> list[Resolved]:
        if type_name == "Record":
            return await _records(info, ids)
        return await _identities(info, type_name, ids)

    found = await asyncio.gather(
        *(of_type(t, [identifier for _, identifier in items]) for t, items in wanted.items())
    )
    for items, entities in zip(wanted.values(), found, strict=True):
        for (position, _), entity in zip(items, entities, strict=True):
            results[position] = entity
    return results


class FederatedSchema(strawberry.federation.Schema):
    """A federation v2 subgraph schema whose `_entities` is capped and batched per type."""

    async def entities_resolver(  # type: ignore[override]
        self, info: Info, representations: list[FederationAny]
    ) -> list[FederationAny]:
        return await resolve_entities(info, representations)  # type: ignore[arg-type, return-value]
