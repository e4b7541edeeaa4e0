from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Evidence(_message.Message):
    __slots__ = ("document", "salt", "entry", "leaf_index", "tree_size", "proof", "checkpoint", "final", "region", "disclosure")
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    SALT_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    LEAF_INDEX_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    DISCLOSURE_FIELD_NUMBER: _ClassVar[int]
    document: bytes
    salt: bytes
    entry: bytes
    leaf_index: int
    tree_size: int
    proof: _containers.RepeatedScalarFieldContainer[bytes]
    checkpoint: str
    final: bool
    region: str
    disclosure: SelectiveDisclosure
    def __init__(self, document: _Optional[bytes] = ..., salt: _Optional[bytes] = ..., entry: _Optional[bytes] = ..., leaf_index: _Optional[int] = ..., tree_size: _Optional[int] = ..., proof: _Optional[_Iterable[bytes]] = ..., checkpoint: _Optional[str] = ..., final: _Optional[bool] = ..., region: _Optional[str] = ..., disclosure: _Optional[_Union[SelectiveDisclosure, _Mapping]] = ...) -> None: ...

class SelectiveDisclosure(_message.Message):
    __slots__ = ("disclosed", "withheld")
    DISCLOSED_FIELD_NUMBER: _ClassVar[int]
    WITHHELD_FIELD_NUMBER: _ClassVar[int]
    disclosed: _containers.RepeatedCompositeFieldContainer[DisclosedField]
    withheld: _containers.RepeatedCompositeFieldContainer[WithheldField]
    def __init__(self, disclosed: _Optional[_Iterable[_Union[DisclosedField, _Mapping]]] = ..., withheld: _Optional[_Iterable[_Union[WithheldField, _Mapping]]] = ...) -> None: ...

class DisclosedField(_message.Message):
    __slots__ = ("name", "value", "salt")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    SALT_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: bytes
    salt: bytes
    def __init__(self, name: _Optional[str] = ..., value: _Optional[bytes] = ..., salt: _Optional[bytes] = ...) -> None: ...

class WithheldField(_message.Message):
    __slots__ = ("name", "digest")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    name: str
    digest: str
    def __init__(self, name: _Optional[str] = ..., digest: _Optional[str] = ...) -> None: ...
