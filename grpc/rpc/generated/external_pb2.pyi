from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ImportLinesRequest(_message.Message):
    __slots__ = ("declarant_eori", "year")
    DECLARANT_EORI_FIELD_NUMBER: _ClassVar[int]
    YEAR_FIELD_NUMBER: _ClassVar[int]
    declarant_eori: str
    year: int
    def __init__(self, declarant_eori: _Optional[str] = ..., year: _Optional[int] = ...) -> None: ...

class CustomsImportLine(_message.Message):
    __slots__ = ("line_id", "cn_code", "net_mass", "country_of_origin", "import_date", "installation_id", "route")
    LINE_ID_FIELD_NUMBER: _ClassVar[int]
    CN_CODE_FIELD_NUMBER: _ClassVar[int]
    NET_MASS_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_OF_ORIGIN_FIELD_NUMBER: _ClassVar[int]
    IMPORT_DATE_FIELD_NUMBER: _ClassVar[int]
    INSTALLATION_ID_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    line_id: str
    cn_code: str
    net_mass: str
    country_of_origin: str
    import_date: str
    installation_id: str
    route: str
    def __init__(self, line_id: _Optional[str] = ..., cn_code: _Optional[str] = ..., net_mass: _Optional[str] = ..., country_of_origin: _Optional[str] = ..., import_date: _Optional[str] = ..., installation_id: _Optional[str] = ..., route: _Optional[str] = ...) -> None: ...

class ImportLinesResponse(_message.Message):
    __slots__ = ("lines",)
    LINES_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedCompositeFieldContainer[CustomsImportLine]
    def __init__(self, lines: _Optional[_Iterable[_Union[CustomsImportLine, _Mapping]]] = ...) -> None: ...

class RegistrySubmission(_message.Message):
    __slots__ = ("declarant_eori", "year", "declaration_id", "xml", "idempotency_key")
    DECLARANT_EORI_FIELD_NUMBER: _ClassVar[int]
    YEAR_FIELD_NUMBER: _ClassVar[int]
    DECLARATION_ID_FIELD_NUMBER: _ClassVar[int]
    XML_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    declarant_eori: str
    year: int
    declaration_id: str
    xml: bytes
    idempotency_key: str
    def __init__(self, declarant_eori: _Optional[str] = ..., year: _Optional[int] = ..., declaration_id: _Optional[str] = ..., xml: _Optional[bytes] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class RegistryStatusRequest(_message.Message):
    __slots__ = ("declarant_eori", "submission_id")
    DECLARANT_EORI_FIELD_NUMBER: _ClassVar[int]
    SUBMISSION_ID_FIELD_NUMBER: _ClassVar[int]
    declarant_eori: str
    submission_id: str
    def __init__(self, declarant_eori: _Optional[str] = ..., submission_id: _Optional[str] = ...) -> None: ...

class RegistryReceipt(_message.Message):
    __slots__ = ("submission_id", "state", "detail", "sha256", "updated_at")
    SUBMISSION_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    submission_id: str
    state: str
    detail: str
    sha256: str
    updated_at: str
    def __init__(self, submission_id: _Optional[str] = ..., state: _Optional[str] = ..., detail: _Optional[str] = ..., sha256: _Optional[str] = ..., updated_at: _Optional[str] = ...) -> None: ...

class AuctionsRequest(_message.Message):
    __slots__ = ("from_date", "to_date")
    FROM_DATE_FIELD_NUMBER: _ClassVar[int]
    TO_DATE_FIELD_NUMBER: _ClassVar[int]
    from_date: str
    to_date: str
    def __init__(self, from_date: _Optional[str] = ..., to_date: _Optional[str] = ...) -> None: ...

class Auction(_message.Message):
    __slots__ = ("auction_date", "platform", "scheme", "cancelled", "clearing_price_eur", "volume")
    AUCTION_DATE_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    CLEARING_PRICE_EUR_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    auction_date: str
    platform: str
    scheme: str
    cancelled: bool
    clearing_price_eur: str
    volume: str
    def __init__(self, auction_date: _Optional[str] = ..., platform: _Optional[str] = ..., scheme: _Optional[str] = ..., cancelled: _Optional[bool] = ..., clearing_price_eur: _Optional[str] = ..., volume: _Optional[str] = ...) -> None: ...

class AuctionsResponse(_message.Message):
    __slots__ = ("auctions",)
    AUCTIONS_FIELD_NUMBER: _ClassVar[int]
    auctions: _containers.RepeatedCompositeFieldContainer[Auction]
    def __init__(self, auctions: _Optional[_Iterable[_Union[Auction, _Mapping]]] = ...) -> None: ...
