"""CustomsCheck: does the hub hold verified embedded emissions for an import line, and the proof.

A line is answered only when every condition holds, each with its own status: the caller is a
customs organisation, the importer is registered, a record exists for the line, it matches the
line's goods and origin, the policy allows the check (the importer holds an active grant covering
the record), and the record is verified. The answer gives what the policy discloses to customs
(figures and quality, decision 0053) and the ledger evidence: the entry's inclusion under the log's
signed checkpoint and the selective disclosure of the members customs may see (decision 0055), from
which customs recomputes the figures itself (`customs_verification.verify_line_check`), with the
log key alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import grpc
from cbamhub.vault.errors import BadInput, Forbidden
from cbamhub.vault.reading import StoredRecord
from cbamhub.vault.record_model import normalise_cn

from cbamhub.settings import Settings

from .access import CUSTOMS_ROLE, CachedPolicy, RecordPolicy
from .authentication import Authenticator, Caller
from .evidence_message import evidence_message
from .generated import customs_pb2, customs_pb2_grpc, hub_evidence_pb2
from .line_figures import SpecificFigures, specific_figures
from .record_access import VERIFIED, CachedRecordAccess, LineKey, RecordAccess, normalise_period
from .status import RpcError, abort, line_code

CHECK_LINE = "/cbamhub.customs.v1.CustomsCheck/CheckLine"
CHECK_CONSIGNMENT = "/cbamhub.customs.v1.CustomsCheck/CheckConsignment"


def _bad(field: str, reason: str) -> BadInput:
    return BadInput(f"{field}: {reason}", {"problems": [{"field": field, "reason": reason}]})


def _decimal(text: str, field: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _bad(field, f"{text!r} is not a decimal number") from None
    if not value.is_finite() or value <= 0:
        raise _bad(field, "must be a positive number")
    return value


@dataclass(frozen=True)
class _Built:
    stored: StoredRecord
    evidence: hub_evidence_pb2.Evidence
    figures: SpecificFigures


@dataclass(frozen=True)
class _Line:
    line: customs_pb2.DeclarationLine
    cn: str
    mass: Decimal
    country: str


def _parse(line: customs_pb2.DeclarationLine) -> _Line:
    cn = str(normalise_cn(line.cn_code))
    if len(cn) != 8 or not cn.isdigit():
        raise _bad("cn_code", f"{line.cn_code!r} is not an 8-digit CN code")
    country = line.country_of_origin.strip().upper()
    if len(country) != 2 or not country.isalpha():
        raise _bad("country_of_origin", "an ISO 3166-1 alpha-2 code")
    if not line.importer_eori.strip():
        raise _bad("importer_eori", "required")
    return _Line(line, cn, _decimal(line.net_mass, "net_mass"), country)


class CustomsCheckService(customs_pb2_grpc.CustomsCheckServicer):
    def __init__(
        self,
        settings: Settings,
        authenticator: Authenticator,
        policy: RecordPolicy,
        records: RecordAccess,
    ) -> None:
        self._settings = settings
        self._authenticator = authenticator
        self._policy = policy
        self._records = records
        self._evidence: dict[tuple[str, tuple[str, ...]], _Built] = {}

    async def _caller(
        self, context: grpc.aio.ServicerContext[Any, Any], method: str, request: Any
    ) -> Caller:
        caller = await self._authenticator.authenticate(context, method, request)
        # The policy decides each line; this gate only spares a non-customs caller's stream the
        # per-line work (and tells it once, as the stream's status).
        if caller.role != CUSTOMS_ROLE:
            raise Forbidden(
                f"customs checks are for customs organisations; {caller.organisation_id} is a "
                f"{caller.role}"
            )
        return caller

    async def check(
        self,
        caller: Caller,
        policy: RecordPolicy,
        records: RecordAccess,
        raw: customs_pb2.DeclarationLine,
        evidence: dict[tuple[str, tuple[str, ...]], _Built],
    ) -> customs_pb2.LineCheck:
        """One line's answer; raises the vault's typed errors (or RpcError) when it cannot be given."""
        line = _parse(raw)
        importer_id = await records.importer(raw.importer_eori.strip())
        record_id = raw.record_id.strip() or await records.find(
            LineKey(
                line.country,
                line.cn,
                normalise_period(raw.period),
                raw.installation_id.strip() or None,
                raw.manufacturer_id.strip() or None,
            )
        )
        stored = await records.read(record_id)
        self._matches(line, stored)
        disclosure = await policy.customs_check(caller, importer_id, stored)
        state = await records.state(record_id)
        if state.status != VERIFIED:
            successor = f"; superseded by {state.superseded_by}" if state.superseded_by else ""
            raise RpcError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"record {record_id} is {state.status}, not verified{successor}",
            )
        withheld = disclosure.withheld(stored.document)
        key = (record_id, tuple(withheld))  # each view of a record has its own disclosure
        built = evidence.get(key)
        if built is None or built.stored is not stored:  # once per read of the record
            if len(evidence) > 10_000:
                evidence.clear()
            built = evidence[key] = self._build(stored, line.cn, withheld)
        figures = built.figures.for_mass(line.mass)
        return customs_pb2.LineCheck(
            line_id=raw.line_id,
            code=0,
            record_id=stored.record_id,
            record_state=state.status,
            evidence=built.evidence,
            withheld_fields=withheld,
            quality_tier=figures.quality_tier,
            see_direct=figures.see_direct,
            see_indirect=figures.see_indirect,
            see_total=figures.see_total,
            embedded_direct=figures.embedded_direct,
            embedded_indirect=figures.embedded_indirect,
            embedded_total=figures.embedded_total,
        )

    @staticmethod
    def _build(stored: StoredRecord, cn: str, withheld: list[str]) -> _Built:
        """The evidence and the figures of a record as this caller sees it. The figures come from
        the members customs sees, exactly as customs recomputes them from the disclosure."""
        hidden = set(withheld)
        members = {k: v for k, v in stored.document.items() if k not in hidden}
        visible = list(members) if hidden else None
        return _Built(
            stored,
            evidence_message(stored, visible=visible),
            specific_figures(members, hidden, cn),
        )

    @staticmethod
    def _matches(line: _Line, stored: StoredRecord) -> None:
        record = stored.record
        if record.cn_code != line.cn:
            raise _bad("cn_code", f"record {stored.record_id} is for CN {record.cn_code}")
        if record.country_code != line.country:
            raise _bad(
                "country_of_origin",
                f"record {stored.record_id} is of an installation in {record.country_code}",
            )

    def _deadline(self, context: grpc.aio.ServicerContext[Any, Any]) -> float:
        remaining = context.time_remaining()
        cap = self._settings.grpc_max_call_seconds
        return cap if remaining is None else min(cap, remaining)

    async def CheckLine(
        self,
        request: customs_pb2.DeclarationLine,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> customs_pb2.LineCheck:
        try:
            async with asyncio.timeout(self._deadline(context)):
                caller = await self._caller(context, CHECK_LINE, request)
                return await self.check(
                    caller, self._policy, self._records, request, self._evidence
                )
        except Exception as error:  # every failure leaves as a status, never a traceback
            await abort(context, error)

    async def CheckConsignment(
        self,
        request_iterator: AsyncIterator[customs_pb2.DeclarationLine],
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> AsyncIterator[customs_pb2.LineCheck]:
        # One consistent view per consignment: each record, grant and state is read once.
        records = CachedRecordAccess(self._records, float("inf"))
        policy = CachedPolicy(self._policy, float("inf"))
        evidence: dict[tuple[str, tuple[str, ...]], _Built] = {}
        loop = asyncio.get_running_loop()
        ends_at = loop.time() + self._deadline(context)
        try:
            caller = await self._caller(context, CHECK_CONSIGNMENT, None)
            async for raw in request_iterator:
                if loop.time() > ends_at:
                    raise TimeoutError
                try:
                    answer = await self.check(caller, policy, records, raw, evidence)
                except Exception as error:  # the line's own failure: the others go on
                    code, message = line_code(error)
                    answer = customs_pb2.LineCheck(line_id=raw.line_id, code=code, message=message)
                yield answer
        except Exception as error:
            await abort(context, error)
