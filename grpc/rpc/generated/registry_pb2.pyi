from cbamhub.rpc.generated import hub_evidence_pb2 as _hub_evidence_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SubmissionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SUBMISSION_STATE_UNSPECIFIED: _ClassVar[SubmissionState]
    RECEIVED: _ClassVar[SubmissionState]
    UNDER_REVIEW: _ClassVar[SubmissionState]
    ACCEPTED: _ClassVar[SubmissionState]
    REJECTED: _ClassVar[SubmissionState]
SUBMISSION_STATE_UNSPECIFIED: SubmissionState
RECEIVED: SubmissionState
UNDER_REVIEW: SubmissionState
ACCEPTED: SubmissionState
REJECTED: SubmissionState

class ImportLine(_message.Message):
    __slots__ = ("line_id", "cn_code", "net_mass", "country_of_origin", "import_date", "record_id", "installation_id", "route")
    LINE_ID_FIELD_NUMBER: _ClassVar[int]
    CN_CODE_FIELD_NUMBER: _ClassVar[int]
    NET_MASS_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_OF_ORIGIN_FIELD_NUMBER: _ClassVar[int]
    IMPORT_DATE_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    INSTALLATION_ID_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    line_id: str
    cn_code: str
    net_mass: str
    country_of_origin: str
    import_date: str
    record_id: str
    installation_id: str
    route: str
    def __init__(self, line_id: _Optional[str] = ..., cn_code: _Optional[str] = ..., net_mass: _Optional[str] = ..., country_of_origin: _Optional[str] = ..., import_date: _Optional[str] = ..., record_id: _Optional[str] = ..., installation_id: _Optional[str] = ..., route: _Optional[str] = ...) -> None: ...

class PrepareDeclarationRequest(_message.Message):
    __slots__ = ("year", "lines", "lines_from_customs", "declaration_id")
    YEAR_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    LINES_FROM_CUSTOMS_FIELD_NUMBER: _ClassVar[int]
    DECLARATION_ID_FIELD_NUMBER: _ClassVar[int]
    year: int
    lines: _containers.RepeatedCompositeFieldContainer[ImportLine]
    lines_from_customs: bool
    declaration_id: str
    def __init__(self, year: _Optional[int] = ..., lines: _Optional[_Iterable[_Union[ImportLine, _Mapping]]] = ..., lines_from_customs: _Optional[bool] = ..., declaration_id: _Optional[str] = ...) -> None: ...

class PreparedDeclaration(_message.Message):
    __slots__ = ("declaration_id", "declarant_eori", "xml", "json", "sha256", "embedded_emissions", "certificates", "cost_eur", "gaps", "commitments", "lines")
    DECLARATION_ID_FIELD_NUMBER: _ClassVar[int]
    DECLARANT_EORI_FIELD_NUMBER: _ClassVar[int]
    XML_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    EMBEDDED_EMISSIONS_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATES_FIELD_NUMBER: _ClassVar[int]
    COST_EUR_FIELD_NUMBER: _ClassVar[int]
    GAPS_FIELD_NUMBER: _ClassVar[int]
    COMMITMENTS_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    declaration_id: str
    declarant_eori: str
    xml: bytes
    json: str
    sha256: str
    embedded_emissions: str
    certificates: str
    cost_eur: str
    gaps: _containers.RepeatedScalarFieldContainer[str]
    commitments: _containers.RepeatedScalarFieldContainer[str]
    lines: int
    def __init__(self, declaration_id: _Optional[str] = ..., declarant_eori: _Optional[str] = ..., xml: _Optional[bytes] = ..., json: _Optional[str] = ..., sha256: _Optional[str] = ..., embedded_emissions: _Optional[str] = ..., certificates: _Optional[str] = ..., cost_eur: _Optional[str] = ..., gaps: _Optional[_Iterable[str]] = ..., commitments: _Optional[_Iterable[str]] = ..., lines: _Optional[int] = ...) -> None: ...

