"""The GraphQL schema: the walking skeleton's publish mutation, record query and regulator views."""

from __future__ import annotations

import base64
import binascii

import strawberry
from cbamhub.ledger.log import LogError
from cbamhub.vault import publishing
from cbamhub.vault.errors import BadInput, VaultError
from cbamhub.vault.formats.report import BatchRejected
from cbamhub.vault.formats.signed import parse_signed_jsonl
from cbamhub.vault.shards import ShardRouter
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext, Info

from .anomaly_graphql import AnomalyMutation, AnomalyQuery
from .anonymous import AnonymousGuard
from .declarations import DeclarationQuery
from .errors import graphql_error
from .federation import FEDERATION_VERSION, FederatedSchema
from .graphql_types import (
    LONG_SCALAR,
    Checkpoint,
    Long,
    PublishedRecord,
    SignedRecordInput,
)
from .identities import IdentityMutation, IdentityQuery
from .operations import OperationLabel
from .record_queries import RecordQuery
from .record_reads import AccessLogWriter
from .sharing import SharingMutation, SharingQuery
from .subscriptions import Subscription


def _router(info: Info) -> ShardRouter:
    router: ShardRouter = info.context["router"]
    return router


@strawberry.type
class Query:
    @strawberry.field(description="The regions, each with its own shard and log.")
    def regions(self, info: Info) -> list[str]:
        return _router(info).regions

    @strawberry.field(description="The newest checkpoint of a region's log (final if witnessed).")
    async def checkpoint(self, info: Info, region: str, final: bool = False) -> Checkpoint:
        try:
            log = _router(info).shard(region).log
            if final:
                found = await log.final_checkpoint()
                if found is None:
                    raise BadInput(f"the {region} log has no witnessed checkpoint yet")
                return Checkpoint.from_note(region, found[1], True)
            return Checkpoint.from_note(region, await log.checkpoint(), False)
        except (VaultError, LogError) as error:
            raise graphql_error(error) from error

    @strawberry.field(description="RFC 9162 consistency proof between two sizes of a region's log.")
    async def consistency_proof(
        self,
        info: Info,
        region: str,
        from_size: Long,
        to_size: Long,
    ) -> list[str]:
        try:
            log = _router(info).shard(region).log
            if not 0 < from_size <= to_size:
                raise BadInput(f"no consistency proof from size {from_size} to {to_size}")
            proof = await log.consistency_proof(from_size, to_size)
            return [base64.b64encode(h).decode() for h in proof]
        except (VaultError, LogError) as error:
            raise graphql_error(error) from error


def _submissions(
    items: list[SignedRecordInput],
) -> tuple[list[publishing.Submission], list[dict[str, object]]]:
    """Decode the inputs; a signature that is not base64 is a problem of its row, not a crash."""
    submissions, problems = [], []
    for row, item in enumerate(items):
        try:
            signature = base64.b64decode(item.signature, validate=True)
        except binascii.Error:
            signature = b""
            problems.append(
                {"row": row, "code": "BAD_USER_INPUT", "field": "signature", "reason": "not base64"}
            )
        submissions.append(publishing.Submission(item.payload.encode(), signature, item.key_id))
    return submissions, problems


def _count(info: Info, published: list[publishing.Published]) -> None:
    metrics = info.context["request"].app.state.metrics
    for item in published:
        metrics.ingested.labels(item.region, str(item.replayed).lower()).inc()


def _published(published: publishing.Published) -> PublishedRecord:
    return PublishedRecord(
        record_id=strawberry.ID(published.record_id),
        region=published.region,
        leaf_index=Long(published.leaf_index),
        tree_size=Long(published.tree_size),
        checkpoint=published.checkpoint,
        replayed=published.replayed,
    )


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Publish a manufacturer-signed record into its home region.")
    async def publish_record(self, info: Info, input: SignedRecordInput) -> PublishedRecord:
        try:
            (submission,), problems = _submissions([input])
            if problems:
                raise BadInput("signature is not base64")
            published = await publishing.publish(
                _router(info), submission.payload, submission.signature, submission.key_id
            )
        except VaultError as error:
            raise graphql_error(error) from error
        _count(info, [published])
        return _published(published)

    @strawberry.mutation(
        description="Publish a batch of signed records atomically: one bad row rejects the batch "
        "with every bad row listed in extensions.problems; replays return the existing records."
    )
    async def publish_records(
        self, info: Info, input: list[SignedRecordInput]
    ) -> list[PublishedRecord]:
        try:
            submissions, problems = _submissions(input)
            published = await publishing.publish_batch(_router(info), submissions, problems)
        except VaultError as error:
            raise graphql_error(error) from error
        _count(info, published)
        return [_published(p) for p in published]

    @strawberry.mutation(
        description="Upload records signed on the manufacturer's side as JSON Lines "
        "({keyId, payload, signature}, base64; `cbamhub import --signed-out`): atomic like "
        "publishRecords, every problem listed with its line."
    )
    async def upload_signed_records(self, info: Info, content: str) -> list[PublishedRecord]:
        try:
            batch = parse_signed_jsonl(content.splitlines())
            if batch.problems:
                raise BatchRejected(batch.problems)
            submissions = [
                publishing.Submission(s.signed.payload, s.signed.signature, s.signed.key_id)
                for s in batch.records
            ]
            published = await publishing.publish_batch(_router(info), submissions)
        except VaultError as error:
            raise graphql_error(error) from error
        _count(info, published)
        return [_published(p) for p in published]


def _unexpected(error: GraphQLError) -> bool:
    """A resolver crashed (not a typed error we raised): hide its message from the client."""
    return error.original_error is not None and not isinstance(error.original_error, GraphQLError)


LIMITS = {"tokens": 5000, "depth": 8, "aliases": 30}
"""Per operation: lexical tokens (size), nesting depth, aliases (the usual way to multiply work in
one request). Lists are capped separately (`first` <= 500, entities per request). Generous for every
query the hub's clients send (the deepest, a record with its proof, is 3 levels)."""


LIMIT_RULES = (
    *QueryDepthLimiter(max_depth=LIMITS["depth"]).validation_rules,
    *MaxAliasesLimiter(max_alias_count=LIMITS["aliases"]).validation_rules,
)
"""The depth and alias rules, made once: each limiter instance makes a new rule class, and a new class
per request would miss strawberry's validation cache (keyed by the rules) on every request."""


class HubSchema(FederatedSchema):
    """The hub's schema, an Apollo Federation v2 subgraph (gateway/federation.py)."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log only what is unexpected: typed errors are answers, not incidents."""
        super().process_errors([e for e in errors if _unexpected(e)], execution_context)


schema = HubSchema(
    query=merge_types(
        "Query",
        (Query, RecordQuery, SharingQuery, DeclarationQuery, IdentityQuery, AnomalyQuery),
    ),
    mutation=merge_types(
        "Mutation", (Mutation, SharingMutation, IdentityMutation, AnomalyMutation)
    ),
    subscription=Subscription,
    config=StrawberryConfig(scalar_map={Long: LONG_SCALAR}),
    federation_version=FEDERATION_VERSION,
    extensions=[
        # Limits, checked on the parsed document before anything runs (see LIMITS).
        lambda: MaxTokensLimiter(max_token_count=LIMITS["tokens"]),
        lambda: AddValidationRules(list(LIMIT_RULES)),
        lambda: ParserCache(maxsize=1024),
        lambda: ValidationCache(maxsize=1024),
        OperationLabel,
        AnonymousGuard,
        AccessLogWriter,
        lambda: MaskErrors(should_mask_error=_unexpected, error_message="Internal server error"),
    ],
)
