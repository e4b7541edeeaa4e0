from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class Evidence(_message.Message):
    __slots__ = ("document", "salt", "entry", "leaf_index", "tree_size", "proof", "checkpoint", "final", "region")
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    SALT_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    LEAF_INDEX_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    document: bytes
    salt: bytes
    entry: bytes
    leaf_index: int
    tree_size: int
    proof: _containers.RepeatedScalarFieldContainer[bytes]
    checkpoint: str
    final: bool
    region: str
    def __init__(self, document: _Optional[bytes] = ..., salt: _Optional[bytes] = ..., entry: _Optional[bytes] = ..., leaf_index: _Optional[int] = ..., tree_size: _Optional[int] = ..., proof: _Optional[_Iterable[bytes]] = ..., checkpoint: _Optional[str] = ..., final: _Optional[bool] = ..., region: _Optional[str] = ...) -> None: ...