class SubmitDeclarationRequest(_message.Message):
    __slots__ = ("year", "declaration_id", "xml", "idempotency_key")
    YEAR_FIELD_NUMBER: _ClassVar[int]
    DECLARATION_ID_FIELD_NUMBER: _ClassVar[int]
    XML_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    year: int
    declaration_id: str
    xml: bytes
    idempotency_key: str
    def __init__(self, year: _Optional[int] = ..., declaration_id: _Optional[str] = ..., xml: _Optional[bytes] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class Submission(_message.Message):
    __slots__ = ("submission_id", "state", "detail", "sha256", "updated_at")
    SUBMISSION_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    submission_id: str
    state: SubmissionState
    detail: str
    sha256: str
    updated_at: str
    def __init__(self, submission_id: _Optional[str] = ..., state: _Optional[_Union[SubmissionState, str]] = ..., detail: _Optional[str] = ..., sha256: _Optional[str] = ..., updated_at: _Optional[str] = ...) -> None: ...

class GetSubmissionRequest(_message.Message):
    __slots__ = ("submission_id",)
    SUBMISSION_ID_FIELD_NUMBER: _ClassVar[int]
    submission_id: str
    def __init__(self, submission_id: _Optional[str] = ...) -> None: ...

class CertificatePriceRequest(_message.Message):
    __slots__ = ("import_date",)
    IMPORT_DATE_FIELD_NUMBER: _ClassVar[int]
    import_date: str
    def __init__(self, import_date: _Optional[str] = ...) -> None: ...

class CertificatePrice(_message.Message):
    __slots__ = ("import_date", "period", "eur_per_certificate", "status", "source", "auctions", "window_start", "window_end")
    IMPORT_DATE_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    EUR_PER_CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    AUCTIONS_FIELD_NUMBER: _ClassVar[int]
    WINDOW_START_FIELD_NUMBER: _ClassVar[int]
    WINDOW_END_FIELD_NUMBER: _ClassVar[int]
    import_date: str
    period: str
    eur_per_certificate: str
    status: str
    source: str
    auctions: int
    window_start: str
    window_end: str
    def __init__(self, import_date: _Optional[str] = ..., period: _Optional[str] = ..., eur_per_certificate: _Optional[str] = ..., status: _Optional[str] = ..., source: _Optional[str] = ..., auctions: _Optional[int] = ..., window_start: _Optional[str] = ..., window_end: _Optional[str] = ...) -> None: ...

class CarbonPricePaidRequest(_message.Message):
    __slots__ = ("record_id",)
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    record_id: str
    def __init__(self, record_id: _Optional[str] = ...) -> None: ...

class CarbonPricePaid(_message.Message):
    __slots__ = ("type_of_instrument", "amount", "currency", "country_code", "legal_act", "independent_person")
    TYPE_OF_INSTRUMENT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_CODE_FIELD_NUMBER: _ClassVar[int]
    LEGAL_ACT_FIELD_NUMBER: _ClassVar[int]
    INDEPENDENT_PERSON_FIELD_NUMBER: _ClassVar[int]
    type_of_instrument: str
    amount: str
    currency: str
    country_code: str
    legal_act: str
    independent_person: str
    def __init__(self, type_of_instrument: _Optional[str] = ..., amount: _Optional[str] = ..., currency: _Optional[str] = ..., country_code: _Optional[str] = ..., legal_act: _Optional[str] = ..., independent_person: _Optional[str] = ...) -> None: ...

class CarbonPricePaidEvidence(_message.Message):
    __slots__ = ("record_id", "items", "evidence", "withheld_fields")
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    WITHHELD_FIELDS_FIELD_NUMBER: _ClassVar[int]
    record_id: str
    items: _containers.RepeatedCompositeFieldContainer[CarbonPricePaid]
    evidence: _hub_evidence_pb2.Evidence
    withheld_fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, record_id: _Optional[str] = ..., items: _Optional[_Iterable[_Union[CarbonPricePaid, _Mapping]]] = ..., evidence: _Optional[_Union[_hub_evidence_pb2.Evidence, _Mapping]] = ..., withheld_fields: _Optional[_Iterable[str]] = ...) -> None: ...
