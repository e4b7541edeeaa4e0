"""Registry: the importer's declaration to a CBAM registry, certificate prices, Art. 9 evidence.

The declaration is computed by the jurisdiction modules from the importer's lines (given, or
fetched from the customs system); a line naming a hub record uses its verified SEE and ledger
commitment, under the same grant and lifecycle rules as a customs check. The registry, customs and
auction-feed systems are reached through their adapters (external_systems.py).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import grpc
from cbamhub.jurisdictions.declaration import ImportLine, declare
from cbamhub.jurisdictions.documents import (
    DocumentError,
    annual_declaration_xml,
    declaration_json,
    validate,
)
from cbamhub.jurisdictions.inputs import InputError, parse_line
from cbamhub.jurisdictions.rulebook import FigureMissing, Rulebook
from cbamhub.jurisdictions.see import SEE
from cbamhub.ledger.statements import Statement
from cbamhub.vault.errors import BadInput, Forbidden
from cbamhub.vault.ids import new_id
from cbamhub.vault.record_model import CarbonPricePaid
from pydantic import ValidationError

from cbamhub.settings import Settings

from .access import RecordPolicy
from .authentication import Authenticator, Caller
from .evidence_message import evidence_message
from .external_systems import ExternalSystems
from .generated import registry_pb2, registry_pb2_grpc
from .price_averaging import price_window, volume_weighted_average
from .record_access import VERIFIED, RecordAccess
from .status import RpcError, abort

SERVICE = "/cbamhub.registry.v1.Registry/"
MAX_LINES = 100_000

_STATES = {
    "RECEIVED": registry_pb2.RECEIVED,
    "UNDER_REVIEW": registry_pb2.UNDER_REVIEW,
    "ACCEPTED": registry_pb2.ACCEPTED,
    "REJECTED": registry_pb2.REJECTED,
}


CARBON_PRICE_PAID = "carbonPricePaid"


def carbon_price_items(member: Any) -> list[registry_pb2.CarbonPricePaid]:
    """The answer's items from a record's `carbonPricePaid` member (KIT form): the server answers
    with this and a client recomputes the items from the member it verified (decision 0055).
    Raises ValueError when the member is not a list of carbon prices paid."""
    if not isinstance(member, list):
        raise ValueError(f"{CARBON_PRICE_PAID} is not a list")
    try:
        paid = [CarbonPricePaid.model_validate(item) for item in member]
    except ValidationError as error:
        raise ValueError(f"{CARBON_PRICE_PAID}: {error}") from error
    return [
        registry_pb2.CarbonPricePaid(
            type_of_instrument=p.type_of_instrument,
            amount=repr(p.amount_of_carbon_price_paid),
            currency=p.currency,
            country_code=p.country_code,
            legal_act=p.description_and_indication_of_legal_act or "",
            independent_person=f"{p.independent_person_id.key}={p.independent_person_id.value}",
        )
        for p in paid
    ]


def _unconfigured(system: str) -> RpcError:
    return RpcError(grpc.StatusCode.FAILED_PRECONDITION, f"no {system} is configured for this hub")


def _parse_date(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadInput(
            f"{field}: {text!r} is not a date (YYYY-MM-DD)",
            {"problems": [{"field": field, "reason": "malformed"}]},
        ) from None


class RegistryService(registry_pb2_grpc.RegistryServicer):
    def __init__(
        self,
        settings: Settings,
        authenticator: Authenticator,
        policy: RecordPolicy,
        records: RecordAccess,
        external: ExternalSystems,
        rulebook: Rulebook,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ) -> None:
        self._settings = settings
        self._authenticator = authenticator
        self._policy = policy
        self._records = records
        self._external = external
        self._rulebook = rulebook
        self._today = today

    async def _caller(
        self, context: grpc.aio.ServicerContext[Any, Any], name: str, request: Any
    ) -> Caller:
        return await self._authenticator.authenticate(context, SERVICE + name, request)

    def _deadline(self, context: grpc.aio.ServicerContext[Any, Any]) -> float:
        remaining = context.time_remaining()
        cap = self._settings.grpc_max_call_seconds
        return cap if remaining is None else min(cap, remaining)

    @staticmethod
    def _declarant(caller: Caller) -> str:
        if caller.role != "importer" or not caller.eori:
            raise Forbidden("only an importer with an EORI declares")
        return caller.eori

    # --- declarations ------------------------------------------------------------------------

    async def _lines(
        self, caller: Caller, request: registry_pb2.PrepareDeclarationRequest
    ) -> list[ImportLine]:
        eori = self._declarant(caller)
        raw: list[dict[str, str]] = [
            {
                "line_id": x.line_id,
                "cn": x.cn_code,
                "net_mass": x.net_mass,
                "origin": x.country_of_origin,
                "import_date": x.import_date,
                "installation_id": x.installation_id,
                "route": x.route,
                "record_id": x.record_id,
            }
            for x in request.lines
        ]
        if request.lines_from_customs:
            if request.lines:
                raise BadInput("give lines, or lines_from_customs, not both")
            if self._external.customs is None:
                raise _unconfigured("customs declarations system")
            fetched = await self._external.customs.import_lines(eori, request.year)
            raw = [
                {
                    "line_id": x.line_id,
                    "cn": x.cn_code,
                    "net_mass": x.net_mass,
                    "origin": x.country_of_origin,
                    "import_date": x.import_date,
                    "installation_id": x.installation_id,
                    "route": x.route,
                    "record_id": "",
                }
                for x in fetched
            ]
        if len(raw) > MAX_LINES:
            raise BadInput(f"at most {MAX_LINES} lines per declaration")
        lines = []
        for i, row in enumerate(raw):
            record_id = row.pop("record_id")
            fields = {k: v for k, v in row.items() if v}
            try:
                line = parse_line(fields, f"line {i} ({row['line_id']})")
            except InputError as error:
                raise BadInput(str(error)) from error
            if record_id:
                line = await self._with_record(caller, line, record_id)
            lines.append(line)
        if len({ln.line_id for ln in lines}) != len(lines):
            raise BadInput("line_id values must be unique")
        return lines

    async def _with_record(self, caller: Caller, line: ImportLine, record_id: str) -> ImportLine:
        stored = await self._records.read(record_id)
        disclosure = await self._policy.read(caller, stored)
        if not (
            disclosure.permits("direct_emissions") and disclosure.permits("indirect_emissions")
        ):
            raise Forbidden(
                f"line {line.line_id}: the grant does not share record {record_id}'s SEE"
            )
        state = await self._records.state(record_id)
        if state.status != VERIFIED:
            raise RpcError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"line {line.line_id}: record {record_id} is {state.status}, not verified",
            )
        record = stored.record
        if not record.cn_code.startswith(line.cn):
            raise BadInput(f"line {line.line_id}: record {record_id} is for CN {record.cn_code}")
        indirect = record.indirect_emissions
        missing = {m.field.value for m in record.missing_data}
        actual = None
        # a declared gap in indirect emissions is never read as zero: the line uses defaults
        if indirect is not None or "indirectEmissions" not in missing:
            actual = SEE(
                Decimal(repr(record.direct_emissions.specific_embedded_emissions_direct)),
                Decimal(0)
                if indirect is None
                else Decimal(repr(indirect.specific_embedded_emissions_indirect)),
            )
        return ImportLine(
            line.line_id, line.cn, line.net_mass, line.origin, line.import_date,
            actual_see=actual, installation_id=line.installation_id or record.installation_id,
            route=line.route, carbon_price=line.carbon_price,
            commitment=Statement.parse(stored.evidence.entry).commitment,
        )  # fmt: skip

    async def PrepareDeclaration(
        self,
        request: registry_pb2.PrepareDeclarationRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> registry_pb2.PreparedDeclaration:
        try:
            async with asyncio.timeout(self._deadline(context)):
                caller = await self._caller(context, "PrepareDeclaration", request)
                if not 2026 <= request.year <= 2100:
                    raise BadInput(f"year {request.year}: the definitive period starts in 2026")
                lines = await self._lines(caller, request)
                eori = self._declarant(caller)
                known = max(v.recorded_at for v in self._rulebook.versions)
                try:
                    declaration = declare(eori, request.year, lines, self._rulebook, known_at=known)
                except (ValueError, FigureMissing) as error:
                    raise BadInput(str(error)) from error
                declaration_id = request.declaration_id or new_id("decl", caller.region)
                # XML building and XSD validation are CPU work: off the event loop
                xml = await asyncio.to_thread(annual_declaration_xml, declaration, declaration_id)
                cost = declaration.cost_eur
                return registry_pb2.PreparedDeclaration(
                    declaration_id=declaration_id,
                    declarant_eori=eori,
                    xml=xml,
                    json=declaration_json(declaration),
                    sha256=hashlib.sha256(xml).hexdigest(),
                    embedded_emissions=str(declaration.embedded_emissions),
                    certificates=str(declaration.certificates),
                    cost_eur="" if cost is None else str(cost),
                    gaps=list(declaration.gaps),
                    commitments=list(declaration.commitments),
                    lines=len(declaration.lines),
                )
        except Exception as error:
            await abort(context, error)

    @staticmethod
    def _submission(receipt: Any) -> registry_pb2.Submission:
        return registry_pb2.Submission(
            submission_id=receipt.submission_id,
            state=_STATES.get(receipt.state, registry_pb2.SUBMISSION_STATE_UNSPECIFIED),
            detail=receipt.detail,
            sha256=receipt.sha256,
            updated_at=receipt.updated_at,
        )

    async def SubmitDeclaration(
        self,
        request: registry_pb2.SubmitDeclarationRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> registry_pb2.Submission:
        try:
            async with asyncio.timeout(self._deadline(context)):
                caller = await self._caller(context, "SubmitDeclaration", request)
                eori = self._declarant(caller)
                if not request.idempotency_key or not request.declaration_id:
                    raise BadInput("declaration_id and idempotency_key are required")
                try:
                    await asyncio.to_thread(validate, request.xml)
                except DocumentError as error:
                    raise BadInput(f"the declaration XML is not valid: {error}") from error
                if self._external.registry is None:
                    raise _unconfigured("CBAM registry")
                receipt = await self._external.registry.submit(
                    eori, request.year, request.declaration_id, request.xml, request.idempotency_key
                )
                return self._submission(receipt)
        except Exception as error:
            await abort(context, error)

    async def GetSubmission(
        self,
        request: registry_pb2.GetSubmissionRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> registry_pb2.Submission:
        try:
            async with asyncio.timeout(self._deadline(context)):
                caller = await self._caller(context, "GetSubmission", request)
                eori = self._declarant(caller)
                if not request.submission_id:
                    raise BadInput("submission_id is required")
                if self._external.registry is None:
                    raise _unconfigured("CBAM registry")
                receipt = await self._external.registry.status(eori, request.submission_id)
                return self._submission(receipt)
        except Exception as error:
            await abort(context, error)

    # --- prices and Art. 9 evidence ------------------------------------------------------------

    async def certificate_price(self, day: date) -> registry_pb2.CertificatePrice:
        """The rule figure when the reference has it; else the auction feed's average, once the
        price's window has closed (the Commission publishes it only after)."""
        window = price_window(day)
        try:
            rules = self._rulebook.at(day)
        except FigureMissing as error:
            raise RpcError(grpc.StatusCode.NOT_FOUND, str(error)) from error
        figure = rules.get(window.key)
        if figure is not None:
            return registry_pb2.CertificatePrice(
                import_date=day.isoformat(),
                period=window.period,
                eur_per_certificate=str(figure.value),
                status=figure.status.value,
                source=figure.source,
                window_start=window.first.isoformat(),
                window_end=window.last.isoformat(),
            )
        if self._today() <= window.last:
            raise RpcError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"the {window.period} price is not published yet: its auction window ends "
                f"{window.last}",
            )
        if self._external.price_feed is None:
            raise RpcError(
                grpc.StatusCode.NOT_FOUND,
                f"{window.key} is not in the rule data and no auction price feed is configured",
            )
        auctions = await self._external.price_feed.auctions(window.first, window.last)
        average = volume_weighted_average(auctions, window)
        if average is None:
            raise RpcError(
                grpc.StatusCode.NOT_FOUND,
                f"the auction feed has no counted ETS1 auction from {window.first} to "
                f"{window.last}",
            )
        return registry_pb2.CertificatePrice(
            import_date=day.isoformat(),
            period=window.period,
            eur_per_certificate=str(average.eur),
            status="COMPUTED",
            source="volume-weighted average of EU ETS (ETS1) auction clearing prices, cancelled "
            "and ETS2 auctions excluded (Impl. Reg. (EU) 2025/2548), from the auction price feed",
            auctions=average.auctions,
            window_start=window.first.isoformat(),
            window_end=window.last.isoformat(),
        )

    async def GetCertificatePrice(
        self,
        request: registry_pb2.CertificatePriceRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> registry_pb2.CertificatePrice:
        try:
            async with asyncio.timeout(self._deadline(context)):
                await self._caller(context, "GetCertificatePrice", request)
                day = _parse_date(request.import_date, "import_date")
                try:
                    return await self.certificate_price(day)
                except ValueError as error:  # before 2026: no certificate price at all
                    raise BadInput(str(error)) from error
        except Exception as error:
            await abort(context, error)

    async def GetCarbonPricePaid(
        self,
        request: registry_pb2.CarbonPricePaidRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> registry_pb2.CarbonPricePaidEvidence:
        try:
            async with asyncio.timeout(self._deadline(context)):
                caller = await self._caller(context, "GetCarbonPricePaid", request)
                stored = await self._records.read(request.record_id)
                disclosure = await self._policy.read(caller, stored)
                if not disclosure.permits("carbon_price_paid"):
                    raise Forbidden(
                        f"the carbon price paid of record {request.record_id} is not shared "
                        "with this caller"
                    )
                withheld = disclosure.withheld(stored.document)
                visible = [k for k in stored.document if k not in withheld] if withheld else None
                return registry_pb2.CarbonPricePaidEvidence(
                    record_id=stored.record_id,
                    # from the disclosed member, as the caller recomputes them (decision 0055)
                    items=carbon_price_items(stored.document.get(CARBON_PRICE_PAID, [])),
                    evidence=evidence_message(stored, visible=visible),
                    withheld_fields=withheld,
                )
        except Exception as error:
            await abort(context, error)
