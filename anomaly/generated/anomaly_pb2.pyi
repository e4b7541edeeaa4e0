from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ScoreBatchRequest(_message.Message):
    __slots__ = ("records",)
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[ScoreRequest]
    def __init__(self, records: _Optional[_Iterable[_Union[ScoreRequest, _Mapping]]] = ...) -> None: ...

class ScoreBatchReply(_message.Message):
    __slots__ = ("scores",)
    SCORES_FIELD_NUMBER: _ClassVar[int]
    scores: _containers.RepeatedCompositeFieldContainer[ScoreReply]
    def __init__(self, scores: _Optional[_Iterable[_Union[ScoreReply, _Mapping]]] = ...) -> None: ...

class ScoreRequest(_message.Message):
    __slots__ = ("record_id", "installation_id", "route", "country", "cn_code", "see_direct", "see_indirect", "electricity_mwh_per_t", "electricity_ef", "precursor_shares", "methodology", "tier", "previous_see_direct", "previous_see_indirect", "technology_change", "copies")
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    INSTALLATION_ID_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    CN_CODE_FIELD_NUMBER: _ClassVar[int]
    SEE_DIRECT_FIELD_NUMBER: _ClassVar[int]
    SEE_INDIRECT_FIELD_NUMBER: _ClassVar[int]
    ELECTRICITY_MWH_PER_T_FIELD_NUMBER: _ClassVar[int]
    ELECTRICITY_EF_FIELD_NUMBER: _ClassVar[int]
    PRECURSOR_SHARES_FIELD_NUMBER: _ClassVar[int]
    METHODOLOGY_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_SEE_DIRECT_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_SEE_INDIRECT_FIELD_NUMBER: _ClassVar[int]
    TECHNOLOGY_CHANGE_FIELD_NUMBER: _ClassVar[int]
    COPIES_FIELD_NUMBER: _ClassVar[int]
    record_id: str
    installation_id: str
    route: str
    country: str
    cn_code: str
    see_direct: float
    see_indirect: float
    electricity_mwh_per_t: float
    electricity_ef: float
    precursor_shares: _containers.RepeatedScalarFieldContainer[float]
    methodology: int
    tier: int
    previous_see_direct: float
    previous_see_indirect: float
    technology_change: bool
    copies: int
    def __init__(self, record_id: _Optional[str] = ..., installation_id: _Optional[str] = ..., route: _Optional[str] = ..., country: _Optional[str] = ..., cn_code: _Optional[str] = ..., see_direct: _Optional[float] = ..., see_indirect: _Optional[float] = ..., electricity_mwh_per_t: _Optional[float] = ..., electricity_ef: _Optional[float] = ..., precursor_shares: _Optional[_Iterable[float]] = ..., methodology: _Optional[int] = ..., tier: _Optional[int] = ..., previous_see_direct: _Optional[float] = ..., previous_see_indirect: _Optional[float] = ..., technology_change: _Optional[bool] = ..., copies: _Optional[int] = ...) -> None: ...

class Reason(_message.Message):
    __slots__ = ("feature", "quantity", "contribution", "text")
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    feature: str
    quantity: str
    contribution: float
    text: str
    def __init__(self, feature: _Optional[str] = ..., quantity: _Optional[str] = ..., contribution: _Optional[float] = ..., text: _Optional[str] = ...) -> None: ...

class ScoreReply(_message.Message):
    __slots__ = ("record_id", "model_version", "probability", "flagged", "reasons", "rule_flagged", "rule_text", "rule_z_direct", "rule_expected_direct")
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    FLAGGED_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    RULE_FLAGGED_FIELD_NUMBER: _ClassVar[int]
    RULE_TEXT_FIELD_NUMBER: _ClassVar[int]
    RULE_Z_DIRECT_FIELD_NUMBER: _ClassVar[int]
    RULE_EXPECTED_DIRECT_FIELD_NUMBER: _ClassVar[int]
    record_id: str
    model_version: str
    probability: float
    flagged: bool
    reasons: _containers.RepeatedCompositeFieldContainer[Reason]
    rule_flagged: bool
    rule_text: str
    rule_z_direct: float
    rule_expected_direct: float
    def __init__(self, record_id: _Optional[str] = ..., model_version: _Optional[str] = ..., probability: _Optional[float] = ..., flagged: _Optional[bool] = ..., reasons: _Optional[_Iterable[_Union[Reason, _Mapping]]] = ..., rule_flagged: _Optional[bool] = ..., rule_text: _Optional[str] = ..., rule_z_direct: _Optional[float] = ..., rule_expected_direct: _Optional[float] = ...) -> None: ...
