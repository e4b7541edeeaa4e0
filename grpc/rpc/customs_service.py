"""CustomsCheck: does the hub hold verified embedded emissions for an import line, and the proof.

A line is answered only when every condition holds, each with its own status: the caller is a
customs organisation, the importer is registered, a record exists for the line, it matches the
line's goods and origin, the policy allows the check (the importer holds an active grant covering
the record), and the record is verified. The answer gives what the policy discloses to customs
(figures and quality, decision 0053) and the ledger evidence: customs checks the entry's inclusion
under the log's signed checkpoint itself, with the log key alone.
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
from cbamhub.vault.record_model import annex_i, normalise_cn

from cbamhub.settings import Settings

from .access import CUSTOMS_ROLE, CachedPolicy, Disclosure, RecordPolicy
from .authentication import Authenticator, Caller
from .evidence_message import evidence_message
from .generated import customs_pb2, customs_pb2_grpc, hub_evidence_pb2
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


def _figure(value: float | None) -> Decimal:
    return Decimal(0) if value is None else Decimal(repr(value))


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
        self._evidence: dict[tuple[str, bool], tuple[StoredRecord, hub_evidence_pb2.Evidence]] = {}

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
        evidence: dict[tuple[str, bool], tuple[StoredRecord, hub_evidence_pb2.Evidence]],
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
        key = (record_id, not withheld)
        built = evidence.get(key)
        if built is None or built[0] is not stored:  # one message per read of the record
            if len(evidence) > 10_000:
                evidence.clear()
            message = evidence_message(stored, disclose=not withheld)
            built = evidence[key] = (stored, message)
        return self._answer(line, stored, state.status, built[1], disclosure, withheld)

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

    @staticmethod
    def _answer(
        line: _Line,
        stored: StoredRecord,
        status: str,
        evidence: hub_evidence_pb2.Evidence,
        disclosure: Disclosure,
        withheld: list[str],
    ) -> customs_pb2.LineCheck:
        record = stored.record
        answer = customs_pb2.LineCheck(
            line_id=line.line.line_id,
            code=0,
            record_id=stored.record_id,
            record_state=status,
            evidence=evidence,
            withheld_fields=withheld,
        )
        if disclosure.permits("data_quality_tier"):
            answer.quality_tier = record.data_quality_tier.value
        if not (
            disclosure.permits("direct_emissions") and disclosure.permits("indirect_emissions")
        ):
            return answer  # no figures the policy does not let through, not even a total
        direct = _figure(record.direct_emissions.specific_embedded_emissions_direct)
        indirect = Decimal(0)
        # Art. 7(1): indirect emissions count only outside Annex II; they are reported as counted.
        if record.indirect_emissions is not None and annex_i().indirect_counts(line.cn):
            indirect = _figure(record.indirect_emissions.specific_embedded_emissions_indirect)
        answer.see_direct = str(direct)
        answer.see_indirect = str(indirect)
        answer.see_total = str(direct + indirect)
        answer.embedded_direct = str(line.mass * direct)
        answer.embedded_indirect = str(line.mass * indirect)
        answer.embedded_total = str(line.mass * (direct + indirect))
        return answer

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
        evidence: dict[tuple[str, bool], tuple[StoredRecord, hub_evidence_pb2.Evidence]] = {}
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
