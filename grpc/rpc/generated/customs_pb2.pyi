from cbamhub.rpc.generated import hub_evidence_pb2 as _hub_evidence_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DeclarationLine(_message.Message):
    __slots__ = ("line_id", "importer_eori", "cn_code", "net_mass", "country_of_origin", "installation_id", "manufacturer_id", "period", "record_id")
    LINE_ID_FIELD_NUMBER: _ClassVar[int]
    IMPORTER_EORI_FIELD_NUMBER: _ClassVar[int]
    CN_CODE_FIELD_NUMBER: _ClassVar[int]
    NET_MASS_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_OF_ORIGIN_FIELD_NUMBER: _ClassVar[int]
    INSTALLATION_ID_FIELD_NUMBER: _ClassVar[int]
    MANUFACTURER_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    line_id: str
    importer_eori: str
    cn_code: str
    net_mass: str
    country_of_origin: str
    installation_id: str
    manufacturer_id: str
    period: str
    record_id: str
    def __init__(self, line_id: _Optional[str] = ..., importer_eori: _Optional[str] = ..., cn_code: _Optional[str] = ..., net_mass: _Optional[str] = ..., country_of_origin: _Optional[str] = ..., installation_id: _Optional[str] = ..., manufacturer_id: _Optional[str] = ..., period: _Optional[str] = ..., record_id: _Optional[str] = ...) -> None: ...

class LineCheck(_message.Message):
    __slots__ = ("line_id", "code", "message", "record_id", "record_state", "see_direct", "see_indirect", "see_total", "quality_tier", "embedded_direct", "embedded_indirect", "embedded_total", "evidence", "withheld_fields")
    LINE_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    RECORD_STATE_FIELD_NUMBER: _ClassVar[int]
    SEE_DIRECT_FIELD_NUMBER: _ClassVar[int]
    SEE_INDIRECT_FIELD_NUMBER: _ClassVar[int]
    SEE_TOTAL_FIELD_NUMBER: _ClassVar[int]
    QUALITY_TIER_FIELD_NUMBER: _ClassVar[int]
    EMBEDDED_DIRECT_FIELD_NUMBER: _ClassVar[int]
    EMBEDDED_INDIRECT_FIELD_NUMBER: _ClassVar[int]
    EMBEDDED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    WITHHELD_FIELDS_FIELD_NUMBER: _ClassVar[int]
    line_id: str
    code: int
    message: str
    record_id: str
    record_state: str
    see_direct: str
    see_indirect: str
    see_total: str
    quality_tier: str
    embedded_direct: str
    embedded_indirect: str
    embedded_total: str
    evidence: _hub_evidence_pb2.Evidence
    withheld_fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, line_id: _Optional[str] = ..., code: _Optional[int] = ..., message: _Optional[str] = ..., record_id: _Optional[str] = ..., record_state: _Optional[str] = ..., see_direct: _Optional[str] = ..., see_indirect: _Optional[str] = ..., see_total: _Optional[str] = ..., quality_tier: _Optional[str] = ..., embedded_direct: _Optional[str] = ..., embedded_indirect: _Optional[str] = ..., embedded_total: _Optional[str] = ..., evidence: _Optional[_Union[_hub_evidence_pb2.Evidence, _Mapping]] = ..., withheld_fields: _Optional[_Iterable[str]] = ...) -> None: ...
